package emulated_test

import (
	"bufio"
	"context"
	"crypto/sha1" //nolint:gosec // RFC 6455 prescribes SHA-1 for the handshake
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// seen is what an echo backend received; it answers with it as JSON.
type seen struct {
	Backend string      `json:"backend"`
	Host    string      `json:"host"`
	Path    string      `json:"path"`
	Query   string      `json:"query"`
	Proto   string      `json:"proto"`
	Body    string      `json:"body"`
	Header  http.Header `json:"header"`
}

// echo is a backend that records the requests it gets. Like the conformance
// suite's echo server, it sleeps for ?delay= and sets the response headers
// listed in X-Echo-Set-Header ("name:value,name:value").
type echo struct {
	target lb.Target
	count  atomic.Int64
	mu     sync.Mutex
	last   seen
}

func newEcho(t testing.TB, name string, h2cOnly bool) *echo {
	t.Helper()
	e := &echo{}
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.URL.Query().Get("delay")); err == nil {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		body, _ := io.ReadAll(r.Body)
		got := seen{Backend: name, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery, Proto: r.Proto, Body: string(body), Header: r.Header}
		e.mu.Lock()
		e.last = got
		e.mu.Unlock()
		e.count.Add(1)
		for kv := range strings.SplitSeq(r.Header.Get("X-Echo-Set-Header"), ",") {
			if k, v, ok := strings.Cut(kv, ":"); ok {
				w.Header().Add(k, v)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(got)
	}))
	if h2cOnly {
		// Only HTTP/2 with prior knowledge: an HTTP/1.1 request fails, so a
		// 200 proves the proxy spoke h2c.
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		s.Config.Protocols = &p
	}
	s.Start()
	t.Cleanup(s.Close)
	ap := netip.MustParseAddrPort(s.Listener.Addr().String())
	e.target = lb.Target{IP: ap.Addr().String(), Port: int32(ap.Port())}
	return e
}

func (e *echo) lastSeen() seen {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last
}

// decode reads an echo backend's answer from a response body.
func decode(t testing.TB, r response) seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal([]byte(r.body), &s); err != nil {
		t.Fatalf("status %d, body %q is not an echo: %v", r.status, r.body, err)
	}
	return s
}

func rule(name string, path string, a lb.Action) lb.Rule {
	return lb.Rule{Name: name, Match: lb.Match{Path: prefix(path)}, Action: a}
}

