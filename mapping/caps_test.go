package mapping

import (
	"slices"
	"strings"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// Each capability flag's golden case (caps-*.in.yaml, flag false) refuses
// what the flag covers; with the flag set, the same objects are all
// accepted and the model carries the feature.
func TestCapabilityFlagsLiftTheirRefusals(t *testing.T) {
	for _, c := range []struct {
		golden string
		set    func(*lb.Capabilities)
		// refused is in the message of what the flag covers.
		refused string
		// carried says whether the model holds the feature.
		carried func(*lb.LoadBalancer) bool
	}{
		{"caps-redirect-port", func(c *lb.Capabilities) { c.RedirectPort = true }, "RequestRedirect port",
			func(m *lb.LoadBalancer) bool {
				return anyRule(m, func(r lb.Rule) bool { return r.Action.Redirect != nil && r.Action.Redirect.Port == 8443 })
			}},
		{"caps-full-path-rewrite", func(c *lb.Capabilities) { c.FullPathRewriteOnAnyMatch = true }, "ReplaceFullPath",
			func(m *lb.LoadBalancer) bool {
				return anyRule(m, func(r lb.Rule) bool {
					rw := r.Action.Rewrite
					return rw != nil && rw.Path != nil && rw.Path.Type == lb.RewriteFullPath && r.Match.Path.Type != lb.MatchExact
				})
			}},
		{"caps-cors", func(c *lb.Capabilities) { c.CORS = true }, "filter CORS",
			func(m *lb.LoadBalancer) bool {
				return anyRule(m, func(r lb.Rule) bool {
					c := r.Action.CORS
					return c != nil && slices.Equal(c.AllowMethods, []string{"GET", "PUT"}) && c.MaxAge == time.Hour
				})
			}},
		{"caps-health-check-success-codes", func(c *lb.Capabilities) { c.HealthCheckSuccessCodes = true }, "healthCheck.successCodes",
			func(m *lb.LoadBalancer) bool {
				hc := m.TargetGroups[0].HealthCheck
				return hc != nil && len(hc.SuccessCodes) == 2
			}},
	} {
		t.Run(c.golden, func(t *testing.T) {
			s := loadSnapshot(t, "testdata/"+c.golden+".in.yaml")
			if msgs := notAccepted(Build(s)); !strings.Contains(strings.Join(msgs, "\n"), c.refused) {
				t.Fatalf("without the flag, no refusal mentions %q: %q", c.refused, msgs)
			}
			c.set(&s.Capabilities)
			res := Build(s)
			if msgs := notAccepted(res); len(msgs) > 0 {
				t.Errorf("with the flag, still refused: %q", msgs)
			}
			if res.LoadBalancer == nil || !c.carried(res.LoadBalancer) {
				t.Errorf("with the flag, the model does not carry the feature: %+v", res.LoadBalancer)
			}
		})
	}
}

// notAccepted lists the messages of the Gateway's and routes' Accepted
// conditions that are not True.
func notAccepted(res Result) []string {
	var out []string
	check := func(conds []metav1.Condition, typ string) {
		if c := apimeta.FindStatusCondition(conds, typ); c != nil && c.Status != metav1.ConditionTrue {
			out = append(out, c.Message)
		}
	}
	check(res.Gateway.Conditions, string(gwv1.GatewayConditionAccepted))
	for _, parents := range res.Routes {
		for _, p := range parents {
			check(p.Conditions, string(gwv1.RouteConditionAccepted))
		}
	}
	return out
}

func anyRule(m *lb.LoadBalancer, f func(lb.Rule) bool) bool {
	for _, l := range m.Listeners {
		for _, vh := range l.VirtualHosts {
			for _, r := range vh.Rules {
				if f(r) {
					return true
				}
			}
		}
	}
	return false
}
