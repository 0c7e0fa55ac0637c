package gcp

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// TestRedirectToHTTPFromHTTPSRefused: GCP's redirect cannot switch https
// back to http; such a rule is refused by name, not served as a redirect
// that keeps https. The same redirect on an HTTP listener is served.
func TestRedirectToHTTPFromHTTPSRefused(t *testing.T) {
	m := testModel()
	https := &m.Listeners[1].VirtualHosts[0]
	https.Rules[0].Action = lb.Action{Redirect: &lb.Redirect{Scheme: "http", StatusCode: 301}}
	_, _, err := desired(m, testLoc, nil)
	var ie *providers.InvalidError
	if !errors.As(err, &ie) || !slices.Equal(ie.Elements, []string{https.Rules[0].Name}) || !strings.Contains(err.Error(), "a redirect from https to http") {
		t.Errorf("desired = %v, want %s refused: a redirect from https to http", err, https.Rules[0].Name)
	}
	m = testModel()
	m.Listeners[0].VirtualHosts[1].Rules[2].Action = lb.Action{Redirect: &lb.Redirect{Scheme: "http", StatusCode: 301}}
	if _, _, err := desired(m, testLoc, nil); err != nil {
		t.Errorf("a redirect to http on an HTTP listener: %v", err)
	}
}
