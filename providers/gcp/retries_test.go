package gcp

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// TestRetryRefusedByRule: a rule carrying a retry is refused by its name,
// saying why GCP's retry conditions do not carry it (the backstop:
// Capabilities leaves Retry out, so mapping refuses it on the route).
func TestRetryRefusedByRule(t *testing.T) {
	m := testModel()
	vh := &m.Listeners[0].VirtualHosts[1]
	vh.Rules[1].Action.Retry = &lb.Retry{Attempts: 3, Codes: []int{500, 502, 503, 504}}
	_, _, err := desired(m, testLoc, nil)
	var ie *providers.InvalidError
	if !errors.As(err, &ie) || !slices.Equal(ie.Elements, []string{vh.Rules[1].Name}) ||
		!strings.Contains(err.Error(), "a retry policy (3 attempts, codes [500 502 503 504]): GCP's retry conditions are classes of codes") {
		t.Errorf("desired = %v, want %s refused for its retry policy", err, vh.Rules[1].Name)
	}
}