func TestHeaderModifiers(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	v1, v2 := newEcho(t, "v1", false), newEcho(t, "v2", false)
	set := func(kv ...string) []lb.Header {
		var hs []lb.Header
		for i := 0; i < len(kv); i += 2 {
			hs = append(hs, lb.Header{Name: kv[i], Value: kv[i+1]})
		}
		return hs
	}
	reqMod := &lb.HeaderModifier{Set: set("x-header-set", "set-overwrites-values"),
		Add: set("X-Header-Add", "header-val-1", "x-header-add-append", "header-val-2"), Remove: []string{"X-HEADER-REMOVE"}}
	respMod := &lb.HeaderModifier{Set: set("X-Header-Set", "header-set"),
		Add: set("x-header-add", "header-add", "X-Lowercase-Add", "lowercase-add"), Remove: []string{"x-header-remove"}}
	m := &lb.LoadBalancer{
		Owner:        owner("headers"),
		TargetGroups: []lb.TargetGroup{group("v1", v1.target), group("v2", v2.target)},
		Listeners: []lb.Listener{{Name: "http", Port: 8080, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
			rule("request", "/request", lb.Action{Forward: []lb.WeightedBackend{to("v1", 1)}, RequestHeaders: reqMod}),
			rule("response", "/response", lb.Action{Forward: []lb.WeightedBackend{to("v1", 1)}, ResponseHeaders: respMod}),
			rule("per-backend", "/per-backend", lb.Action{
				RequestHeaders: &lb.HeaderModifier{Set: set("Backend", "rule"), Add: set("X-Order", "rule")},
				Forward: []lb.WeightedBackend{
					{TargetGroup: "v1", Weight: 1, RequestHeaders: &lb.HeaderModifier{Set: set("backend", "v1"), Add: set("X-Order", "backend")},
						ResponseHeaders: &lb.HeaderModifier{Set: set("X-Answered-By", "v1")}},
					{TargetGroup: "v2", Weight: 1, RequestHeaders: &lb.HeaderModifier{Set: set("backend", "v2"), Add: set("X-Order", "backend")},
						ResponseHeaders: &lb.HeaderModifier{Set: set("X-Answered-By", "v2")}},
				}}),
			rule("redirect", "/redirect", lb.Action{Redirect: &lb.Redirect{Hostname: "example.org"}, ResponseHeaders: respMod}),
			rule("fixed", "/fixed", lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 418}, ResponseHeaders: respMod}),
		}}}}},
	}
	st := ensure(t, p, m)
	base := "http://" + st.Addresses[0].Value + ":8080"
	c := httpClient()
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}

	got := decode(t, do(t, c, "GET", base+"/request", "h.test", hdr(
		"X-Header-Set", "old", "X-Header-Add-Append", "append-val-1", "X-Header-Remove", "gone", "X-Other", "kept")))
	for name, want := range map[string]string{"X-Header-Set": "set-overwrites-values", "X-Header-Add": "header-val-1",
		"X-Header-Add-Append": "append-val-1,header-val-2", "X-Other": "kept"} {
		if v := strings.Join(got.Header[name], ","); v != want {
			t.Errorf("request header %s = %q, want %q", name, v, want)
		}
	}
	if _, ok := got.Header["X-Header-Remove"]; ok {
		t.Errorf("request header X-Header-Remove reached the backend")
	}

	r := do(t, c, "GET", base+"/response", "h.test", hdr("X-Echo-Set-Header",
		"x-header-set:original-val-set,x-header-add:original-val-add,x-header-remove:original-val-remove,Another-Header:another"))
	for name, want := range map[string]string{"X-Header-Set": "header-set", "X-Header-Add": "original-val-add,header-add",
		"X-Lowercase-Add": "lowercase-add", "Another-Header": "another"} {
		if v := strings.Join(r.header[name], ","); v != want {
			t.Errorf("response header %s = %q, want %q", name, v, want)
		}
	}
	if v, ok := r.header["X-Header-Remove"]; ok {
		t.Errorf("response header X-Header-Remove = %q, want it removed", v)
	}

	counts := map[string]int{}
	for range 40 {
		r := do(t, c, "GET", base+"/per-backend", "h.test", nil)
		got := decode(t, r)
		counts[got.Backend]++
		// The backend's modifiers run after the rule's: its Set wins and its
		// Add comes second.
		if b := got.Header["Backend"]; len(b) != 1 || b[0] != got.Backend {
			t.Errorf("backend %s got Backend header %q", got.Backend, b)
		}
		if o := strings.Join(got.Header["X-Order"], ","); o != "rule,backend" {
			t.Errorf("X-Order = %q, want rule,backend", o)
		}
		if a := r.header.Get("X-Answered-By"); a != got.Backend {
			t.Errorf("response from %s carries X-Answered-By %q", got.Backend, a)
		}
	}
	if counts["v1"] == 0 || counts["v2"] == 0 {
		t.Errorf("per-backend split %v, want both backends", counts)
	}

	for _, path := range []string{"/redirect", "/fixed"} {
		r := do(t, c, "GET", base+path, "h.test", nil)
		if r.header.Get("X-Header-Set") != "header-set" || r.header.Get("X-Lowercase-Add") != "lowercase-add" {
			t.Errorf("%s (%d): response modifiers not applied: %v", path, r.status, r.header)
		}
	}
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	redirect := func(name, path string, rd lb.Redirect) lb.Rule {
		return rule(name, path, lb.Action{Redirect: &rd})
	}
	rules := []lb.Rule{
		redirect("nil-nil", "/scheme-nil-and-port-nil", lb.Redirect{Hostname: "example.org"}),
		redirect("nil-80", "/scheme-nil-and-port-80", lb.Redirect{Hostname: "example.org", Port: 80}),
		redirect("https-nil", "/scheme-https-and-port-nil", lb.Redirect{Scheme: "https", Hostname: "example.org"}),
		redirect("https-8443", "/scheme-https-and-port-8443", lb.Redirect{Scheme: "https", Hostname: "example.org", Port: 8443}),
		redirect("http-nil", "/scheme-http-and-port-nil", lb.Redirect{Scheme: "http", Hostname: "example.org"}),
		redirect("prefix", "/original-prefix", lb.Redirect{Path: &lb.PathRewrite{Type: lb.RewritePrefix, Value: "/replacement-prefix"}}),
		redirect("full", "/full", lb.Redirect{Path: &lb.PathRewrite{Type: lb.RewriteFullPath, Value: "/full-path-replacement"}, StatusCode: 301}),
		redirect("s303", "/303", lb.Redirect{StatusCode: 303}),
		redirect("s307", "/307", lb.Redirect{StatusCode: 307}),
		redirect("s308", "/308", lb.Redirect{StatusCode: 308}),
	}
	cert := selfSigned(t, "redirect", "example.org")
	m := &lb.LoadBalancer{
		Owner: owner("redirects"),
		Listeners: []lb.Listener{
			{Name: "http", Port: 8080, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: rules}}},
			{Name: "https", Port: 8443, Protocol: lb.ProtocolHTTPS, VirtualHosts: []lb.VirtualHost{{Certificates: []lb.Certificate{cert}, Rules: rules}}},
		},
	}
	st := ensure(t, p, m)
	addr := st.Addresses[0].Value
	c := httpClient()
	c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{ServerName: "example.org", InsecureSkipVerify: true} //nolint:gosec // test certificate
	for _, tc := range []struct {
		url      string
		status   int
		location string
	}{
		{"http://" + addr + ":8080/scheme-nil-and-port-nil", 302, "http://example.org:8080/scheme-nil-and-port-nil"},
		{"http://" + addr + ":8080/scheme-nil-and-port-80", 302, "http://example.org/scheme-nil-and-port-80"},
		{"http://" + addr + ":8080/scheme-https-and-port-nil", 302, "https://example.org/scheme-https-and-port-nil"},
		{"http://" + addr + ":8080/scheme-https-and-port-8443", 302, "https://example.org:8443/scheme-https-and-port-8443"},
		{"https://" + addr + ":8443/scheme-nil-and-port-nil", 302, "https://example.org:8443/scheme-nil-and-port-nil"},
		{"https://" + addr + ":8443/scheme-http-and-port-nil", 302, "http://example.org/scheme-http-and-port-nil"},
		{"http://" + addr + ":8080/original-prefix/lemon?x=1", 302, "http://h.test:8080/replacement-prefix/lemon?x=1"},
		{"http://" + addr + ":8080/original-prefix", 302, "http://h.test:8080/replacement-prefix"},
		{"http://" + addr + ":8080/full/path/original", 301, "http://h.test:8080/full-path-replacement"},
		{"http://" + addr + ":8080/303", 303, "http://h.test:8080/303"},
		{"http://" + addr + ":8080/307", 307, "http://h.test:8080/307"},
		{"https://" + addr + ":8443/308", 308, "https://h.test:8443/308"},
	} {
		host := "h.test"
		if strings.HasPrefix(tc.url, "https") {
			host = "example.org" // the certificate's name, so the request is not misdirected
			tc.location = strings.Replace(tc.location, "h.test", "example.org", 1)
		}
		r := do(t, c, "GET", tc.url, host, nil)
		if r.status != tc.status || r.header.Get("Location") != tc.location {
			t.Errorf("%s: got %d %q, want %d %q", tc.url, r.status, r.header.Get("Location"), tc.status, tc.location)
		}
	}
}

