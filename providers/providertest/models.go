package providertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// featureModel is one valid model that needs one feature a provider may
// declare.
type featureModel struct {
	name string
	// needs says whether the provider's Capabilities cover the model.
	needs func(lb.Capabilities) bool
	build func(s *suite, o lb.Owner) *lb.LoadBalancer
}

func always(lb.Capabilities) bool { return true }

// featureModels are the models AcceptsValidModels sends, one per feature of
// lb.Capabilities, each as mapping could build it.
var featureModels = []featureModel{
	{"PathMatches", always, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		caps := s.env.Provider.Capabilities()
		var rules []lb.Rule
		for _, pm := range []lb.PathMatch{{Type: lb.MatchExact, Value: "/exact"}, {Type: lb.MatchPrefix, Value: "/prefix/"}, {Type: lb.MatchRegex, Value: "/re/[0-9]+"}} {
			if caps.PathMatch[pm.Type] {
				rules = append(rules, s.rule("path-"+string(pm.Type), lb.Match{Path: &pm}))
			}
		}
		return s.httpModel(o, s.withCatchAll(rules)...)
	}},
	{"HeaderMatches", func(c lb.Capabilities) bool { return len(c.HeaderMatch) > 0 }, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		var rules []lb.Rule
		for _, t := range sortedTypes(s.env.Provider.Capabilities().HeaderMatch) {
			rules = append(rules, s.rule("header-"+string(t), lb.Match{Path: prefix("/"),
				Headers: []lb.HeaderMatch{{Name: "x-env", Type: t, Value: "canary"}}}))
		}
		return s.httpModel(o, s.withCatchAll(rules)...)
	}},
	{"QueryMatches", func(c lb.Capabilities) bool { return len(c.QueryMatch) > 0 }, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		var rules []lb.Rule
		for _, t := range sortedTypes(s.env.Provider.Capabilities().QueryMatch) {
			rules = append(rules, s.rule("query-"+string(t), lb.Match{Path: prefix("/"),
				Query: []lb.QueryMatch{{Name: "v", Type: t, Value: "1"}}}))
		}
		return s.httpModel(o, s.withCatchAll(rules)...)
	}},
	{"MethodMatch", func(c lb.Capabilities) bool { return c.MethodMatch }, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		return s.httpModel(o, s.withCatchAll([]lb.Rule{s.rule("method", lb.Match{Path: prefix("/"), Method: "DELETE"})})...)
	}},
	{"Hostnames", always, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		m := s.httpModel(o)
		m.Listeners[0].VirtualHosts = []lb.VirtualHost{
			{Hostname: "a.example.com", Rules: []lb.Rule{s.rule("exact-host", lb.Match{Path: prefix("/")})}},
			{Hostname: "*.example.com", Rules: []lb.Rule{
				s.rule("wildcard-host-narrow", lb.Match{Hostname: "b.example.com", Path: prefix("/")}),
				s.rule("wildcard-host", lb.Match{Path: prefix("/")}),
			}},
			{Rules: []lb.Rule{s.rule("any-host", lb.Match{Path: prefix("/")})}},
		}
		return m
	}},
	{"WeightsAndFixedResponse", always, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		rules := []lb.Rule{{Name: "contract/split/rule-0/match-0", Match: lb.Match{Path: prefix("/split")}, Action: lb.Action{Forward: []lb.WeightedBackend{
			{TargetGroup: s.group(), Weight: 3}, {TargetGroup: "contract/other:80", Weight: 1}}}}}
		if s.env.Provider.Capabilities().FixedResponse {
			rules = append(rules, lb.Rule{Name: "contract/none/rule-0/match-0", Match: lb.Match{Path: prefix("/")},
				Action: lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 404}}})
		}
		m := s.httpModel(o, rules...)
		m.TargetGroups = append(m.TargetGroups, lb.TargetGroup{Name: "contract/other:80", Protocol: lb.ProtocolHTTP, Targets: []lb.Target{s.env.Target}})
		return m
	}},
	{"HealthChecks", always, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		// Every provider takes health checks, whether its data plane
		// probes or not; 200 alone is a success code every provider takes.
		codes := []lb.CodeRange{{From: 200, To: 200}}
		if s.env.Provider.Capabilities().HealthCheckSuccessCodes {
			codes = []lb.CodeRange{{From: 200, To: 299}, {From: 302, To: 302}}
		}
		m := s.httpModel(o, s.rule("health", lb.Match{Path: prefix("/")}))
		m.TargetGroups[0].HealthCheck = &lb.HealthCheck{Protocol: lb.ProtocolHTTP, Path: "/healthz", Port: s.env.Target.Port,
			Interval: 10 * time.Second, Timeout: 5 * time.Second, HealthyThreshold: 2, UnhealthyThreshold: 3,
			SuccessCodes: codes}
		return m
	}},
	{"InvalidBackendShare", func(c lb.Capabilities) bool { return c.InvalidBackendShare }, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		return s.httpModel(o, lb.Rule{Name: "contract/partly-invalid/rule-0/match-0", Match: lb.Match{Path: prefix("/")},
			Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: s.group(), Weight: 1}, {Weight: 1}}}})
	}},
	{"HeaderModifiers", func(c lb.Capabilities) bool { return c.RequestHeaderModifier || c.ResponseHeaderModifier }, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		caps := s.env.Provider.Capabilities()
		mod := &lb.HeaderModifier{Set: []lb.Header{{Name: "X-Set", Value: "v"}}, Add: []lb.Header{{Name: "x-add", Value: "v"}}, Remove: []string{"X-Remove"}}
		backend := &lb.HeaderModifier{Set: []lb.Header{{Name: "X-Backend", Value: "v"}}}
		r := s.rule("modifiers", lb.Match{Path: prefix("/")})
		if caps.RequestHeaderModifier {
			r.Action.RequestHeaders = mod
			if caps.BackendHeaderModifier {
				r.Action.Forward[0].RequestHeaders = backend
			}
		}
		if caps.ResponseHeaderModifier {
			r.Action.ResponseHeaders = mod
			if caps.BackendHeaderModifier {
				r.Action.Forward[0].ResponseHeaders = backend
			}
		}
		return s.httpModel(o, r)
	}},
	{"Redirects", func(c lb.Capabilities) bool { return c.Redirect && len(c.RedirectStatusCodes) > 0 }, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		caps := s.env.Provider.Capabilities()
		// One rule per status code the provider answers with. Without
		// RedirectPort the port is the scheme's own, which mapping allows.
		port := int32(443)
		if caps.RedirectPort {
			port = 8443
		}
		var rules []lb.Rule
		for i, code := range []int{301, 302, 303, 307, 308} {
			if !caps.RedirectStatusCodes[code] {
				continue
			}
			path := &lb.PathRewrite{Type: lb.RewriteFullPath, Value: "/"}
			if caps.PrefixRedirect && i%2 == 0 {
				path = &lb.PathRewrite{Type: lb.RewritePrefix, Value: "/new"}
			}
			rules = append(rules, lb.Rule{Name: fmt.Sprintf("contract/redirect/rule-%d/match-0", i), Match: lb.Match{Path: prefix(fmt.Sprintf("/old%d", code))},
				Action: lb.Action{Redirect: &lb.Redirect{Scheme: "https", Hostname: "example.org", Port: port, StatusCode: code, Path: path}}})
		}
		return s.httpModel(o, rules...)
	}},
	{"Rewrites", func(c lb.Capabilities) bool { return c.Rewrite }, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		caps := s.env.Provider.Capabilities()
		// A full path on an Exact match is all a provider without
		// FullPathRewriteOnAnyMatch is sent.
		rules := []lb.Rule{s.rule("rewrite-exact", lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/old"}})}
		rules[0].Action.Rewrite = &lb.Rewrite{Path: &lb.PathRewrite{Type: lb.RewriteFullPath, Value: "/new"}}
		if caps.PrefixRewrite {
			prefixed := s.rule("rewrite-prefix", lb.Match{Path: prefix("/api")})
			prefixed.Action.Rewrite = &lb.Rewrite{Path: &lb.PathRewrite{Type: lb.RewritePrefix, Value: "/"}}
			rules = append(rules, prefixed)
		}
		full := s.rule("rewrite-full", lb.Match{Path: prefix("/")})
		full.Action.Rewrite = &lb.Rewrite{Hostname: "backend.example"}
		if caps.FullPathRewriteOnAnyMatch {
			full.Action.Rewrite.Path = &lb.PathRewrite{Type: lb.RewriteFullPath, Value: "/index"}
		}
		return s.httpModel(o, append(rules, full)...)
	}},
	{"MirrorsAndTimeouts", func(c lb.Capabilities) bool { return c.Mirror || c.RequestTimeout || c.BackendTimeout }, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		caps := s.env.Provider.Capabilities()
		r := s.rule("mirror-timeouts", lb.Match{Path: prefix("/")})
		if caps.Mirror {
			pct := 100.0
			if caps.MirrorPercent {
				pct = 50
			}
			r.Action.Mirrors = []lb.Mirror{{TargetGroup: "contract/mirror:80", Percent: pct}}
		}
		if caps.RequestTimeout || caps.BackendTimeout {
			r.Action.Timeouts = &lb.Timeouts{}
			if caps.RequestTimeout {
				r.Action.Timeouts.Request = 10 * time.Second
			}
			if caps.BackendTimeout {
				r.Action.Timeouts.Backend = 5 * time.Second
			}
		}
		m := s.httpModel(o, r)
		if caps.Mirror {
			m.TargetGroups = append(m.TargetGroups, lb.TargetGroup{Name: "contract/mirror:80", Protocol: lb.ProtocolHTTP, Targets: []lb.Target{s.env.Target}})
		}
		return m
	}},
	{"Retry", func(c lb.Capabilities) bool { return c.Retry }, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		r := s.rule("retry", lb.Match{Path: prefix("/")})
		r.Action.Retry = &lb.Retry{Attempts: 2, Codes: []int{502, 503}}
		if s.env.Provider.Capabilities().RetryBackoff {
			backoff := 50 * time.Millisecond
			r.Action.Retry.Backoff = &backoff
		}
		return s.httpModel(o, r)
	}},
	{"BackendProtocols", always, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		m := s.httpModel(o)
		m.TargetGroups = nil
		var rules []lb.Rule
		for _, p := range sortedTypes(s.env.Provider.Capabilities().BackendProtocols) {
			if p == lb.ProtocolTCP || p == lb.ProtocolUDP {
				continue // Streams' groups (StreamListeners)
			}
			tg := "contract/backend-" + string(p) + ":80"
			m.TargetGroups = append(m.TargetGroups, lb.TargetGroup{Name: tg, Protocol: p, Targets: []lb.Target{s.env.Target}})
			rules = append(rules, lb.Rule{Name: "contract/backend-" + string(p) + "/rule-0/match-0",
				Match:  lb.Match{Path: prefix("/" + string(p))},
				Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: tg, Weight: 1}}}})
		}
		m.Listeners[0].VirtualHosts[0].Rules = rules
		return m
	}},
	{"HTTPS", func(c lb.Capabilities) bool { return c.Protocols[lb.ProtocolHTTPS] }, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		m := s.httpModel(o, s.rule("https", lb.Match{Path: prefix("/")}))
		m.Listeners[0].Name, m.Listeners[0].Protocol = "https", lb.ProtocolHTTPS
		m.Listeners[0].VirtualHosts[0].Hostname = "secure.example.com"
		m.Listeners[0].VirtualHosts[0].Certificates = []lb.Certificate{certificate("contract/secure", "secure.example.com")}
		return m
	}},
	{"StreamListeners", func(c lb.Capabilities) bool {
		return c.Protocols[lb.ProtocolTCP] && c.BackendProtocols[lb.ProtocolTCP] || c.Protocols[lb.ProtocolUDP] && c.BackendProtocols[lb.ProtocolUDP]
	}, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		caps := s.env.Provider.Capabilities()
		m := &lb.LoadBalancer{Owner: o}
		for i, p := range []lb.Protocol{lb.ProtocolTCP, lb.ProtocolUDP} {
			if caps.Protocols[p] && caps.BackendProtocols[p] {
				m.Listeners = append(m.Listeners, s.streamListener(string(p), s.env.Port+int32(i), p, lb.Stream{}))
				m.TargetGroups = append(m.TargetGroups, s.streamGroup(string(p), p))
			}
		}
		return m
	}},
	{"TLSPassthrough", func(c lb.Capabilities) bool { return c.Protocols[lb.ProtocolTLS] && c.BackendProtocols[lb.ProtocolTCP] }, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		m := &lb.LoadBalancer{Owner: o, TargetGroups: []lb.TargetGroup{s.streamGroup("tls", lb.ProtocolTCP)}}
		m.Listeners = []lb.Listener{s.streamListener("tls", s.env.Port, lb.ProtocolTLS, lb.Stream{Hostname: "*.example.com"})}
		return m
	}},
	{"TLSTerminate", func(c lb.Capabilities) bool { return c.TLSTerminate && c.BackendProtocols[lb.ProtocolTCP] }, func(s *suite, o lb.Owner) *lb.LoadBalancer {
		m := &lb.LoadBalancer{Owner: o, TargetGroups: []lb.TargetGroup{s.streamGroup("tls", lb.ProtocolTCP)}}
		m.Listeners = []lb.Listener{s.streamListener("tls", s.env.Port, lb.ProtocolTLS, lb.Stream{Hostname: "end.example.com",
			Certificates: []lb.Certificate{certificate("contract/end", "end.example.com")}})}
		return m
	}},
}

