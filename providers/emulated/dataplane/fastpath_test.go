package dataplane

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// proxyFixture is a Server with one HTTP listener whose rules forward to
// the group "g", holding the one target backend.
type proxyFixture struct {
	base   string // http://addr:port
	client *http.Client
}

func newProxyFixture(t testing.TB, backend *httptest.Server, rules ...lb.Rule) *proxyFixture {
	t.Helper()
	u, err := url.Parse(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	host, portStr, _ := net.SplitHostPort(u.Host)
	port, _ := strconv.Atoi(portStr)
	addr, lport := freePort(t)
	c, err := Compile(Spec{
		TargetGroups: []lb.TargetGroup{{Name: "g", Protocol: lb.ProtocolHTTP, Targets: []lb.Target{{IP: host, Port: int32(port)}}}},
		Listeners:    []lb.Listener{{Name: "http", Port: lport, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: rules}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Config{Address: addr})
	t.Cleanup(func() { _ = srv.Close() })
	if st := srv.Apply(c); !st[0].Bound {
		t.Fatal(st[0].Error)
	}
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &proxyFixture{base: fmt.Sprintf("http://%s:%d", addr, lport), client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// freePort returns 127.0.0.1 and a port free on it.
func freePort(t testing.TB) (netip.Addr, int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return netip.MustParseAddr("127.0.0.1"), int32(ln.Addr().(*net.TCPAddr).Port)
}

func forwardRule(path string, a lb.Action) lb.Rule {
	a.Forward = []lb.WeightedBackend{{TargetGroup: "g", Weight: 1}}
	return lb.Rule{Name: path, Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: path}}, Action: a}
}

func (f *proxyFixture) get(t *testing.T, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vv := range header {
		req.Header[k] = vv
	}
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// TestFastPathSendsWhatTheFullPathSends compares what a backend receives
// for the same request through the fast path and through the full one
// (forced by a request header modifier, whose header is then left out).
func TestFastPathSendsWhatTheFullPathSends(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The request as received, with the path's first segment (the
		// rule's prefix) dropped.
		lines := []string{r.Method + " " + strings.TrimPrefix(strings.TrimPrefix(r.RequestURI, "/fast"), "/full") + " " + r.Proto, "Host: " + r.Host}
		for k, vv := range r.Header {
			if k == "X-Path" || k == "Accept-Encoding" { // the transport's own, answered transparently
				continue
			}
			lines = append(lines, k+": "+strings.Join(vv, " | "))
		}
		slices.Sort(lines[2:])
		_, _ = io.WriteString(w, strings.Join(lines, "\n"))
	}))
	t.Cleanup(backend.Close)
	f := newProxyFixture(t, backend,
		forwardRule("/fast", lb.Action{}),
		forwardRule("/full", lb.Action{RequestHeaders: &lb.HeaderModifier{Set: []lb.Header{{Name: "X-Path", Value: "full"}}}}),
		forwardRule("/rewritten", lb.Action{Rewrite: &lb.Rewrite{Hostname: "backend.test",
			Path: &lb.PathRewrite{Type: lb.RewritePrefix, Value: "/new"}}}),
	)
	header := http.Header{
		"User-Agent":          {"bench/1"},
		"X-Forwarded-For":     {"10.0.0.1", "10.0.0.2"},
		"X-Forwarded-Host":    {"spoofed.test"},
		"X-Forwarded-Proto":   {"https"},
		"Forwarded":           {"for=10.0.0.1"},
		"Connection":          {"X-Hop"},
		"X-Hop":               {"1"},
		"Te":                  {"trailers"},
		"Proxy-Authorization": {"Basic eA=="},
		"X-Multi":             {"a", "b"},
	}
	_, fast := f.get(t, "/fast/a%2Fb/c?x=1&y", header)
	_, full := f.get(t, "/full/a%2Fb/c?x=1&y", header)
	if fast != full {
		t.Errorf("the fast path sent\n%s\n\nthe full path sent\n%s", fast, full)
	}
	for _, want := range []string{"GET /a%2Fb/c?x=1&y HTTP/1.1", "X-Forwarded-For: 10.0.0.1, 10.0.0.2, 127.0.0.1", "Te: trailers", "X-Multi: a | b"} {
		if !strings.Contains(fast, want) {
			t.Errorf("the backend did not receive %q; it got\n%s", want, fast)
		}
	}
	for _, unwanted := range []string{"X-Hop", "Proxy-Authorization", "Forwarded:", "spoofed"} {
		if strings.Contains(fast, unwanted) {
			t.Errorf("the backend received %q; it got\n%s", unwanted, fast)
		}
	}
	if _, got := f.get(t, "/rewritten/x?q", nil); !strings.HasPrefix(got, "GET /new/x?q HTTP/1.1\nHost: backend.test\n") {
		t.Errorf("a rewritten request arrived as\n%s", got)
	}
}

// TestFastPathResponse checks what the client gets back: the backend's
// headers without hop-by-hop ones, the rule's response modifier, a chunked
// body, trailers, and a HEAD without body.
func TestFastPathResponse(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Connection", "X-Private")
		h.Set("X-Private", "secret")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("X-Backend", "yes")
		h.Set("Trailer", "X-Sum")
		w.WriteHeader(http.StatusCreated)
		if r.Method == http.MethodHead {
			return
		}
		for i := range 3 {
			_, _ = fmt.Fprintf(w, "part%d ", i)
			w.(http.Flusher).Flush()
		}
		h.Set("X-Sum", "42")
	}))
	t.Cleanup(backend.Close)
	f := newProxyFixture(t, backend, forwardRule("/", lb.Action{ResponseHeaders: &lb.HeaderModifier{
		Set: []lb.Header{{Name: "X-Backend", Value: "modified"}}, Add: []lb.Header{{Name: "X-Added", Value: "1"}}}}))
	for range 2 { // the second over the pooled connection
		resp, body := f.get(t, "/x", nil)
		if resp.StatusCode != http.StatusCreated || body != "part0 part1 part2 " {
			t.Fatalf("got %d %q, want 201 with the three parts", resp.StatusCode, body)
		}
		if got := resp.Trailer.Get("X-Sum"); got != "42" {
			t.Errorf("trailer X-Sum = %q, want 42", got)
		}
		h := resp.Header
		if h.Get("X-Private") != "" || h.Get("Keep-Alive") != "" {
			t.Errorf("hop-by-hop headers reached the client: %v", h)
		}
		if h.Get("X-Backend") != "modified" || h.Get("X-Added") != "1" {
			t.Errorf("the response modifier was not applied: %v", h)
		}
	}
	resp, err := f.client.Head(f.base + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Backend") != "modified" {
		t.Errorf("HEAD: got %d %v", resp.StatusCode, resp.Header)
	}
}

