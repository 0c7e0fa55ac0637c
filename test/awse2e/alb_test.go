package awse2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// render is a rule as "conditions -> action", with target groups by their
// resource tag (the model's logical id), so that a test reads like the
// route it came from.
func (c *cloud) render(r elbtypes.Rule) string {
	var conds []string
	for _, x := range r.Conditions {
		field := awssdk.ToString(x.Field)
		var values []string
		switch {
		case x.HostHeaderConfig != nil:
			values = x.HostHeaderConfig.Values
		case x.PathPatternConfig != nil:
			values = x.PathPatternConfig.Values
		case x.HttpHeaderConfig != nil:
			field += ":" + strings.ToLower(awssdk.ToString(x.HttpHeaderConfig.HttpHeaderName))
			values = x.HttpHeaderConfig.Values
		case x.HttpRequestMethodConfig != nil:
			values = x.HttpRequestMethodConfig.Values
		case x.QueryStringConfig != nil:
			for _, kv := range x.QueryStringConfig.Values {
				values = append(values, awssdk.ToString(kv.Key)+"="+awssdk.ToString(kv.Value))
			}
		default:
			values = x.Values
		}
		values = slices.Sorted(slices.Values(values))
		conds = append(conds, field+"="+strings.Join(values, ","))
	}
	slices.Sort(conds)
	var acts []string
	for _, a := range r.Actions {
		switch a.Type {
		case elbtypes.ActionTypeEnumForward:
			var fs []string
			for _, g := range a.ForwardConfig.TargetGroups {
				fs = append(fs, fmt.Sprintf("%s*%d", c.Tags[awssdk.ToString(g.TargetGroupArn)][lb.TagResource], awssdk.ToInt32(g.Weight)))
			}
			slices.Sort(fs)
			acts = append(acts, "forward "+strings.Join(fs, " "))
		case elbtypes.ActionTypeEnumFixedResponse:
			acts = append(acts, "fixed "+awssdk.ToString(a.FixedResponseConfig.StatusCode))
		case elbtypes.ActionTypeEnumRedirect:
			rc := a.RedirectConfig
			acts = append(acts, fmt.Sprintf("redirect %s %s", rc.StatusCode, awssdk.ToString(rc.Path)))
		default:
			acts = append(acts, string(a.Type))
		}
	}
	return strings.Join(conds, " ") + " -> " + strings.Join(acts, "; ")
}

// rendered is a listener's rules in evaluation order, the default last.
func (c *cloud) rendered(l *listenerView) []string {
	var out []string
	for _, r := range l.Rules {
		out = append(out, c.render(r))
	}
	return out
}

// priorities are a listener's rule priorities by rendered rule.
func (c *cloud) priorities(l *listenerView) map[string]string {
	out := map[string]string{}
	for _, r := range l.Rules {
		out[c.render(r)] = awssdk.ToString(r.Priority)
	}
	return out
}

func header(name, value string) gwv1.HTTPHeaderMatch {
	return gwv1.HTTPHeaderMatch{Name: gwv1.HTTPHeaderName(name), Value: value}
}