// acceptsValidModels sends one valid model per feature the provider
// declares: each must apply, and be ready.
func (s *suite) acceptsValidModels() {
	caps := s.env.Provider.Capabilities()
	for _, f := range featureModels {
		if !f.needs(caps) {
			continue
		}
		s.t.Run(f.name, func(t *testing.T) {
			sub := &suite{t: t, env: s.env, ctx: s.ctx}
			o := sub.owner("features")
			m := f.build(sub, o)
			if err := m.Validate(); err != nil {
				t.Fatalf("the suite built an invalid model: %v", err)
			}
			res, err := sub.env.Provider.Ensure(sub.ctx, m)
			if err != nil {
				t.Fatalf("Ensure of a valid model within the provider's capabilities: %v", err)
			}
			sub.checkReady(res.Status, m)
			// What the cloud holds now must read back as the model: a
			// diff that sees a change where there is none would write on
			// every Ensure.
			if pl, err := sub.env.Provider.Plan(sub.ctx, m); err != nil || pl.Changes() {
				t.Errorf("Plan right after Ensure = %v, %v; want no changes", pl, err)
			}
			sub.delete(o)
		})
	}
}

// refusalNamesTheElement makes one rule among good ones something the cloud
// refuses: the refusal must name that rule and leave the cloud unchanged,
// and the model without it must apply.
func (s *suite) refusalNamesTheElement() {
	if s.env.RefuseRule == nil {
		s.t.Skip("the provider's cloud refuses nothing lb.Validate accepts")
	}
	o := s.owner("refused")
	bad := s.rule("tenant-b", lb.Match{Path: prefix("/b")})
	s.env.RefuseRule(&bad)
	withBad := s.httpModel(o, s.rule("tenant-a", lb.Match{Path: prefix("/a")}), bad, s.rule("tenant-c", lb.Match{Path: prefix("/")}))
	if err := withBad.Validate(); err != nil {
		s.t.Fatalf("RefuseRule made a rule that lb.Validate refuses (%v): the provider must see it", err)
	}
	check := func(what string) {
		_, err := s.env.Provider.Ensure(s.ctx, withBad)
		var refusal *providers.InvalidError
		if !errors.As(err, &refusal) || !errors.Is(err, providers.ErrInvalid) {
			s.t.Fatalf("%s: Ensure = %v, want a *providers.InvalidError", what, err)
		}
		if !slices.Equal(refusal.Elements, []string{bad.Name}) {
			s.t.Errorf("%s: the refusal names %q, want exactly the rule %q", what, refusal.Elements, bad.Name)
		}
	}
	check("create")
	if rs := s.owned(o); len(rs) != 0 {
		s.t.Errorf("a refused create left %+v", rs)
	}
	without := s.httpModel(o, s.rule("tenant-a", lb.Match{Path: prefix("/a")}), s.rule("tenant-c", lb.Match{Path: prefix("/")}))
	s.checkReady(s.ensure(without), without)
	before := s.ownedOne(o)
	check("update")
	after := s.ownedOne(o)
	if after.ID != before.ID || !slices.Equal(after.Ports, before.Ports) || !maps.Equal(after.Tags, before.Tags) {
		s.t.Errorf("a refused update changed the cloud: %+v → %+v", before, after)
	}
	s.delete(o)
}

