package gcp

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// TestClientValidationRefused: a listener asking for client certificate
// validation is refused by name (the backstop: Capabilities leaves it out).
func TestClientValidationRefused(t *testing.T) {
	m := testModel()
	m.Listeners[1].ClientValidation = &lb.ClientValidation{Mode: lb.ClientValidationAllowValidOnly, CABundles: []lb.CABundle{{Name: "default/ca", PEM: []byte("ca")}}}
	_, _, err := desired(m, testLoc, nil)
	var ie *providers.InvalidError
	if !errors.As(err, &ie) || !slices.Equal(ie.Elements, []string{"https-443"}) || !strings.Contains(err.Error(), "ServerTlsPolicy of the Network Security API") {
		t.Errorf("desired = %v, want https-443 refused naming ServerTlsPolicy", err)
	}
	if c := capabilities(); c.ClientValidation || c.ClientValidationInsecureFallback || c.Retry || c.CORS || c.BackendURLRewrite || c.RedirectPort || c.FullPathRewriteOnAnyMatch {
		t.Errorf("capabilities claim what the provider refuses: %+v", c)
	}
}
