package gcp

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

var testLoc = location{Project: "p", Region: "r1", Zone: "r1-a", Network: "projects/p/global/networks/default", Subnetwork: "projects/p/regions/r1/subnetworks/default"}

var testOwner = lb.Owner{Cluster: "c1", Namespace: "default", Name: "web", UID: "u1"}

func fwd(tg string) lb.Action {
	return lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: tg, Weight: 1}}}
}

// testModel is an HTTP listener with two VirtualHosts, the catch-all one
// holding a rule of its own host, and an HTTPS listener.
func testModel() *lb.LoadBalancer {
	return &lb.LoadBalancer{
		Owner: testOwner,
		Tags:  map[string]string{"team": "web"},
		Listeners: []lb.Listener{
			{Name: "http-80", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{
				{Hostname: "*.example.com", Rules: []lb.Rule{
					{Name: "default/r/rule-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/api/"}}, Action: fwd("default/api:80")},
				}},
				{Hostname: "", Rules: []lb.Rule{
					{Name: "default/r/rule-1", Match: lb.Match{Hostname: "foo.test", Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/x"},
						Headers: []lb.HeaderMatch{{Name: "x-v", Type: lb.MatchExact, Value: "1"}},
						Query:   []lb.QueryMatch{{Name: "q", Type: lb.MatchRegex, Value: "a+"}}},
						Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "default/api:80", Weight: 3}, {Weight: 1}},
							RequestHeaders: &lb.HeaderModifier{Set: []lb.Header{{Name: "Host", Value: "internal"}, {Name: "x-a", Value: "b"}}, Remove: []string{"x-drop"}},
							Rewrite:        &lb.Rewrite{Path: &lb.PathRewrite{Type: lb.RewriteFullPath, Value: "/y"}},
							Mirrors:        []lb.Mirror{{TargetGroup: "default/web:80", Percent: 25}},
							Timeouts:       &lb.Timeouts{Request: 1500 * time.Millisecond}}},
					{Name: "default/r/rule-2", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/"}}, Action: fwd("default/web:80")},
					{Name: "default/r/rule-3", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchRegex, Value: "/old/.*"}},
						Action: lb.Action{Redirect: &lb.Redirect{Scheme: "https", StatusCode: 308, Path: &lb.PathRewrite{Type: lb.RewriteFullPath, Value: "/new"}}}},
					{Name: "default/r/rule-4", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/teapot"}}, Action: lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 418}}},
				}},
			}},
			{Name: "https-443", Port: 443, Protocol: lb.ProtocolHTTPS, VirtualHosts: []lb.VirtualHost{
				{Hostname: "", Certificates: []lb.Certificate{{Name: "default/tls", CertPEM: []byte("cert-1"), KeyPEM: []byte("key-1")}},
					Rules: []lb.Rule{{Name: "default/s/rule-0", Action: fwd("default/web:80")}}},
			}},
		},
		TargetGroups: []lb.TargetGroup{
			{Name: "default/api:80", Protocol: lb.ProtocolHTTP, Targets: []lb.Target{{IP: "10.0.0.1", Port: 8080, Node: "node-a"}, {IP: "10.0.0.2", Port: 8080, Node: "node-a"}}},
			{Name: "default/web:80", Protocol: lb.ProtocolH2C, Targets: []lb.Target{{IP: "10.0.0.3", Port: 80, Node: "node-a"}},
				HealthCheck: &lb.HealthCheck{Path: "/healthz", Interval: 10 * time.Second, Timeout: 3 * time.Second}},
		},
	}
}

func mustDesired(t *testing.T, m *lb.LoadBalancer, have *state) *state {
	t.Helper()
	s, _, err := desired(m, testLoc, have)
	if err != nil {
		t.Fatalf("desired: %v", err)
	}
	return s
}

func backend(tg string) string {
	return testLoc.regional("backendServices", name(testOwner, tagBackend, tg))
}