// TestFastPathStreams checks that a response without a length reaches the
// client as the backend writes it, not when it ends.
func TestFastPathStreams(t *testing.T) {
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, "second\n")
	}))
	t.Cleanup(backend.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	f := newProxyFixture(t, backend, forwardRule("/", lb.Action{}))
	resp, err := f.client.Get(f.base + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Read before the backend may finish: this blocks (until the client's
	// timeout) if the proxy held the first part back.
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	close(release)
}

// TestFastPathReplacesClosedConnections checks that a pooled connection
// the backend closed while idle costs the client nothing, and that a
// backend that is gone is answered 502.
func TestFastPathReplacesClosedConnections(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	f := newProxyFixture(t, backend, forwardRule("/", lb.Action{}))
	for i := range 3 {
		if resp, body := f.get(t, "/", nil); resp.StatusCode != http.StatusOK || body != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		// Closes the proxy's idle connection, as a backend's idle timeout
		// would.
		backend.CloseClientConnections()
	}
	backend.Close()
	if resp, _ := f.get(t, "/", nil); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("a stopped backend answered %d, want 502", resp.StatusCode)
	}
}

// TestFastPathEligibility pins which requests and rules leave the fast path
// for the full one.
func TestFastPathEligibility(t *testing.T) {
	c, err := Compile(Spec{
		TargetGroups: []lb.TargetGroup{
			{Name: "g", Protocol: lb.ProtocolHTTP, Targets: []lb.Target{{IP: "127.0.0.1", Port: 1}}},
			{Name: "h2c", Protocol: lb.ProtocolH2C, Targets: []lb.Target{{IP: "127.0.0.1", Port: 1}}},
		},
		Listeners: []lb.Listener{{Name: "http", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
			forwardRule("/plain", lb.Action{}),
			forwardRule("/timeout", lb.Action{Timeouts: &lb.Timeouts{Request: time.Second}}),
			forwardRule("/mirror", lb.Action{Mirrors: []lb.Mirror{{TargetGroup: "g", Percent: 100}}}),
			forwardRule("/headers", lb.Action{RequestHeaders: &lb.HeaderModifier{Set: []lb.Header{{Name: "X-A", Value: "1"}}}}),
			{Name: "h2c", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/h2c"}},
				Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "h2c", Weight: 1}}}},
		}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path string
		header       http.Header
		body         string
		want         bool
	}{
		{"GET", "/plain", nil, "", true},
		{"HEAD", "/plain", nil, "", true},
		{"POST", "/plain", nil, "", false},
		{"POST", "/plain", nil, "body", false},
		{"GET", "/plain", http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}, "", false},
		{"GET", "/plain", http.Header{"Expect": {"100-continue"}}, "", false},
		{"GET", "/timeout", nil, "", false},
		{"GET", "/mirror", nil, "", false},
		{"GET", "/headers", nil, "", false},
		{"GET", "/h2c", nil, "", false},
	} {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		r := httptest.NewRequest(tc.method, tc.path, body)
		for k, vv := range tc.header {
			r.Header[k] = vv
		}
		rl := c.tables[0].route(r)
		if rl == nil {
			t.Fatalf("%s %s: no rule", tc.method, tc.path)
		}
		if got := fastEligible(r, &rl.action, &rl.action.backends[0]); got != tc.want {
			t.Errorf("%s %s %v: eligible %v, want %v", tc.method, tc.path, tc.header, got, tc.want)
		}
	}
	if r := httptest.NewRequest("GET", "/plain", nil); r.Body != http.NoBody {
		t.Fatal("the test's requests have a body")
	}
}