func TestRewrite(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	v1 := newEcho(t, "v1", false)
	rewrite := func(name, path string, rw lb.Rewrite) lb.Rule {
		return rule(name, path, lb.Action{Forward: []lb.WeightedBackend{to("v1", 1)}, Rewrite: &rw})
	}
	prefixTo := func(v string) *lb.PathRewrite { return &lb.PathRewrite{Type: lb.RewritePrefix, Value: v} }
	m := &lb.LoadBalancer{
		Owner:        owner("rewrite"),
		TargetGroups: []lb.TargetGroup{group("v1", v1.target)},
		Listeners: []lb.Listener{{Name: "http", Port: 8080, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
			rewrite("prefix", "/prefix/one", lb.Rewrite{Path: prefixTo("/one")}),
			rewrite("strip", "/strip-prefix", lb.Rewrite{Path: prefixTo("/")}),
			rewrite("empty", "/empty/", lb.Rewrite{Path: prefixTo("")}),
			rewrite("slash", "/slash", lb.Rewrite{Path: prefixTo("/xyz/")}),
			rewrite("full", "/full/one", lb.Rewrite{Path: &lb.PathRewrite{Type: lb.RewriteFullPath, Value: "/one"}}),
			rewrite("host", "/host", lb.Rewrite{Hostname: "one.example.org"}),
		}}}}},
	}
	st := ensure(t, p, m)
	base := "http://" + st.Addresses[0].Value + ":8080"
	c := httpClient()
	for _, tc := range []struct{ path, wantPath, wantQuery, wantHost string }{
		{"/prefix/one/two", "/one/two", "", "rewrite.example"},
		{"/prefix/one", "/one", "", "rewrite.example"},
		{"/strip-prefix/three", "/three", "", "rewrite.example"},
		{"/strip-prefix", "/", "", "rewrite.example"},
		{"/strip-prefix/", "/", "", "rewrite.example"},
		{"/empty/bar", "/bar", "", "rewrite.example"},
		{"/empty", "/", "", "rewrite.example"},
		{"/slash/bar?q=1", "/xyz/bar", "q=1", "rewrite.example"},
		{"/slash/", "/xyz/", "", "rewrite.example"},
		{"/full/one/two?q=1", "/one", "q=1", "rewrite.example"},
		{"/host/x", "/host/x", "", "one.example.org"},
	} {
		got := decode(t, do(t, c, "GET", base+tc.path, "rewrite.example", nil))
		if got.Path != tc.wantPath || got.Query != tc.wantQuery || got.Host != tc.wantHost {
			t.Errorf("%s reached the backend as host %q path %q query %q, want %q %q %q",
				tc.path, got.Host, got.Path, got.Query, tc.wantHost, tc.wantPath, tc.wantQuery)
		}
	}
}