func TestConvertResourceGraph(t *testing.T) {
	s := mustDesired(t, testModel(), nil)
	count := map[providers.Kind]int{}
	for _, r := range s.resources() {
		count[r.Kind]++
		if r.Logical == "" {
			t.Errorf("%s %s has no ownership description", r.Kind, r.Name())
		}
	}
	want := map[providers.Kind]int{kindHealthCheck: 2, kindNEG: 2, providers.KindTargetGroup: 3 /* with the sink */, kindURLMap: 2,
		providers.KindCertificate: 1, kindHTTPProxy: 1, kindHTTPSProxy: 1, providers.KindLoadBalancer: 1, providers.KindListener: 2}
	if d := cmp.Diff(want, count); d != "" {
		t.Errorf("resources by kind (-want +got):\n%s", d)
	}
	if n := len(s.Endpoints[s.NEGs[0].GetName()]); n != 2 {
		t.Errorf("%d endpoints in the first NEG, want 2", n)
	}
	fr := s.Rules[0]
	if fr.GetPortRange() != "80-80" || fr.GetLoadBalancingScheme() != schemeExternal || fr.GetIPAddress() != testLoc.regional("addresses", s.Addresses[0].GetName()) ||
		fr.GetTarget() != testLoc.regional("targetHttpProxies", s.HTTPProxies[0].GetName()) || fr.Labels["team"] != "web" {
		t.Errorf("forwarding rule %v", fr)
	}
	if got := s.HTTPSProxies[0].SslCertificates; len(got) != 1 || lastSegment(got[0]) != s.Certificates[0].GetName() {
		t.Errorf("HTTPS proxy certificates %v, want the uploaded one", got)
	}
	hc := s.HealthChecks[1]
	// Cleartext h2c: GCP's HTTP2 check would speak TLS to it.
	if hc.GetType() != "HTTP" || hc.GetHttpHealthCheck().GetRequestPath() != "/healthz" || hc.GetCheckIntervalSec() != 10 || hc.GetTimeoutSec() != 3 {
		t.Errorf("health check of the H2C group: %v", hc)
	}
	bs := s.Backends[1]
	if bs.GetProtocol() != "HTTP" || len(bs.Backends) != 1 || lastSegment(bs.Backends[0].GetGroup()) != s.NEGs[0].GetName() {
		t.Errorf("backend service %v", bs)
	}
}

func TestConvertURLMap(t *testing.T) {
	s := mustDesired(t, testModel(), nil)
	um := s.URLMaps[0]
	var hosts []string
	for _, hr := range um.HostRules {
		hosts = append(hosts, hr.Hosts...)
	}
	// foo.test is a host of the catch-all VirtualHost's own rule: it gets
	// a path matcher of its own, with that VirtualHost's other rules.
	if d := cmp.Diff([]string{"*.example.com", "*", "foo.test"}, hosts); d != "" {
		t.Fatalf("hosts (-want +got):\n%s", d)
	}
	pm := func(host string) *computepb.PathMatcher {
		for _, hr := range um.HostRules {
			if hr.Hosts[0] == host {
				for _, p := range um.PathMatchers {
					if p.GetName() == hr.GetPathMatcher() {
						return p
					}
				}
			}
		}
		t.Fatalf("no path matcher for %s", host)
		return nil
	}
	rules := func(p *computepb.PathMatcher) (out []string) {
		for _, rr := range p.RouteRules {
			out = append(out, rr.GetDescription())
		}
		return out
	}
	if d := cmp.Diff([]string{"default/r/rule-2", "default/r/rule-3", "default/r/rule-4"}, rules(pm("*"))); d != "" {
		t.Errorf("rules of * (-want +got):\n%s", d)
	}
	foo := pm("foo.test")
	if d := cmp.Diff([]string{"default/r/rule-1", "default/r/rule-2", "default/r/rule-3", "default/r/rule-4"}, rules(foo)); d != "" {
		t.Errorf("rules of foo.test (-want +got):\n%s", d)
	}
	for _, p := range um.PathMatchers {
		for i := 1; i < len(p.RouteRules); i++ {
			if p.RouteRules[i-1].GetPriority() >= p.RouteRules[i].GetPriority() {
				t.Errorf("path matcher %s: priorities not increasing", p.GetName())
			}
		}
		if p.GetDefaultRouteAction().GetFaultInjectionPolicy().GetAbort().GetHttpStatus() != 404 {
			t.Errorf("path matcher %s does not answer 404 by default", p.GetName())
		}
	}

	// The prefix /api/ is the path /api and the prefix /api/.
	api := pm("*.example.com").RouteRules[0]
	wantMatches := []*computepb.HttpRouteRuleMatch{{FullPathMatch: ptr("/api")}, {PrefixMatch: ptr("/api/")}}
	if d := cmp.Diff(wantMatches, api.MatchRules, protocmp.Transform()); d != "" {
		t.Errorf("prefix match (-want +got):\n%s", d)
	}

	r1 := foo.RouteRules[0]
	want := &computepb.HttpRouteRule{
		Description: ptr("default/r/rule-1"),
		Priority:    r1.Priority,
		MatchRules: []*computepb.HttpRouteRuleMatch{{
			FullPathMatch:         ptr("/x"),
			HeaderMatches:         []*computepb.HttpHeaderMatch{{HeaderName: ptr("x-v"), ExactMatch: ptr("1")}},
			QueryParameterMatches: []*computepb.HttpQueryParameterMatch{{Name: ptr("q"), RegexMatch: ptr("a+")}},
		}},
		HeaderAction: &computepb.HttpHeaderAction{
			RequestHeadersToAdd:    []*computepb.HttpHeaderOption{{HeaderName: ptr("x-a"), HeaderValue: ptr("b"), Replace: ptr(true)}},
			RequestHeadersToRemove: []string{"x-drop"},
		},
		RouteAction: &computepb.HttpRouteAction{
			WeightedBackendServices: []*computepb.WeightedBackendService{{BackendService: ptr(backend("default/api:80")), Weight: ptr(uint32(3))}},
			// The invalid quarter of the traffic gets 500.
			FaultInjectionPolicy: abort(500, 25),
			UrlRewrite:           &computepb.UrlRewrite{HostRewrite: ptr("internal"), PathPrefixRewrite: ptr("/y")},
			RequestMirrorPolicy:  &computepb.RequestMirrorPolicy{BackendService: ptr(backend("default/web:80")), MirrorPercent: ptr(25.0)},
			Timeout:              &computepb.Duration{Seconds: ptr(int64(1)), Nanos: ptr(int32(500_000_000))},
		},
	}
	if d := cmp.Diff(want, r1, protocmp.Transform()); d != "" {
		t.Errorf("route rule (-want +got):\n%s", d)
	}
	redirect := foo.RouteRules[2]
	if got := redirect.GetUrlRedirect(); got.GetRedirectResponseCode() != "PERMANENT_REDIRECT" || !got.GetHttpsRedirect() || got.GetPathRedirect() != "/new" || redirect.RouteAction != nil {
		t.Errorf("redirect %v", redirect)
	}
	if redirect.MatchRules[0].GetRegexMatch() != "/old/.*" {
		t.Errorf("regex match %v", redirect.MatchRules)
	}
	teapot := foo.RouteRules[3].GetRouteAction()
	if teapot.GetFaultInjectionPolicy().GetAbort().GetHttpStatus() != 418 || teapot.GetFaultInjectionPolicy().GetAbort().GetPercentage() != 100 ||
		lastSegment(teapot.WeightedBackendServices[0].GetBackendService()) != name(testOwner, tagBackend, logicalSink) {
		t.Errorf("fixed response %v", teapot)
	}
}

