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

// A redirect to https on an HTTPS listener leaves httpsRedirect unset (the
// API does not permit it on a target HTTPS proxy's URL map, and the
// request's scheme is https already); on an HTTP listener it sets it.
func TestHTTPSRedirectOnlyOnHTTPListeners(t *testing.T) {
	m := testModel()
	m.Listeners[1].VirtualHosts[0].Rules[0].Action = lb.Action{Redirect: &lb.Redirect{Scheme: "https", Hostname: "other.example.com", StatusCode: 301}}
	m.Listeners[0].VirtualHosts[1].Rules[2].Action = lb.Action{Redirect: &lb.Redirect{Scheme: "https", StatusCode: 301}}
	s, _, err := desired(m, testLoc, nil)
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, um := range s.URLMaps {
		for _, pm := range um.GetPathMatchers() {
			for _, rr := range pm.GetRouteRules() {
				if rr.GetUrlRedirect().GetHttpsRedirect() {
					set[logicalOf(um.GetDescription())] = true
				}
			}
		}
	}
	if l := m.Listeners[1].Name; set[l] {
		t.Errorf("the HTTPS listener %s's URL map sets httpsRedirect", l)
	}
	if l := m.Listeners[0].Name; !set[l] {
		t.Errorf("the HTTP listener %s's URL map does not set httpsRedirect for a redirect to https", l)
	}
}
