package awse2e

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// Every kind of change a Gateway goes through, each realized in place with
// the one ELBv2 or ACM call made for it, and checked in moto. Together with
// TestGatewayBecomesAnALB it calls every operation the IAM policy grants.
func TestEveryKindOfChange(t *testing.T) {
	ns := namespace(t)
	service(t, ns, "app", 8080, "10.0.5.10")
	service(t, ns, "alt", 8080, "10.0.5.20")
	create(t, certSecret(t, ns, "a-tls", "a.example.com", 1), certSecret(t, ns, "b-tls", "b.example.com", 1),
		certSecret(t, ns, "c-tls", "c.example.com", 1))
	create(t, &v1alpha1.LoadBalancerParameters{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "params"},
		Spec:       v1alpha1.LoadBalancerParametersSpec{HealthCheck: &v1alpha1.HealthCheck{Path: awssdk.String("/healthz")}},
	})
	https := httpsListener("https", 443, "a-tls")
	https.TLS.CertificateRefs = append(https.TLS.CertificateRefs, gwv1.SecretObjectReference{Name: "b-tls"})
	gw := gateway(ns, "gw", listener("http", gwv1.HTTPProtocolType, 80), https, listener("extra", gwv1.HTTPProtocolType, 8080))
	gw.Spec.Infrastructure = &gwv1.GatewayInfrastructure{
		Labels:        map[gwv1.LabelKey]gwv1.LabelValue{"team": "web", "tier": "front"},
		ParametersRef: &gwv1.LocalParametersReference{Group: "cloudgate.dev", Kind: "LoadBalancerParameters", Name: "params"},
	}
	create(t, gw, route(ns, "r", "gw", nil, rule(prefix("/a"), backendRef("app", 8080, 1)), rule(prefix("/b"), backendRef("app", 8080, 1))))
	programmed(t, ns, "gw")
	uid := string(getGateway(t, ns, "gw").UID)
	quiesce(t)

	// step makes a change, waits until moto shows it, and checks that the
	// writes were exactly want.
	step := func(name string, want map[string]int, change func(), done func(*cloud) error) {
		t.Helper()
		change()
		eventually(t, 30*time.Second, func() error { return done(cloudOf(t, uid)) })
		// The reconcile that made the change may still be running.
		calls := callsUntilQuiet(t)
		if got := writesOf(calls); !maps.Equal(got, want) {
			t.Errorf("%s: writes %v, want %v", name, got, want)
		}
		t.Logf("%s: %s", name, formatCalls(calls))
	}
	forwardsTo := func(c *cloud, port int32, path, svc string) error {
		for _, r := range c.listenerOn(t, port).Rules {
			s := c.render(r)
			if strings.Contains(s, "path-pattern="+path+",") {
				if want := "forward " + ns + "/" + svc + ":8080*1"; !strings.HasSuffix(s, want) {
					return fmt.Errorf("rule %q, want %q", s, want)
				}
				return nil
			}
		}
		return fmt.Errorf("no rule for %s on port %d", path, port)
	}
	routeRules := func(change func(*gwv1.HTTPRoute)) func() {
		return func() { update(t, &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "r"}}, change) }
	}
	gateway := func(change func(*gwv1.Gateway)) func() {
		return func() { update(t, &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw"}}, change) }
	}
	ports := 3

	// alt is new to the load balancer: its target group comes first.
	step("a rule's backend changes", map[string]int{"CreateTargetGroup": 1, "RegisterTargets": 1, "ModifyRule": ports},
		routeRules(func(r *gwv1.HTTPRoute) {
			r.Spec.Rules[0].BackendRefs = []gwv1.HTTPBackendRef{backendRef("alt", 8080, 1)}
		}),
		func(c *cloud) error { return forwardsTo(c, 80, "/a", "alt") })

	// Twelve Exact paths take precedence over both prefixes, which sit at
	// the first priorities with gaps too small for twelve: the prefixes
	// move, in one SetRulePriorities call per listener.
	var exacts []gwv1.HTTPRouteMatch
	for i := range 12 {
		exacts = append(exacts, exact(fmt.Sprintf("/x%02d", i)))
	}
	step("twelve rules go in front", map[string]int{"CreateRule": 12 * ports, "SetRulePriorities": ports},
		routeRules(func(r *gwv1.HTTPRoute) {
			r.Spec.Rules = append(r.Spec.Rules, gwv1.HTTPRouteRule{Matches: exacts, BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", 8080, 1)}})
		}),
		func(c *cloud) error {
			got := c.rendered(c.listenerOn(t, 80))
			if len(got) != 15 {
				return fmt.Errorf("%d rules, want 15: %v", len(got), got)
			}
			for i, r := range got[:12] {
				if !strings.Contains(r, fmt.Sprintf("path-pattern=/x%02d ", i)) {
					return fmt.Errorf("rule %d is %q, want /x%02d: the order must be the precedence", i, r, i)
				}
			}
			if !strings.Contains(got[12], "/a,") || !strings.Contains(got[13], "/b,") {
				return fmt.Errorf("rules 12 and 13 are %q and %q, want the /a and /b prefixes", got[12], got[13])
			}
			return nil
		})

	step("the rules go again", map[string]int{"DeleteRule": 12 * ports},
		routeRules(func(r *gwv1.HTTPRoute) { r.Spec.Rules = r.Spec.Rules[:2] }),
		func(c *cloud) error {
			if n := len(c.listenerOn(t, 80).Rules); n != 3 {
				return fmt.Errorf("%d rules, want 3", n)
			}
			return nil
		})

	var certB string
	step("an SNI certificate goes", map[string]int{"RemoveListenerCertificates": 1, "DeleteCertificate": 1},
		gateway(func(g *gwv1.Gateway) {
			certB = ""
			for arn, tags := range ownedCertificates(t, uid) {
				if tags[lb.TagResource] == ns+"/b-tls" {
					certB = arn
				}
			}
			g.Spec.Listeners[1].TLS.CertificateRefs = g.Spec.Listeners[1].TLS.CertificateRefs[:1]
		}),
		func(c *cloud) error {
			if l := c.listenerOn(t, 443); len(l.SNI) != 0 {
				return fmt.Errorf("SNI certificates %v, want none", l.SNI)
			}
			if _, ok := ownedCertificates(t, uid)[certB]; ok || certB == "" {
				return fmt.Errorf("certificate %q of b-tls still in ACM", certB)
			}
			return nil
		})

	step("the default certificate changes", map[string]int{"ImportCertificate": 1, "ModifyListener": 1, "DeleteCertificate": 1},
		gateway(func(g *gwv1.Gateway) {
			g.Spec.Listeners[1].TLS.CertificateRefs = []gwv1.SecretObjectReference{{Name: "c-tls"}}
		}),
		func(c *cloud) error {
			certs := ownedCertificates(t, uid)
			l := c.listenerOn(t, 443)
			if len(certs) != 1 || certs[awssdk.ToString(l.Certificates[0].CertificateArn)][lb.TagResource] != ns+"/c-tls" {
				return fmt.Errorf("listener serves %v; owned certificates %v: want only c-tls", l.Certificates, certs)
			}
			return nil
		})

	// The load balancer's own security group no longer admits its port.
	step("a listener goes", map[string]int{"DeleteListener": 1, "RevokeSecurityGroupIngress": 1},
		gateway(func(g *gwv1.Gateway) { g.Spec.Listeners = g.Spec.Listeners[:2] }),
		func(c *cloud) error {
			if len(c.Listeners) != 2 {
				return fmt.Errorf("%d listeners, want 2", len(c.Listeners))
			}
			return nil
		})
	ports = 2

	step("the health check changes", map[string]int{"ModifyTargetGroup": 2},
		func() {
			update(t, &v1alpha1.LoadBalancerParameters{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "params"}},
				func(p *v1alpha1.LoadBalancerParameters) { p.Spec.HealthCheck.Path = awssdk.String("/ready") })
		},
		func(c *cloud) error {
			for _, g := range c.Groups {
				if awssdk.ToString(g.HealthCheckPath) != "/ready" {
					return fmt.Errorf("%s health check path %q, want /ready", awssdk.ToString(g.TargetGroupName), awssdk.ToString(g.HealthCheckPath))
				}
			}
			return nil
		})

	// Every resource carries the labels: load balancer, 2 listeners, 2
	// rules on each, 2 target groups, and the certificate, whose tags
	// change without a re-import.
	resources := 1 + 2 + 2*2 + 2
	step("the infrastructure labels change", map[string]int{"AddTags": resources, "RemoveTags": resources, "AddTagsToCertificate": 1, "RemoveTagsFromCertificate": 1},
		gateway(func(g *gwv1.Gateway) {
			g.Spec.Infrastructure.Labels = map[gwv1.LabelKey]gwv1.LabelValue{"team": "web", "env": "prod"}
		}),
		func(c *cloud) error {
			for arn, tags := range c.Tags {
				if tags["env"] != "prod" || tags["tier"] != "" {
					return fmt.Errorf("%s tags %v, want env=prod and no tier", arn, tags)
				}
			}
			for arn, tags := range ownedCertificates(t, uid) {
				if tags["env"] != "prod" || tags["tier"] != "" {
					return fmt.Errorf("certificate %s tags %v, want env=prod and no tier", arn, tags)
				}
			}
			return nil
		})
	must(t, suite.c.Delete(ctxFor(t), getGateway(t, ns, "gw")))
	eventually(t, 60*time.Second, func() error { return leftovers(t, uid) })
}
