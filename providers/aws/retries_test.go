package aws

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// TestRetryRefusedByRule: an ALB cannot retry; a rule carrying a retry is
// refused by its name, the others served (the backstop: Capabilities
// leaves Retry out, so mapping refuses it on the route first).
func TestRetryRefusedByRule(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := rulesModel(
		lb.Rule{Name: "shop/r/rule-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/a"}}, Action: fwd("shop/api:8080", 1)},
		lb.Rule{Name: "shop/r/rule-1", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/b"}}, Action: fwd("shop/api:8080", 1)},
	)
	vh := &m.Listeners[0].VirtualHosts[0]
	vh.Rules[1].Action.Retry = &lb.Retry{Attempts: 2, Codes: []int{503}}
	_, err = p.desired(m, []string{"subnet-1", "subnet-2"})
	var ie *providers.InvalidError
	if !errors.As(err, &ie) || !slices.Equal(ie.Elements, []string{"shop/r/rule-1"}) || !strings.Contains(err.Error(), "it has no retry setting") {
		t.Errorf("desired = %v, want shop/r/rule-1 refused: an ALB has no retry setting", err)
	}
}
