package dataplane

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// TestPrefixRewrite checks every row of the Gateway API's ReplacePrefixMatch
// table (HTTPPathModifier) and the conformance suite's "/" cases.
func TestPrefixRewrite(t *testing.T) {
	for _, tc := range []struct{ path, prefix, replace, want string }{
		{"/foo/bar", "/foo", "/xyz", "/xyz/bar"},
		{"/foo/bar", "/foo", "/xyz/", "/xyz/bar"},
		{"/foo/bar", "/foo/", "/xyz", "/xyz/bar"},
		{"/foo/bar", "/foo/", "/xyz/", "/xyz/bar"},
		{"/foo", "/foo", "/xyz", "/xyz"},
		{"/foo/", "/foo", "/xyz", "/xyz/"},
		{"/foo/bar", "/foo", "", "/bar"},
		{"/foo/", "/foo", "", "/"},
		{"/foo", "/foo", "", "/"},
		{"/foo/", "/foo", "/", "/"},
		{"/foo", "/foo", "/", "/"},
		{"/strip-prefix/three", "/strip-prefix", "/", "/three"},
		{"/prefix/one/two", "/prefix/one", "/one", "/one/two"},
		{"/anything", "/", "/xyz", "/xyz/anything"},
		{"/", "/", "/xyz", "/xyz/"},
	} {
		match := &pathMatcher{typ: lb.MatchPrefix, value: strings.TrimSuffix(tc.prefix, "/")}
		pr, err := compilePathRewrite(&lb.PathRewrite{Type: lb.RewritePrefix, Value: tc.replace}, match)
		if err != nil {
			t.Fatal(err)
		}
		if got := pr.apply(tc.path); got != tc.want {
			t.Errorf("path %q, prefix %q, replacement %q: got %q, want %q", tc.path, tc.prefix, tc.replace, got, tc.want)
		}
	}
	if _, err := compilePathRewrite(&lb.PathRewrite{Type: lb.RewritePrefix, Value: "/x"}, &pathMatcher{typ: lb.MatchExact, value: "/a"}); err == nil {
		t.Error("a prefix rewrite on an Exact path match was accepted")
	}
}

// TestRedirectLocation covers the Gateway API's port derivation: a missing
// port is the scheme's well-known port when the scheme is set, otherwise the
// listener's, and 80 (http) and 443 (https) never appear in Location.
func TestRedirectLocation(t *testing.T) {
	for _, tc := range []struct {
		name         string
		rd           lb.Redirect
		listenerPort int32
		tls          bool
		host, target string
		want         string
	}{
		{"scheme nil, port nil on 80", lb.Redirect{Hostname: "example.org"}, 80, false, "gw", "/p", "http://example.org/p"},
		{"scheme nil, port nil on 8080", lb.Redirect{Hostname: "example.org"}, 8080, false, "gw", "/p", "http://example.org:8080/p"},
		{"scheme nil, port 80 on 8080", lb.Redirect{Hostname: "example.org", Port: 80}, 8080, false, "gw", "/p", "http://example.org/p"},
		{"scheme nil, port 8080 on 80", lb.Redirect{Hostname: "example.org", Port: 8080}, 80, false, "gw", "/p", "http://example.org:8080/p"},
		{"https, port nil on 8080", lb.Redirect{Scheme: "https", Hostname: "example.org"}, 8080, false, "gw", "/p", "https://example.org/p"},
		{"https, port 443", lb.Redirect{Scheme: "https", Hostname: "example.org", Port: 443}, 80, false, "gw", "/p", "https://example.org/p"},
		{"https, port 8443", lb.Redirect{Scheme: "https", Hostname: "example.org", Port: 8443}, 80, false, "gw", "/p", "https://example.org:8443/p"},
		{"scheme nil, port nil on TLS 443", lb.Redirect{Hostname: "example.org"}, 443, true, "gw", "/p", "https://example.org/p"},
		{"scheme nil, port nil on TLS 8443", lb.Redirect{}, 8443, true, "gw:8443", "/p", "https://gw:8443/p"},
		{"http, port nil on TLS", lb.Redirect{Scheme: "http", Hostname: "example.org"}, 443, true, "gw", "/p", "http://example.org/p"},
		{"http, port 8080 on TLS", lb.Redirect{Scheme: "http", Hostname: "example.org", Port: 8080}, 443, true, "gw", "/p", "http://example.org:8080/p"},
		{"request host keeps its name, not its port", lb.Redirect{Scheme: "https"}, 8080, false, "Foo.Example:8080", "/p", "https://Foo.Example/p"},
		{"IPv6 host", lb.Redirect{}, 80, false, "[::1]:80", "/p", "http://[::1]/p"},
		{"IPv6 host with port", lb.Redirect{}, 8080, false, "[::1]:8080", "/p", "http://[::1]:8080/p"},
		{"query kept", lb.Redirect{Hostname: "h"}, 80, false, "gw", "/p?a=1&b=%20", "http://h/p?a=1&b=%20"},
		{"escaped path kept", lb.Redirect{Hostname: "h"}, 80, false, "gw", "/a%2Fb", "http://h/a%2Fb"},
		{"full path", lb.Redirect{Hostname: "h", Path: &lb.PathRewrite{Type: lb.RewriteFullPath, Value: "/new"}}, 80, false, "gw", "/old/x?q=1", "http://h/new?q=1"},
		{"prefix path", lb.Redirect{Hostname: "h", Path: &lb.PathRewrite{Type: lb.RewritePrefix, Value: "/replacement-prefix"}}, 80, false, "gw", "/original-prefix/lemon", "http://h/replacement-prefix/lemon"},
		{"prefix path, whole prefix", lb.Redirect{Hostname: "h", Path: &lb.PathRewrite{Type: lb.RewritePrefix, Value: "/replacement-prefix"}}, 80, false, "gw", "/original-prefix", "http://h/replacement-prefix"},
	} {
		rd, err := compileRedirect(&tc.rd, &pathMatcher{typ: lb.MatchPrefix, value: "/original-prefix"})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		r := httptest.NewRequest(http.MethodGet, tc.target, nil)
		r.Host = tc.host
		if got := rd.location(r, tc.listenerPort, tc.tls); got != tc.want {
			t.Errorf("%s: Location %q, want %q", tc.name, got, tc.want)
		}
		if rd.status != http.StatusFound {
			t.Errorf("%s: default status %d, want 302", tc.name, rd.status)
		}
	}
}