// TestBackendRewrite checks that a backend's URL rewrite changes only the
// requests sent to that backend, and that its fields win over the rule's.
func TestBackendRewrite(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	v1, v2 := newEcho(t, "v1", false), newEcho(t, "v2", false)
	prefixTo := func(v string) *lb.PathRewrite { return &lb.PathRewrite{Type: lb.RewritePrefix, Value: v} }
	fullTo := func(v string) *lb.PathRewrite { return &lb.PathRewrite{Type: lb.RewriteFullPath, Value: v} }
	m := &lb.LoadBalancer{
		Owner:        owner("backend-rewrite"),
		TargetGroups: []lb.TargetGroup{group("v1", v1.target), group("v2", v2.target)},
		Listeners: []lb.Listener{{Name: "http", Port: 8080, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
			// The conformance test's two rules.
			rule("full", "/full", lb.Action{Forward: []lb.WeightedBackend{
				{TargetGroup: "v1", Weight: 1, Rewrite: &lb.Rewrite{Path: fullTo("/rewritten-full")}}}}),
			rule("prefix", "/prefix", lb.Action{Forward: []lb.WeightedBackend{
				{TargetGroup: "v1", Weight: 1, Rewrite: &lb.Rewrite{Path: prefixTo("/rewritten-prefix")}}}}),
			// v1 rewrites its path, v2 its host; the rule rewrites both,
			// so each backend keeps the rule's other field.
			rule("split", "/split", lb.Action{
				Rewrite: &lb.Rewrite{Hostname: "rule.example", Path: prefixTo("/rule")},
				Forward: []lb.WeightedBackend{
					{TargetGroup: "v1", Weight: 1, Rewrite: &lb.Rewrite{Path: fullTo("/v1")}},
					{TargetGroup: "v2", Weight: 1, Rewrite: &lb.Rewrite{Hostname: "v2.example"}},
				}}),
			// The same Service twice, with and without a rewrite: the share
			// without one keeps the request's path.
			rule("half", "/half", lb.Action{Forward: []lb.WeightedBackend{
				{TargetGroup: "v1", Weight: 1, Rewrite: &lb.Rewrite{Path: prefixTo("/rewritten")}},
				{TargetGroup: "v2", Weight: 1},
			}}),
		}}}}},
	}
	st := ensure(t, p, m)
	base := "http://" + st.Addresses[0].Value + ":8080"
	c := httpClient()
	for _, tc := range []struct{ path, wantPath string }{
		{"/full/original", "/rewritten-full"},
		{"/prefix/original", "/rewritten-prefix/original"},
		{"/prefix", "/rewritten-prefix"},
	} {
		got := decode(t, do(t, c, "GET", base+tc.path, "rewrite.example", nil))
		if got.Backend != "v1" || got.Path != tc.wantPath || got.Host != "rewrite.example" {
			t.Errorf("%s reached %s as host %q path %q, want v1 rewrite.example %q", tc.path, got.Backend, got.Host, got.Path, tc.wantPath)
		}
	}
	want := map[string]map[string][2]string{ // path, backend: host, path
		"/split/x": {"v1": {"rule.example", "/v1"}, "v2": {"v2.example", "/rule/x"}},
		"/half/x":  {"v1": {"rewrite.example", "/rewritten/x"}, "v2": {"rewrite.example", "/half/x"}},
	}
	for path, byBackend := range want {
		counts := map[string]int{}
		for range 40 {
			got := decode(t, do(t, c, "GET", base+path, "rewrite.example", nil))
			counts[got.Backend]++
			if w := byBackend[got.Backend]; got.Host != w[0] || got.Path != w[1] {
				t.Errorf("%s reached %s as host %q path %q, want %q %q", path, got.Backend, got.Host, got.Path, w[0], w[1])
			}
		}
		if counts["v1"] == 0 || counts["v2"] == 0 {
			t.Errorf("%s split %v, want both backends", path, counts)
		}
	}
}

