package dataplane

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// TestOriginMatching covers the API's origin rules: "*" alone matches every
// origin, a "*." host any number of labels to its left (at least one), a
// "*" host any host; the port left out is the scheme's; schemes and hosts
// ignore case; nothing that is not a serialized origin matches.
func TestOriginMatching(t *testing.T) {
	for _, tc := range []struct {
		pattern, origin string
		want            bool
	}{
		{"https://www.foo.com", "https://www.foo.com", true},
		{"https://www.foo.com", "https://WWW.Foo.com", true},
		{"https://www.foo.com", "HTTPS://www.foo.com", true},
		{"https://www.foo.com", "https://www.foo.com:443", true},
		{"https://www.foo.com:443", "https://www.foo.com", true},
		{"https://www.foo.com", "https://www.foo.com:8443", false},
		{"https://www.foo.com", "http://www.foo.com", false},
		{"https://www.foo.com", "https://foo.com", false},
		{"https://www.foo.com", "https://www.foo.com.evil", false},
		{"http://www.foo.com:8080", "http://www.foo.com:8080", true},
		{"http://www.foo.com:8080", "http://www.foo.com:08080", true},
		{"http://www.foo.com:8080", "http://www.foo.com", false},
		{"https://*.bar.com", "https://www.bar.com", true},
		{"https://*.bar.com", "https://xpto.www.bar.com", true},
		{"https://*.bar.com", "https://bar.com", false},
		{"https://*.bar.com", "https://foobar.com", false},
		{"https://*.bar.com", "https://www.bar.com.evil", false},
		{"https://*.bar.com", "http://www.bar.com", false},
		{"https://*", "https://anything.example", true},
		{"https://*", "https://anything.example:8443", false},
		{"http://*:8080", "http://10.1.2.3:8080", true},
		{"http://*:8080", "http://[::1]:8080", true},
		{"http://10.0.0.1", "http://10.0.0.1", true},
		{"*", "https://foobar.com:12345", true},
		{"*", "chrome-extension://abcdef", true},
		// Not origins: never matched, so never echoed.
		{"*", "null", false},
		{"*", "https://foo.com/", false},
		{"*", "https://user@foo.com", false},
		{"*", "https://foo..com", false},
		{"*", "https://foo.com:", false},
		{"*", "https://foo.com:0", false},
		{"*", "https://foo.com:+80", false},
		{"*", "https://foo.com:65536", false},
		{"*", "https://[::1", false},
		{"*", "https://[]", false},
		{"*", "https://foo.com\r\nx: y", false},
		{"*", "1https://foo.com", false},
		{"*", "", false},
	} {
		p, err := compileCORS(&lb.CORS{AllowOrigins: []string{tc.pattern}, MaxAge: time.Second})
		if err != nil {
			t.Fatalf("pattern %q: %v", tc.pattern, err)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Origin", tc.origin)
		if got := p.allowedOrigin(r) != ""; got != tc.want {
			t.Errorf("pattern %q, origin %q: allowed %v, want %v", tc.pattern, tc.origin, got, tc.want)
		}
	}
	p, _ := compileCORS(&lb.CORS{AllowOrigins: []string{"*"}, MaxAge: time.Second})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header["Origin"] = []string{"https://a.example", "https://b.example"}
	if o := p.allowedOrigin(r); o != "" {
		t.Errorf("two Origin headers: allowed %q", o)
	}
}

func TestCompileCORSErrors(t *testing.T) {
	for _, bad := range []lb.CORS{
		{AllowOrigins: []string{"www.foo.com"}, MaxAge: time.Second},
		{AllowOrigins: []string{"https://a.*.com"}, MaxAge: time.Second},
		{AllowMethods: []string{"GET POST"}, MaxAge: time.Second},
		{AllowHeaders: []string{"x\r\ny"}, MaxAge: time.Second},
		{ExposeHeaders: []string{""}, MaxAge: time.Second},
		{MaxAge: 0},
		{MaxAge: 1500 * time.Millisecond},
	} {
		if _, err := compileCORS(&bad); err == nil {
			t.Errorf("compileCORS(%+v) accepted it", bad)
		}
	}
}

// corsFixture serves rules with CORS policies, as the conformance test's
// routes have them, through the handler, to one backend that counts the
// requests it gets and answers with a header of its own.
type corsFixture struct {
	h    handler
	hits atomic.Int32
}

func newCORSFixture(t *testing.T) *corsFixture {
	t.Helper()
	f := &corsFixture{}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		w.Header().Set("X-Backend", "yes")
		if r.URL.Query().Get("acao") != "" {
			w.Header().Set("Access-Control-Allow-Origin", r.URL.Query().Get("acao"))
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(backend.Close)
	u, err := url.Parse(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	host, portStr, _ := net.SplitHostPort(u.Host)
	port, _ := strconv.Atoi(portStr)
	forward := []lb.WeightedBackend{{TargetGroup: "g", Weight: 1}}
	rule := func(path string, a lb.Action) lb.Rule {
		return lb.Rule{Name: path, Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: path}}, Action: a}
	}
	c, err := Compile(Spec{
		TargetGroups: []lb.TargetGroup{{Name: "g", Protocol: lb.ProtocolHTTP, Targets: []lb.Target{{IP: host, Port: int32(port)}}}},
		Listeners: []lb.Listener{{Name: "http", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
			rule("/cors-1", lb.Action{Forward: forward, CORS: &lb.CORS{
				AllowOrigins: []string{"https://www.foo.com", "https://*.bar.com"},
				AllowMethods: []string{"GET", "OPTIONS"}, AllowHeaders: []string{"x-header-1", "x-header-2"},
				ExposeHeaders: []string{"x-header-3", "x-header-4"}, AllowCredentials: true, MaxAge: time.Hour,
			}}),
			rule("/wild-unauth", lb.Action{Forward: forward,
				ResponseHeaders: &lb.HeaderModifier{Set: []lb.Header{{Name: "X-Modified", Value: "yes"}}},
				CORS: &lb.CORS{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"},
					ExposeHeaders: []string{"*"}, MaxAge: 5 * time.Second}}),
			rule("/wild-auth", lb.Action{Forward: forward, CORS: &lb.CORS{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"},
				AllowHeaders: []string{"*"}, ExposeHeaders: []string{"x-first", "*"}, AllowCredentials: true, MaxAge: 5 * time.Second}}),
			rule("/moved", lb.Action{Redirect: &lb.Redirect{Hostname: "example.org", StatusCode: 302},
				CORS: &lb.CORS{AllowOrigins: []string{"https://www.foo.com"}, MaxAge: time.Minute}}),
			rule("/broken", lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 500},
				CORS: &lb.CORS{AllowOrigins: []string{"https://www.foo.com"}, MaxAge: time.Minute}}),
			rule("/plain", lb.Action{Forward: forward}),
		}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	f.h = handler{current: func() *table { return c.tables[0] }, fwd: newForwarder(tr, tr, t.Logf)}
	return f
}

// serve sends one request through the handler and returns its response's
// status and headers, and whether it reached the backend.
func (f *corsFixture) serve(method, target string, headers map[string]string) (int, http.Header, bool) {
	r := httptest.NewRequest(method, "http://gw.example"+target, nil)
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	before := f.hits.Load()
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w.Code, w.Result().Header, f.hits.Load() > before
}

// corsHeaders are the response headers the policy writes.
var corsHeaders = []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers", "Access-Control-Expose-Headers", "Access-Control-Max-Age"}

// TestCORSPreflight checks that preflights are answered by the load
// balancer (never the backend) with 204 and the policy's headers for an
// allowed origin, none for another, and with "*" answered as the API
// says with and without credentials.
func TestCORSPreflight(t *testing.T) {
	f := newCORSFixture(t)
	preflight := func(origin, method, headers string) map[string]string {
		h := map[string]string{"Origin": origin, "Access-Control-Request-Method": method}
		if headers != "" {
			h["Access-Control-Request-Headers"] = headers
		}
		return h
	}
	for _, tc := range []struct {
		name    string
		path    string
		headers map[string]string
		// want are the CORS headers expected, the others absent.
		want map[string]string
	}{
		{"exact origin", "/cors-1", preflight("https://www.foo.com", "GET", "x-header-1, x-header-2"), map[string]string{
			"Access-Control-Allow-Origin": "https://www.foo.com", "Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods": "GET, OPTIONS", "Access-Control-Allow-Headers": "x-header-1, x-header-2",
			"Access-Control-Expose-Headers": "x-header-3, x-header-4", "Access-Control-Max-Age": "3600"}},
		{"wildcard origin, labels to its left", "/cors-1", preflight("https://xpto.www.bar.com", "GET", ""), map[string]string{
			"Access-Control-Allow-Origin": "https://xpto.www.bar.com", "Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods": "GET, OPTIONS", "Access-Control-Allow-Headers": "x-header-1, x-header-2",
			"Access-Control-Expose-Headers": "x-header-3, x-header-4", "Access-Control-Max-Age": "3600"}},
		{"origin not allowed", "/cors-1", preflight("https://foobar.com", "GET", ""), nil},
		{"null origin", "/cors-1", preflight("null", "GET", ""), nil},
		{"any, no credentials: stars", "/wild-unauth", preflight("https://foobar.com:12345", "PUT", "x-a, x-b"), map[string]string{
			"Access-Control-Allow-Origin": "https://foobar.com:12345", "Access-Control-Allow-Methods": "*",
			"Access-Control-Allow-Headers": "*", "Access-Control-Expose-Headers": "*", "Access-Control-Max-Age": "5"}},
		{"any, credentials: echoes", "/wild-auth", preflight("https://other.foo.com", "PUT", "x-header-1,  x-header-2, bad header"), map[string]string{
			"Access-Control-Allow-Origin": "https://other.foo.com", "Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods": "PUT", "Access-Control-Allow-Headers": "x-header-1, x-header-2",
			"Access-Control-Expose-Headers": "x-first", "Access-Control-Max-Age": "5"}},
		{"any, credentials, no headers requested", "/wild-auth", preflight("https://other.foo.com", "PUT", ""), map[string]string{
			"Access-Control-Allow-Origin": "https://other.foo.com", "Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods": "PUT", "Access-Control-Expose-Headers": "x-first", "Access-Control-Max-Age": "5"}},
		{"on a redirect", "/moved", preflight("https://www.foo.com", "GET", ""), map[string]string{
			"Access-Control-Allow-Origin": "https://www.foo.com", "Access-Control-Max-Age": "60"}},
		{"on a fixed response", "/broken", preflight("https://www.foo.com", "GET", ""), map[string]string{
			"Access-Control-Allow-Origin": "https://www.foo.com", "Access-Control-Max-Age": "60"}},
	} {
		code, h, reached := f.serve(http.MethodOptions, tc.path, tc.headers)
		if code != http.StatusNoContent || reached {
			t.Errorf("%s: status %d, reached the backend %v; want 204 from the load balancer", tc.name, code, reached)
		}
		for _, name := range corsHeaders {
			if got, want := strings.Join(h.Values(name), ","), tc.want[name]; got != want {
				t.Errorf("%s: %s is %q, want %q", tc.name, name, got, want)
			}
		}
		if h.Get("Location") != "" {
			t.Errorf("%s: a preflight was redirected", tc.name)
		}
	}
	// The rule's response modifier applies to its preflight answers too.
	if _, h, _ := f.serve(http.MethodOptions, "/wild-unauth", preflight("https://a.example", "GET", "")); h.Get("X-Modified") != "yes" {
		t.Errorf("preflight answer without the rule's response modifier: %v", h)
	}
	// Not preflights: an OPTIONS without Access-Control-Request-Method is
	// an actual request, and a rule without CORS forwards every OPTIONS.
	for _, tc := range []struct {
		path    string
		headers map[string]string
	}{
		{"/cors-1", map[string]string{"Origin": "https://www.foo.com"}},
		{"/plain", preflight("https://www.foo.com", "GET", "")},
	} {
		if code, h, reached := f.serve(http.MethodOptions, tc.path, tc.headers); code != http.StatusOK || !reached || h.Get("Access-Control-Max-Age") != "" {
			t.Errorf("OPTIONS %s %v: status %d, reached the backend %v, headers %v; want it forwarded", tc.path, tc.headers, code, reached, h)
		}
	}
}

// TestCORSActualRequests checks the headers added to the responses of
// other requests: for an allowed origin, whatever answers (the backend,
// whose own CORS headers are replaced, a redirect, a fixed response); none
// for another origin or none; Vary: Origin on every one.
func TestCORSActualRequests(t *testing.T) {
	f := newCORSFixture(t)
	for _, tc := range []struct {
		name, method, target, origin string
		code                         int
		want                         map[string]string
	}{
		{"exact origin", "GET", "/cors-1", "https://www.foo.com", 200, map[string]string{
			"Access-Control-Allow-Origin": "https://www.foo.com", "Access-Control-Allow-Credentials": "true",
			"Access-Control-Expose-Headers": "x-header-3, x-header-4"}},
		{"wildcard origin", "GET", "/cors-1", "https://www.bar.com", 200, map[string]string{
			"Access-Control-Allow-Origin": "https://www.bar.com", "Access-Control-Allow-Credentials": "true",
			"Access-Control-Expose-Headers": "x-header-3, x-header-4"}},
		{"the backend's own header replaced", "GET", "/cors-1?acao=https://evil.example", "https://www.foo.com", 200, map[string]string{
			"Access-Control-Allow-Origin": "https://www.foo.com", "Access-Control-Allow-Credentials": "true",
			"Access-Control-Expose-Headers": "x-header-3, x-header-4"}},
		{"origin not allowed", "GET", "/cors-1", "https://foobar.com", 200, nil},
		{"no origin", "GET", "/cors-1", "", 200, nil},
		{"any origin with a port", "PUT", "/wild-unauth", "https://foobar.com:12345", 200, map[string]string{
			"Access-Control-Allow-Origin": "https://foobar.com:12345", "Access-Control-Expose-Headers": "*"}},
		{"exposed star spelled out with credentials", "GET", "/wild-auth", "https://other.foo.com", 200, map[string]string{
			"Access-Control-Allow-Origin": "https://other.foo.com", "Access-Control-Allow-Credentials": "true",
			"Access-Control-Expose-Headers": "x-first, Content-Length, Date, Vary, X-Backend"}},
		{"redirect", "GET", "/moved", "https://www.foo.com", 302, map[string]string{"Access-Control-Allow-Origin": "https://www.foo.com"}},
		{"fixed response", "GET", "/broken", "https://www.foo.com", 500, map[string]string{"Access-Control-Allow-Origin": "https://www.foo.com"}},
	} {
		headers := map[string]string{}
		if tc.origin != "" {
			headers["Origin"] = tc.origin
		}
		code, h, _ := f.serve(tc.method, tc.target, headers)
		if code != tc.code {
			t.Errorf("%s: status %d, want %d", tc.name, code, tc.code)
		}
		for _, name := range corsHeaders {
			if got, want := strings.Join(h.Values(name), ","), tc.want[name]; got != want {
				t.Errorf("%s: %s is %q, want %q", tc.name, name, got, want)
			}
		}
		if v := h.Values("Vary"); len(v) != 1 || v[0] != "Origin" {
			t.Errorf("%s: Vary is %q, want Origin", tc.name, v)
		}
	}
	if _, h, _ := f.serve("GET", "/plain", map[string]string{"Origin": "https://www.foo.com"}); h.Get("Vary") != "" || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a rule without CORS added CORS headers: %v", h)
	}
}
