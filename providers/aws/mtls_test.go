package aws

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// TestClientValidationRefused: a listener asking for client certificate
// validation is refused by name, never served without it (mapping does
// not send one: Capabilities leaves it out; this is the backstop).
func TestClientValidationRefused(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []lb.ClientValidationMode{lb.ClientValidationAllowValidOnly, lb.ClientValidationAllowInsecureFallback} {
		m := httpsModel(nil, nil)
		m.Listeners[0].ClientValidation = &lb.ClientValidation{Mode: mode, CABundles: []lb.CABundle{{Name: "shop/ca", PEM: []byte("ca")}}}
		_, err := p.desired(m, []string{"subnet-1", "subnet-2"})
		var ie *providers.InvalidError
		if !errors.As(err, &ie) || !slices.Equal(ie.Elements, []string{m.Listeners[0].Name}) ||
			!strings.Contains(err.Error(), "ALB mutual TLS needs a trust store made from a CA bundle in S3") {
			t.Errorf("%s: desired = %v, want the listener refused for its trust store", mode, err)
		}
	}
	if c := p.Capabilities(); c.ClientValidation || c.ClientValidationInsecureFallback || c.Retry || c.CORS || c.StaticAddresses || c.BackendURLRewrite {
		t.Errorf("capabilities claim what the provider refuses: %+v", c)
	}
}