// TestGatewayBecomesAnALB follows one Gateway through its life on AWS:
// created with routes, a route changed, endpoints scaled, its certificate
// rotated, deleted; each step checked in moto through the SDK.
func TestGatewayBecomesAnALB(t *testing.T) {
	ns := namespace(t)
	service(t, ns, "web", 8080, "10.0.1.10", "10.0.1.11")
	service(t, ns, "canary", 8080, "10.0.1.20")
	service(t, ns, "api", 9090, "10.0.2.10")
	create(t, certSecret(t, ns, "shop-tls", "shop.example.com", 1))

	gw := gateway(ns, "shop", listener("http", gwv1.HTTPProtocolType, 80), httpsListener("https", 443, "shop-tls"))
	gw.Spec.Infrastructure = &gwv1.GatewayInfrastructure{
		Labels:      map[gwv1.LabelKey]gwv1.LabelValue{"team": "payments"},
		Annotations: map[gwv1.AnnotationKey]gwv1.AnnotationValue{"cost-center": "cc-42"},
	}
	staging := rule(prefix("/"), backendRef("canary", 8080, 1))
	staging.Matches[0].Headers = []gwv1.HTTPHeaderMatch{header("X-Env", "staging")}
	redirect := gwv1.HTTPRouteRule{Matches: []gwv1.HTTPRouteMatch{exact("/old")}, Filters: []gwv1.HTTPRouteFilter{{
		Type: gwv1.HTTPRouteFilterRequestRedirect,
		RequestRedirect: &gwv1.HTTPRequestRedirectFilter{
			StatusCode: awssdk.Int(301),
			Path:       &gwv1.HTTPPathModifier{Type: gwv1.FullPathHTTPPathModifier, ReplaceFullPath: awssdk.String("/new")},
		},
	}}}
	create(t, gw,
		route(ns, "store", "shop", []string{"shop.example.com"},
			rule(prefix("/"), backendRef("web", 8080, 90), backendRef("canary", 8080, 10)),
			staging, redirect),
		route(ns, "api", "shop", []string{"shop.example.com"}, rule(prefix("/api"), backendRef("api", 9090, 1))))
	addr := programmed(t, ns, "shop")
	// The Gateway may be Programmed by a reconcile that saw the first
	// route only: a route's status is written after the reconcile that
	// applied it, so both accepted means both are in the cloud.
	for _, r := range []string{"store", "api"} {
		routeCondition(t, ns, r, string(gwv1.RouteConditionAccepted), metav1.ConditionTrue, "")
	}
	uid := string(getGateway(t, ns, "shop").UID)

	c := cloudOf(t, uid)
	if len(c.LBs) != 1 {
		t.Fatalf("%d load balancers for the Gateway, want 1", len(c.LBs))
	}
	alb := c.LBs[0]
	if alb.Type != elbtypes.LoadBalancerTypeEnumApplication || alb.Scheme != elbtypes.LoadBalancerSchemeEnumInternetFacing {
		t.Errorf("load balancer type %s scheme %s, want an internet-facing application load balancer", alb.Type, alb.Scheme)
	}
	if awssdk.ToString(alb.DNSName) != addr {
		t.Errorf("Gateway address %q, load balancer DNS name %q", addr, awssdk.ToString(alb.DNSName))
	}
	if got := len(alb.AvailabilityZones); got != 2 {
		t.Errorf("load balancer in %d zones, want the 2 public subnets", got)
	}
	wantTags := map[string]string{lb.TagCluster: clusterName, lb.TagGatewayUID: uid, lb.TagGateway: ns + "/shop",
		"team": "payments", "cost-center": "cc-42"}
	for arn, tags := range c.Tags {
		for k, v := range wantTags {
			if tags[k] != v {
				t.Errorf("%s: tag %s = %q, want %q (all: %v)", arn, k, tags[k], v, tags)
			}
		}
	}

	if len(c.Listeners) != 2 {
		t.Fatalf("%d listeners, want 2", len(c.Listeners))
	}
	http, https := c.listenerOn(t, 80), c.listenerOn(t, 443)
	if http.Protocol != elbtypes.ProtocolEnumHttp || https.Protocol != elbtypes.ProtocolEnumHttps {
		t.Errorf("listener protocols %s and %s, want HTTP and HTTPS", http.Protocol, https.Protocol)
	}
	certs := ownedCertificates(t, uid)
	if len(certs) != 1 || len(https.Certificates) != 1 || certs[awssdk.ToString(https.Certificates[0].CertificateArn)] == nil {
		t.Fatalf("HTTPS listener certificates %v, owned ACM certificates %v: want the one imported from the Secret", https.Certificates, slices.Collect(maps.Keys(certs)))
	}
	certARN := awssdk.ToString(https.Certificates[0].CertificateArn)

	// Gateway API precedence: the Exact path first, then the longest
	// prefix, then the header match before the bare "/"; the listener's
	// default answers what no rule takes (the routes' hostname is the only
	// one, so no per-hostname catch-all is needed).
	host := "host-header=shop.example.com"
	web := "forward " + ns + "/canary:8080*10 " + ns + "/web:8080*90"
	want := []string{
		host + " path-pattern=/old -> redirect HTTP_301 /new",
		host + " path-pattern=/api,/api/* -> forward " + ns + "/api:9090*1",
		host + " http-header:x-env=staging -> forward " + ns + "/canary:8080*1",
		host + " -> " + web,
		" -> fixed 404",
	}
	for _, l := range []*listenerView{http, https} {
		if got := c.rendered(l); !slices.Equal(got, want) {
			t.Errorf("port %d rules:\n  %s\nwant\n  %s", *l.Port, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
	if len(c.Groups) != 3 {
		t.Fatalf("%d target groups, want 3 (one per Service port)", len(c.Groups))
	}
	wantTargets := map[string][]string{
		ns + "/web:8080": {"10.0.1.10:8080", "10.0.1.11:8080"}, ns + "/canary:8080": {"10.0.1.20:8080"}, ns + "/api:9090": {"10.0.2.10:9090"},
	}
	for _, g := range c.Groups {
		logical := c.Tags[awssdk.ToString(g.TargetGroupArn)][lb.TagResource]
		if g.TargetType != elbtypes.TargetTypeEnumIp || awssdk.ToString(g.VpcId) != suite.moto.VPCID {
			t.Errorf("%s: target type %s in %s, want ip targets in %s", logical, g.TargetType, awssdk.ToString(g.VpcId), suite.moto.VPCID)
		}
		if !slices.Equal(g.Targets, wantTargets[logical]) {
			t.Errorf("%s: targets %v, want %v", logical, g.Targets, wantTargets[logical])
		}
	}
	suite.calls.take()

	t.Run("a route change updates rules in place", func(t *testing.T) {
		before := c.priorities(http)
		beforeARNs := map[string]string{}
		for _, r := range http.Rules {
			beforeARNs[c.render(r)] = awssdk.ToString(r.RuleArn)
		}
		// A new rule in the middle of the order: /api/v2 sorts before /api.
		update(t, &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"}}, func(r *gwv1.HTTPRoute) {
			r.Spec.Rules = append(r.Spec.Rules, rule(prefix("/api/v2"), backendRef("web", 8080, 1)))
		})
		added := host + " path-pattern=/api/v2,/api/v2/* -> forward " + ns + "/web:8080*1"
		var after *cloud
		eventually(t, 30*time.Second, func() error {
			after = cloudOf(t, uid)
			got := after.rendered(after.listenerOn(t, 80))
			if !slices.Contains(got, added) {
				return fmt.Errorf("rules %v, want %q among them", got, added)
			}
			return nil
		})
		l := after.listenerOn(t, 80)
		want := slices.Insert(slices.Clone(want), 1, added)
		if got := after.rendered(l); !slices.Equal(got, want) {
			t.Errorf("rules after the change:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		now := after.priorities(l)
		for _, r := range l.Rules {
			k := after.render(r)
			if k == added {
				continue
			}
			if now[k] != before[k] || awssdk.ToString(r.RuleArn) != beforeARNs[k] {
				t.Errorf("rule %q: priority %s -> %s, ARN %s -> %s: an unchanged rule must keep both", k, before[k], now[k], beforeARNs[k], awssdk.ToString(r.RuleArn))
			}
		}
		t.Logf("new rule at priority %s between %s and %s; calls: %v", now[added], now[want[0]], now[want[2]], suite.calls.take())
	})

	t.Run("scaling endpoints registers and deregisters targets", func(t *testing.T) {
		quiesce(t)
		update(t, endpointSlice(ns, "web", 8080), func(es *discoveryv1.EndpointSlice) {
			ready := true
			es.Endpoints = nil
			for _, ip := range []string{"10.0.1.11", "10.0.1.12", "10.0.1.13"} {
				es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
			}
		})
		wantWeb := []string{"10.0.1.11:8080", "10.0.1.12:8080", "10.0.1.13:8080"}
		eventually(t, 30*time.Second, func() error {
			g := cloudOf(t, uid).group(t, ns+"/web:8080")
			if !slices.Equal(g.Targets, wantWeb) {
				return fmt.Errorf("web targets %v, want %v", g.Targets, wantWeb)
			}
			return nil
		})
		calls := callsUntilQuiet(t)
		if w := writesOf(calls); !maps.Equal(w, map[string]int{"RegisterTargets": 1, "DeregisterTargets": 1}) {
			t.Errorf("an endpoint change made writes %v, want one RegisterTargets and one DeregisterTargets", w)
		}
		t.Logf("endpoint change: %s", formatCalls(calls))
	})

	t.Run("rotating the Secret re-imports the certificate to the same ARN", func(t *testing.T) {
		before := certificateSerial(t, certARN)
		fresh := certSecret(t, ns, "shop-tls", "shop.example.com", 2)
		update(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop-tls"}}, func(s *corev1.Secret) { s.Data = fresh.Data })
		eventually(t, 30*time.Second, func() error {
			if s := certificateSerial(t, certARN); s == before {
				return fmt.Errorf("certificate %s still has serial %s", certARN, s)
			}
			return nil
		})
		if certs := ownedCertificates(t, uid); len(certs) != 1 || certs[certARN] == nil {
			t.Errorf("owned certificates after rotation %v, want only %s", slices.Collect(maps.Keys(certs)), certARN)
		}
		if l := cloudOf(t, uid).listenerOn(t, 443); awssdk.ToString(l.Certificates[0].CertificateArn) != certARN {
			t.Errorf("HTTPS listener serves %s, want %s", awssdk.ToString(l.Certificates[0].CertificateArn), certARN)
		}
	})

	t.Run("deleting the Gateway leaves nothing tagged", func(t *testing.T) {
		must(t, suite.c.Delete(ctxFor(t), getGateway(t, ns, "shop")))
		eventually(t, 60*time.Second, func() error { return leftovers(t, uid) })
	})
}

// certificateSerial is the serial number of the certificate ACM serves.
func certificateSerial(t testing.TB, arn string) string {
	t.Helper()
	out, err := suite.acm.DescribeCertificate(ctxFor(t), &acm.DescribeCertificateInput{CertificateArn: &arn})
	must(t, err)
	return awssdk.ToString(out.Certificate.Serial)
}

func writesOf(calls map[string]int) map[string]int {
	out := map[string]int{}
	for op, n := range calls {
		if !strings.HasPrefix(op, "Describe") && !strings.HasPrefix(op, "List") && !strings.HasPrefix(op, "Get") {
			out[op] = n
		}
	}
	return out
}

func formatCalls(calls map[string]int) string {
	var parts []string
	total := 0
	for _, op := range slices.Sorted(maps.Keys(calls)) {
		parts = append(parts, fmt.Sprintf("%s=%d", op, calls[op]))
		total += calls[op]
	}
	return fmt.Sprintf("%d calls (%s)", total, strings.Join(parts, " "))
}