// TestFastPathHeaderCacheIsNotShared checks that the header lines a pooled
// connection caches come out the same every time, whatever the rule's
// response modifier added to them before.
func TestFastPathHeaderCacheIsNotShared(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Same", "backend")
	}))
	t.Cleanup(backend.Close)
	f := newProxyFixture(t, backend, forwardRule("/", lb.Action{ResponseHeaders: &lb.HeaderModifier{
		Add: []lb.Header{{Name: "X-Same", Value: "rule"}}}}))
	for i := range 3 {
		resp, _ := f.get(t, "/", nil)
		if got := resp.Header.Values("X-Same"); !slices.Equal(got, []string{"backend", "rule"}) {
			t.Fatalf("response %d: X-Same = %q, want [backend rule]", i, got)
		}
	}
}

// TestFastPathClientLeaves checks that a client that gives up ends the
// request to the backend, as the full path's Transport does, rather than
// leaving it waiting for an answer nobody reads.
func TestFastPathClientLeaves(t *testing.T) {
	ended := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // the proxy closed the connection
		close(ended)
	}))
	t.Cleanup(backend.Close)
	f := newProxyFixture(t, backend, forwardRule("/", lb.Action{}))
	f.client.Timeout = 100 * time.Millisecond
	if resp, err := f.client.Get(f.base + "/hang"); err == nil {
		resp.Body.Close()
		t.Fatalf("got %d from a backend that never answers", resp.StatusCode)
	}
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the backend's request was still open 10s after the client left")
	}
}

// TestFastPathSlowBackend checks that an answer slower than watchAfter,
// and a body that pauses for longer, still arrive whole: past it, the
// request's context takes over from the read deadline.
func TestFastPathSlowBackend(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * watchAfter)
		_, _ = io.WriteString(w, "slow ")
		w.(http.Flusher).Flush()
		time.Sleep(2 * watchAfter)
		_, _ = io.WriteString(w, "answer")
	}))
	t.Cleanup(backend.Close)
	f := newProxyFixture(t, backend, forwardRule("/", lb.Action{}))
	for i := range 2 { // the second over the pooled connection
		if resp, body := f.get(t, "/", nil); resp.StatusCode != http.StatusOK || body != "slow answer" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
}

// TestFastPathForwardsInterimResponses: a proxy must forward 1xx answers
// (RFC 9110, 15.2). A backend's 103 Early Hints reaches the client with its
// Link field, and that field stays out of the final response.
func TestFastPathForwardsInterimResponses(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("X-Final", "yes")
		_, _ = io.WriteString(w, "done")
	}))
	t.Cleanup(backend.Close)
	f := newProxyFixture(t, backend, forwardRule("/", lb.Action{}))
	for range 2 { // the second over the pooled connection
		var interim []string
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			interim = append(interim, fmt.Sprintf("%d %s", code, h.Get("Link")))
			return nil
		}}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, f.base+"/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := []string{"103 </style.css>; rel=preload; as=style"}; !slices.Equal(interim, want) {
			t.Errorf("interim answers %q, want %q", interim, want)
		}
		if resp.StatusCode != http.StatusOK || string(body) != "done" || resp.Header.Get("X-Final") != "yes" || resp.Header.Get("Link") != "" {
			t.Errorf("final answer %d %q %v, want 200 done with X-Final and no Link", resp.StatusCode, body, resp.Header)
		}
	}
}