func TestConvertRefusesWhatGCPCannotExpress(t *testing.T) {
	m := testModel()
	vh := &m.Listeners[0].VirtualHosts[1]
	vh.Rules[1].Action.Rewrite = &lb.Rewrite{Path: &lb.PathRewrite{Type: lb.RewriteFullPath, Value: "/z"}} // on a prefix match
	vh.Rules[2].Action.Redirect.Port = 8443
	vh.Rules[3].Action.Mirrors = []lb.Mirror{{TargetGroup: "default/web:80", Percent: 100}, {TargetGroup: "default/api:80", Percent: 100}}
	m.Listeners = append(m.Listeners, lb.Listener{Name: "tcp-9000", Port: 9000, Protocol: lb.ProtocolTCP})
	_, _, err := desired(m, testLoc, nil)
	var inv *providers.InvalidError
	if !errors.As(err, &inv) || !errors.Is(err, providers.ErrInvalid) {
		t.Fatalf("err = %v, want an InvalidError", err)
	}
	slices.Sort(inv.Elements)
	want := []string{"default/r/rule-2", "default/r/rule-3", "default/r/rule-4", "tcp-9000"}
	if d := cmp.Diff(want, inv.Elements); d != "" {
		t.Errorf("elements (-want +got):\n%s", d)
	}
	for _, feature := range []string{"FullPath path rewrite", "redirect to port 8443", "2 request mirrors", "TCP listener"} {
		if !strings.Contains(inv.Message, feature) {
			t.Errorf("message %q does not name %q", inv.Message, feature)
		}
	}
}