func (s *suite) group() string { return "contract/echo:80" }

// rule is a forward to the suite's group, named as mapping names rules.
func (s *suite) rule(route string, m lb.Match) lb.Rule {
	return lb.Rule{Name: "contract/" + route + "/rule-0/match-0", Match: m,
		Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: s.group(), Weight: 1}}}}
}

// withCatchAll appends the rule that takes the rest, as mapping always ends.
func (s *suite) withCatchAll(rules []lb.Rule) []lb.Rule {
	return append(rules, s.rule("rest", lb.Match{Path: prefix("/")}))
}

// httpModel is one HTTP listener on Port with rules in a catch-all host.
func (s *suite) httpModel(o lb.Owner, rules ...lb.Rule) *lb.LoadBalancer {
	return &lb.LoadBalancer{
		Owner:        o,
		TargetGroups: []lb.TargetGroup{{Name: s.group(), Protocol: lb.ProtocolHTTP, Targets: []lb.Target{s.env.Target}}},
		Listeners: []lb.Listener{{Name: "http", Port: s.env.Port, Protocol: lb.ProtocolHTTP,
			VirtualHosts: []lb.VirtualHost{{Rules: rules}}}},
	}
}

func (s *suite) streamGroup(name string, p lb.Protocol) lb.TargetGroup {
	return lb.TargetGroup{Name: "contract/" + name + ":9000", Protocol: p, Targets: []lb.Target{s.env.Target}}
}

// streamListener is a layer-4 listener whose one Stream (st, named here)
// sends everything to the group streamGroup(name) makes.
func (s *suite) streamListener(name string, port int32, p lb.Protocol, st lb.Stream) lb.Listener {
	st.Name = "contract/" + name + "/rule-0"
	st.Backends = []lb.WeightedBackend{{TargetGroup: "contract/" + name + ":9000", Weight: 1}}
	return lb.Listener{Name: name, Port: port, Protocol: p, Streams: []lb.Stream{st}}
}

func prefix(p string) *lb.PathMatch { return &lb.PathMatch{Type: lb.MatchPrefix, Value: p} }

func sortedTypes[K ~string](m map[K]bool) []K {
	var out []K
	for k, ok := range m {
		if ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// certificate is a fresh self-signed certificate for names, named as mapping
// names certificates (the Secret's namespace/name).
func certificate(name string, names ...string) lb.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	return lb.Certificate{
		Name:    name,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}