// settle waits until a counter stops changing, so that background mirrors
// have landed before it is read.
func settle(n *atomic.Int64) int64 {
	last := n.Load()
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		cur := n.Load()
		if cur == last {
			return cur
		}
		last = cur
	}
	return last
}

func TestMirrors(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	main, all, some := newEcho(t, "main", false), newEcho(t, "all", false), newEcho(t, "some", false)
	stuck := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(stuck.Close)
	slowAddr := netip.MustParseAddrPort(stuck.Listener.Addr().String())
	slow := lb.Target{IP: slowAddr.Addr().String(), Port: int32(slowAddr.Port())}
	m := &lb.LoadBalancer{
		Owner: owner("mirror"),
		TargetGroups: []lb.TargetGroup{group("all", all.target), group("dead", deadTarget(t)), group("main", main.target),
			group("slow", slow), group("some", some.target)},
		Listeners: []lb.Listener{{Name: "http", Port: 8080, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
			rule("mirror", "/mirror", lb.Action{Forward: []lb.WeightedBackend{to("main", 1)},
				RequestHeaders: &lb.HeaderModifier{Set: []lb.Header{{Name: "X-Set", Value: "yes"}}},
				Rewrite:        &lb.Rewrite{Path: &lb.PathRewrite{Type: lb.RewritePrefix, Value: "/copied"}},
				Mirrors:        []lb.Mirror{{TargetGroup: "all", Percent: 100}, {TargetGroup: "dead", Percent: 100}}}),
			rule("percent", "/percent", lb.Action{Forward: []lb.WeightedBackend{to("main", 1)},
				Mirrors: []lb.Mirror{{TargetGroup: "some", Percent: 30}}}),
			rule("slow", "/slow", lb.Action{Forward: []lb.WeightedBackend{to("main", 1)},
				Mirrors: []lb.Mirror{{TargetGroup: "slow", Percent: 100}}}),
		}}}}},
	}
	st := ensure(t, p, m)
	base := "http://" + st.Addresses[0].Value + ":8080"
	c := httpClient()

	// The copy carries the body and the rule's changes; a dead mirror does
	// not affect the client.
	req, _ := http.NewRequest(http.MethodPost, base+"/mirror/x?q=1", strings.NewReader("payload"))
	req.Host = "m.test"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"body":"payload"`) {
		t.Fatalf("mirrored request answered %d %s", resp.StatusCode, body)
	}
	if settle(&all.count) != 1 {
		t.Fatalf("mirror received %d copies, want 1", all.count.Load())
	}
	cp := all.lastSeen()
	if cp.Body != "payload" || cp.Path != "/copied/x" || cp.Query != "q=1" || cp.Host != "m.test" || cp.Header.Get("X-Set") != "yes" {
		t.Errorf("mirror saw %+v", cp)
	}

	// Percent samples: 30% of 1000 requests, within 5 standard deviations.
	const n = 1000
	for range n {
		if r := do(t, c, "GET", base+"/percent", "m.test", nil); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
	}
	if got := settle(&some.count); got < 230 || got > 370 {
		t.Errorf("30%% mirror received %d of %d requests", got, n)
	}

	// A stuck mirror does not slow the client.
	start := time.Now()
	if r := do(t, c, "GET", base+"/slow", "m.test", nil); r.status != 200 || time.Since(start) > time.Second {
		t.Errorf("client got %d after %v behind a stuck mirror", r.status, time.Since(start))
	}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	v1 := newEcho(t, "v1", false)
	timed := func(name, path string, to lb.Timeouts) lb.Rule {
		return rule(name, path, lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "v1", Weight: 1}}, Timeouts: &to,
			ResponseHeaders: &lb.HeaderModifier{Set: []lb.Header{{Name: "X-Rule", Value: name}}}})
	}
	m := &lb.LoadBalancer{
		Owner:        owner("timeouts"),
		TargetGroups: []lb.TargetGroup{group("v1", v1.target)},
		Listeners: []lb.Listener{{Name: "http", Port: 8080, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
			timed("request", "/request-timeout", lb.Timeouts{Request: 300 * time.Millisecond}),
			timed("backend", "/backend-timeout", lb.Timeouts{Backend: 300 * time.Millisecond}),
			timed("both", "/both", lb.Timeouts{Request: 2 * time.Second, Backend: 300 * time.Millisecond}),
			timed("none", "/none", lb.Timeouts{}),
		}}}}},
	}
	st := ensure(t, p, m)
	base := "http://" + st.Addresses[0].Value + ":8080"
	c := httpClient()
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/request-timeout", 200},
		{"/request-timeout?delay=1s", 504},
		{"/backend-timeout", 200},
		{"/backend-timeout?delay=1s", 504},
		{"/both?delay=1s", 504},
		{"/none?delay=1s", 200},
	} {
		start := time.Now()
		r := do(t, c, "GET", base+tc.path, "t.test", nil)
		took := time.Since(start)
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.path, r.status, tc.status)
		}
		if tc.status == 504 && (took > 900*time.Millisecond || r.header.Get("X-Rule") == "") {
			t.Errorf("%s: 504 after %v with headers %v, want it at the timeout with the rule's response headers", tc.path, took, r.header)
		}
	}
}

// TestH2C sends a request with HTTP/2 prior knowledge to the gateway (as the
// conformance suite does) and checks that the proxy speaks h2c to an H2C
// target group whose backend accepts nothing else.
func TestH2C(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	h2 := newEcho(t, "h2c", true)
	m := &lb.LoadBalancer{
		Owner:        owner("h2c"),
		TargetGroups: []lb.TargetGroup{{Name: "h2c", Protocol: lb.ProtocolH2C, Targets: []lb.Target{h2.target}}},
		Listeners: []lb.Listener{{Name: "http", Port: 8080, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
			forward("h2c", lb.Match{}, to("h2c", 1)),
		}}}}},
	}
	st := ensure(t, p, m)
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	priorKnowledge := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: &protos}}
	for name, c := range map[string]*http.Client{"HTTP/1.1 client": httpClient(), "h2c client": priorKnowledge} {
		r := do(t, c, "GET", "http://"+st.Addresses[0].Value+":8080/h2", "h2c.test", nil)
		if r.status != 200 {
			t.Fatalf("%s: status %d %q", name, r.status, r.body)
		}
		if got := decode(t, r); got.Proto != "HTTP/2.0" || got.Host != "h2c.test" {
			t.Errorf("%s: backend saw %s with host %q, want HTTP/2.0 and the client's host", name, got.Proto, got.Host)
		}
	}
}

func TestMisdirectedRequest(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	v1 := newEcho(t, "v1", false)
	cert := selfSigned(t, "any", "example.org", "second-example.org")
	vh := func(host string) lb.VirtualHost {
		return lb.VirtualHost{Hostname: host, Certificates: []lb.Certificate{cert}, Rules: []lb.Rule{forward("for-"+host, lb.Match{}, to("v1", 1))}}
	}
	m := &lb.LoadBalancer{
		Owner:        owner("misdirected"),
		TargetGroups: []lb.TargetGroup{group("v1", v1.target)},
		Listeners: []lb.Listener{{Name: "https", Port: 8443, Protocol: lb.ProtocolHTTPS, VirtualHosts: []lb.VirtualHost{
			vh("second-example.org"), vh("*.wildcard.org"), vh(""),
		}}},
	}
	st := ensure(t, p, m)
	for _, tc := range []struct {
		sni, host string
		status    int
	}{
		{"example.org", "example.org", 200},
		{"example.org", "second-example.org", 421},
		{"second-example.org", "example.org", 421},
		{"a.wildcard.org", "b.wildcard.org", 200},
		{"a.wildcard.org", "second-example.org", 421},
		{"unknown-example.org", "example.org", 200}, // both select the catch-all
	} {
		// HTTP/2 only, as the conformance suite sends it: the case where one
		// connection can carry requests for several hosts.
		var h2 http.Protocols
		h2.SetHTTP2(true)
		c := httpClient()
		c.Transport.(*http.Transport).Protocols = &h2
		c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{ServerName: tc.sni, InsecureSkipVerify: true} //nolint:gosec // test certificate
		if r := do(t, c, "GET", "https://"+st.Addresses[0].Value+":8443/", tc.host, nil); r.status != tc.status {
			t.Errorf("SNI %s, Host %s: status %d, want %d", tc.sni, tc.host, r.status, tc.status)
		}
	}
}

// TestWebSocket opens a WebSocket through the proxy and exchanges a text
// frame with an echoing backend. The handshake and framing are written by
// hand (RFC 6455) to keep the module free of a WebSocket dependency.
func TestWebSocket(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want a websocket upgrade", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		_ = rw.Flush()
		for {
			op, payload, err := readFrame(rw.Reader)
			if err != nil {
				return
			}
			_, _ = conn.Write(frame(op, payload, false))
		}
	}))
	t.Cleanup(ws.Close)
	ap := netip.MustParseAddrPort(ws.Listener.Addr().String())
	m := &lb.LoadBalancer{
		Owner:        owner("websocket"),
		TargetGroups: []lb.TargetGroup{group("ws", lb.Target{IP: ap.Addr().String(), Port: int32(ap.Port())})},
		Listeners: []lb.Listener{{Name: "http", Port: 8080, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
			forward("ws", lb.Match{}, to("ws", 1)),
		}}}}},
	}
	st := ensure(t, p, m)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", st.Addresses[0].Value+":8080")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", key)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		t.Fatalf("handshake answered %d %v", resp.StatusCode, resp.Header)
	}
	for _, msg := range []string{"Websocket Support!", strings.Repeat("x", 300)} {
		if _, err := conn.Write(frame(1, []byte(msg), true)); err != nil {
			t.Fatal(err)
		}
		op, payload, err := readFrame(br)
		if err != nil || op != 1 || string(payload) != msg {
			t.Fatalf("echo: opcode %d payload %q err %v, want text %q", op, payload, err, msg)
		}
	}
}

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) //nolint:gosec // RFC 6455
	return base64.StdEncoding.EncodeToString(h[:])
}

// frame encodes a final WebSocket frame; clients must mask, servers must not.
func frame(op byte, payload []byte, masked bool) []byte {
	b := []byte{0x80 | op}
	maskBit := byte(0)
	if masked {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, maskBit|byte(n))
	case n <= 0xffff:
		b = append(b, maskBit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, maskBit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	mask := [4]byte{1, 2, 3, 4}
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

func readFrame(r *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err = io.ReadFull(r, l[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err = io.ReadFull(r, l[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	var mask [4]byte
	if h[1]&0x80 != 0 {
		if _, err = io.ReadFull(r, mask[:]); err != nil {
			return 0, nil, err
		}
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
	}
	return h[0] & 0x0f, payload, nil
}