func TestConvertUsesGivenAddressAndInternalScheme(t *testing.T) {
	m := testModel()
	m.Options.Addresses = []string{"203.0.113.7"}
	s := mustDesired(t, m, nil)
	if len(s.Addresses) != 0 || s.Rules[0].GetIPAddress() != "203.0.113.7" {
		t.Errorf("a given address: %d addresses reserved, forwarding rule on %q", len(s.Addresses), s.Rules[0].GetIPAddress())
	}
	m.Options.Addresses = nil
	m.Options.Scheme = lb.SchemeInternal
	s = mustDesired(t, m, nil)
	if s.Addresses[0].GetAddressType() != "INTERNAL" || s.Rules[0].GetLoadBalancingScheme() != schemeInternal || s.Backends[1].GetLoadBalancingScheme() != schemeInternal {
		t.Errorf("internal scheme: address %v, rule %v", s.Addresses[0], s.Rules[0])
	}
}

func TestLimitsCheckedBeforeTheCloud(t *testing.T) {
	m := testModel()
	vh := &m.Listeners[1].VirtualHosts[0]
	for i := range maxRouteRulesPerMatch + 2 {
		vh.Rules = append(vh.Rules, lb.Rule{Name: "default/big/rule-" + itoa(int32(i)), Action: fwd("default/web:80")})
	}
	err := checkLimits(mustDesired(t, m, nil))
	var inv *providers.InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("err = %v, want an InvalidError", err)
	}
	// 203 rules: the three of lowest precedence are refused.
	want := []string{"default/big/rule-201", "default/big/rule-200", "default/big/rule-199"}
	if d := cmp.Diff(want, inv.Elements); d != "" {
		t.Errorf("elements (-want +got):\n%s", d)
	}
	if err := checkLimits(mustDesired(t, testModel(), nil)); err != nil {
		t.Errorf("the test model is within the limits: %v", err)
	}
}

// The test model is one mapping could build for this provider: valid, and
// within what the provider declares.
func TestTestModelIsWithinCapabilities(t *testing.T) {
	m := testModel()
	if err := m.Validate(); err != nil {
		t.Fatalf("test model: %v", err)
	}
	caps := capabilities()
	for _, l := range m.Listeners {
		if !caps.Protocols[l.Protocol] {
			t.Errorf("listener %s: protocol %s not declared", l.Name, l.Protocol)
		}
		for _, vh := range l.VirtualHosts {
			for _, r := range vh.Rules {
				if p := r.Match.Path; p != nil && !caps.PathMatch[p.Type] {
					t.Errorf("rule %s: path match %s not declared", r.Name, p.Type)
				}
				if rd := r.Action.Redirect; rd != nil && !caps.RedirectStatusCodes[rd.StatusCode] {
					t.Errorf("rule %s: redirect %d not declared", r.Name, rd.StatusCode)
				}
				if len(r.Action.Mirrors) > caps.MaxMirrorsPerRule {
					t.Errorf("rule %s: %d mirrors", r.Name, len(r.Action.Mirrors))
				}
			}
			if len(vh.Rules) > caps.MaxRulesPerListener {
				t.Errorf("%d rules", len(vh.Rules))
			}
		}
	}
	for _, tg := range m.TargetGroups {
		if !caps.BackendProtocols[tg.Protocol] {
			t.Errorf("target group %s: protocol %s not declared", tg.Name, tg.Protocol)
		}
	}
}

// TestCORSRefused checks that a CORS policy, which Capabilities leaves
// out, is refused by rule rather than dropped.
func TestCORSRefused(t *testing.T) {
	m := testModel()
	m.Listeners[0].VirtualHosts[0].Rules[0].Action.CORS = &lb.CORS{AllowOrigins: []string{"https://a.example"}, MaxAge: 5 * time.Second}
	_, _, err := desired(m, testLoc, nil)
	var inv *providers.InvalidError
	if !errors.As(err, &inv) || !slices.Equal(inv.Elements, []string{"default/r/rule-0"}) {
		t.Errorf("a CORS policy: error %v, want a refusal naming default/r/rule-0", err)
	}
}

// A GRPCRoute's invalid share answers 503, which GCP's abort gives gRPC
// clients as UNAVAILABLE.
func TestInvalidShareAnswersTheActionsStatus(t *testing.T) {
	m := testModel()
	m.Listeners[0].VirtualHosts[1].Rules[0].Action.InvalidBackendStatus = 503
	s := mustDesired(t, m, nil)
	for _, p := range s.URLMaps[0].PathMatchers {
		for _, rr := range p.RouteRules {
			if rr.GetDescription() != "default/r/rule-1" {
				continue
			}
			if a := rr.GetRouteAction().GetFaultInjectionPolicy().GetAbort(); a.GetHttpStatus() != 503 || a.GetPercentage() != 25 {
				t.Errorf("abort %v, want 503 for 25%%", a)
			}
			return
		}
	}
	t.Fatal("no route rule default/r/rule-1")
}