func TestHeaderModifierOrderAndCase(t *testing.T) {
	m, err := compileHeaderMod(&lb.HeaderModifier{
		Set:    []lb.Header{{Name: "x-set", Value: "new"}},
		Add:    []lb.Header{{Name: "X-ADD", Value: "two"}, {Name: "x-gone", Value: "added then removed"}},
		Remove: []string{"X-Gone", "x-remove"},
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"X-Set": {"a", "b"}, "X-Add": {"one"}, "X-Remove": {"r"}, "X-Keep": {"k"}}
	m.apply(h)
	want := http.Header{"X-Set": {"new"}, "X-Add": {"one", "two"}, "X-Keep": {"k"}}
	if len(h) != len(want) || h.Get("X-Set") != "new" || strings.Join(h["X-Add"], ",") != "one,two" || h.Get("X-Keep") != "k" {
		t.Errorf("got %v, want %v", h, want)
	}
	if _, err := compileHeaderMod(&lb.HeaderModifier{Set: []lb.Header{{Name: "X-Bad", Value: "a\r\nInjected: yes"}}}, true); err == nil {
		t.Error("a header value with CRLF was accepted")
	}
	if _, err := compileHeaderMod(&lb.HeaderModifier{Remove: []string{"bad name"}}, true); err == nil {
		t.Error("an invalid header name was accepted")
	}
}

// TestHostModifier checks that request modifiers act on the request's Host
// (which net/http keeps out of the header map) in the model's order, and that
// response modifiers treat Host as a plain header.
func TestHostModifier(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    lb.HeaderModifier
		want string
	}{
		{"set", lb.HeaderModifier{Set: []lb.Header{{Name: "host", Value: "set.example"}}}, "set.example"},
		{"add replaces: one Host per request", lb.HeaderModifier{Add: []lb.Header{{Name: "HOST", Value: "add.example"}}}, "add.example"},
		{"set then add", lb.HeaderModifier{Set: []lb.Header{{Name: "Host", Value: "a"}}, Add: []lb.Header{{Name: "Host", Value: "b"}}}, "b"},
		{"remove wins", lb.HeaderModifier{Set: []lb.Header{{Name: "Host", Value: "a"}}, Remove: []string{"host"}}, ""},
		{"other headers only", lb.HeaderModifier{Set: []lb.Header{{Name: "X-A", Value: "1"}}}, "client.example"},
	} {
		m, err := compileHeaderMod(&tc.m, true)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodGet, "http://client.example/", nil)
		m.applyRequest(r)
		if r.Host != tc.want || r.Header.Get("Host") != "" {
			t.Errorf("%s: Host %q (header map %v), want %q", tc.name, r.Host, r.Header, tc.want)
		}
	}
	m, err := compileHeaderMod(&lb.HeaderModifier{Set: []lb.Header{{Name: "host", Value: "x"}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	m.apply(h)
	if h.Get("Host") != "x" {
		t.Errorf("response modifier on Host: %v", h)
	}
}

func TestCompileFilterErrors(t *testing.T) {
	rule := func(a lb.Action) lb.Listener {
		return lb.Listener{Name: "l", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{{Name: "r", Action: a}}}}}
	}
	_, err := Compile(Spec{
		TargetGroups: []lb.TargetGroup{{Name: "g", Protocol: lb.ProtocolH2C}},
		Listeners: []lb.Listener{
			rule(lb.Action{Redirect: &lb.Redirect{Scheme: "ftp", StatusCode: 200}}),
		},
	})
	for _, want := range []string{`unsupported redirect scheme "ftp"`, "redirect status 200"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	_, err = Compile(Spec{
		TargetGroups: []lb.TargetGroup{{Name: "g", Protocol: lb.ProtocolH2C}},
		Listeners: []lb.Listener{rule(lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "g", Weight: 1}},
			Mirrors: []lb.Mirror{{TargetGroup: "missing", Percent: 100}}, Timeouts: &lb.Timeouts{Request: -1}})},
	})
	for _, want := range []string{`unknown mirror target group "missing"`, "negative timeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}
