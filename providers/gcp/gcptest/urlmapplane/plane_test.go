package urlmapplane

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// TestServesAURLMap reads a URL map through the API and serves it: host
// rules, route rules, weighted backends with their header actions, a
// rewrite, a redirect, a fault-injection abort and the defaults.
func TestServesAURLMap(t *testing.T) {
	f := newFixture(t)
	web := f.service(t, "web", "HTTP", backend(t, "web"))
	api := f.service(t, "api", "HTTP", backend(t, "api"))
	other := f.service(t, "other", "HTTP", backend(t, "other"))
	ip := f.httpFrontend(t, &computepb.UrlMap{
		Name:           proto.String("um"),
		DefaultService: proto.String(other),
		HeaderAction:   &computepb.HttpHeaderAction{ResponseHeadersToAdd: []*computepb.HttpHeaderOption{{HeaderName: proto.String("x-map"), HeaderValue: proto.String("um")}}},
		HostRules:      []*computepb.HostRule{{Hosts: []string{"shop.example.com"}, PathMatcher: proto.String("shop")}},
		PathMatchers: []*computepb.PathMatcher{{
			Name:           proto.String("shop"),
			DefaultService: proto.String(web),
			RouteRules: []*computepb.HttpRouteRule{
				{Priority: proto.Int32(10), MatchRules: []*computepb.HttpRouteRuleMatch{{PrefixMatch: proto.String("/api/")}},
					HeaderAction: &computepb.HttpHeaderAction{RequestHeadersToRemove: []string{"x-secret"}},
					RouteAction: &computepb.HttpRouteAction{
						UrlRewrite: &computepb.UrlRewrite{PathPrefixRewrite: proto.String("/v2/"), HostRewrite: proto.String("api.internal")},
						WeightedBackendServices: []*computepb.WeightedBackendService{{BackendService: proto.String(api), Weight: proto.Uint32(1),
							HeaderAction: &computepb.HttpHeaderAction{RequestHeadersToAdd: []*computepb.HttpHeaderOption{{HeaderName: proto.String("x-to"), HeaderValue: proto.String("api"), Replace: proto.Bool(true)}}}}},
					}},
				{Priority: proto.Int32(20), MatchRules: []*computepb.HttpRouteRuleMatch{{PrefixMatch: proto.String("/old")}},
					UrlRedirect: &computepb.HttpRedirectAction{PrefixRedirect: proto.String("/new"), RedirectResponseCode: proto.String("FOUND")}},
				{Priority: proto.Int32(30), MatchRules: []*computepb.HttpRouteRuleMatch{{FullPathMatch: proto.String("/teapot")}},
					RouteAction: &computepb.HttpRouteAction{WeightedBackendServices: []*computepb.WeightedBackendService{wbs(web, 1)},
						FaultInjectionPolicy: &computepb.HttpFaultInjection{Abort: &computepb.HttpFaultAbort{HttpStatus: proto.Uint32(418), Percentage: proto.Float64(100)}}}},
			},
		}},
	})
	f.sync(t)
	c := f.client()
	base := "http://" + ip

	a := get(t, c, base+"/api/items?x=1", "shop.example.com", http.Header{"X-Secret": {"s"}})
	must(t, a.code == 200 && a.seen.Backend == "api", "/api/items: %d from %q, want 200 from api", a.code, a.seen.Backend)
	must(t, a.seen.Path == "/v2/items" && a.seen.Query == "x=1", "/api/items reached the backend as %s?%s, want /v2/items?x=1", a.seen.Path, a.seen.Query)
	must(t, a.seen.Host == "api.internal", "Host upstream %q, want api.internal", a.seen.Host)
	must(t, a.seen.Header.Get("X-To") == "api" && a.seen.Header.Get("X-Secret") == "", "upstream headers %v: want X-To api and no X-Secret", a.seen.Header)
	must(t, strings.HasSuffix(a.seen.Header.Get("X-Forwarded-For"), ", "+ip) && a.seen.Header.Get("X-Forwarded-Proto") == "http",
		"X-Forwarded-For %q, X-Forwarded-Proto %q: want the client then %s, and http", a.seen.Header.Get("X-Forwarded-For"), a.seen.Header.Get("X-Forwarded-Proto"), ip)
	must(t, a.header.Get("X-Map") == "um", "response X-Map %q, want um (the URL map's headerAction)", a.header.Get("X-Map"))

	a = get(t, c, base+"/old/page?q=1", "shop.example.com", nil)
	must(t, a.code == 302 && a.header.Get("Location") == "http://shop.example.com/new/page?q=1", "/old/page: %d %s, want 302 to http://shop.example.com/new/page?q=1", a.code, a.header.Get("Location"))

	a = get(t, c, base+"/teapot", "shop.example.com", nil)
	must(t, a.code == 418, "/teapot: %d, want the abort's 418", a.code)

	a = get(t, c, base+"/anything", "shop.example.com", nil)
	must(t, a.code == 200 && a.seen.Backend == "web", "shop.example.com/anything: %d from %q, want web (the path matcher's default)", a.code, a.seen.Backend)
	a = get(t, c, base+"/api/items", "elsewhere.example", nil)
	must(t, a.code == 200 && a.seen.Backend == "other", "elsewhere.example: %d from %q, want other (the map's default)", a.code, a.seen.Backend)
}

// TestEndpoints: round robin over a NEG's endpoints, 503 without
// endpoints, 502 when the endpoint refuses the connection, retries on the
// next endpoint.
func TestEndpoints(t *testing.T) {
	f := newFixture(t)
	two := f.service(t, "two", "HTTP", backend(t, "a"), backend(t, "b"))
	none := f.service(t, "none", "HTTP")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := ln.Addr().String()
	_ = ln.Close()
	dead := f.service(t, "dead", "HTTP", refused)
	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	t.Cleanup(fail.Close)
	flaky := f.service(t, "flaky", "HTTP", fail.Listener.Addr().String(), backend(t, "ok"))
	route := func(prio int32, path, ref string, retry *computepb.HttpRetryPolicy) *computepb.HttpRouteRule {
		return &computepb.HttpRouteRule{Priority: proto.Int32(prio), MatchRules: []*computepb.HttpRouteRuleMatch{{PrefixMatch: proto.String(path)}},
			RouteAction: &computepb.HttpRouteAction{WeightedBackendServices: []*computepb.WeightedBackendService{wbs(ref, 1)}, RetryPolicy: retry}}
	}
	ip := f.httpFrontend(t, &computepb.UrlMap{Name: proto.String("um"), DefaultService: proto.String(two),
		HostRules: []*computepb.HostRule{{Hosts: []string{"*"}, PathMatcher: proto.String("pm")}},
		PathMatchers: []*computepb.PathMatcher{{Name: proto.String("pm"), DefaultService: proto.String(two), RouteRules: []*computepb.HttpRouteRule{
			route(1, "/none", none, nil),
			route(2, "/dead", dead, nil),
			route(3, "/flaky-retried", flaky, &computepb.HttpRetryPolicy{RetryConditions: []string{"5xx"}}),
			route(4, "/flaky", flaky, nil),
		}}}})
	f.sync(t)
	c := f.client()
	base := "http://" + ip
	var order []string
	for range 4 {
		order = append(order, get(t, c, base+"/", "", nil).seen.Backend)
	}
	must(t, order[0] != order[1] && order[0] == order[2] && order[1] == order[3], "backends in turn: %v, want round robin over a and b", order)
	must(t, get(t, c, base+"/none", "", nil).code == 503, "a backend service without endpoints: want 503")
	must(t, get(t, c, base+"/dead", "", nil).code == 502, "an endpoint refusing connections: want 502")
	for range 4 {
		a := get(t, c, base+"/flaky-retried", "", nil)
		must(t, a.code == 200 && a.seen.Backend == "ok", "with retries on 5xx: %d from %q, want 200 from ok every time", a.code, a.seen.Backend)
	}
	codes := map[int]int{}
	for range 4 {
		codes[get(t, c, base+"/flaky", "", nil).code]++
	}
	must(t, codes[503] == 2 && codes[200] == 2, "without retries: codes %v, want two 503s and two 200s", codes)
}

// TestWeightsMirrorTimeout: weights with a pinned draw, the mirror's
// "-shadow" copy, the route's timeout (504).
func TestWeightsMirrorTimeout(t *testing.T) {
	f := newFixture(t)
	blue := f.service(t, "blue", "HTTP", backend(t, "blue"))
	green := f.service(t, "green", "HTTP", backend(t, "green"))
	mirrored := make(chan seen, 4)
	shadow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mirrored <- seen{Host: r.Host, Path: r.URL.Path, Body: string(b)}
	}))
	t.Cleanup(shadow.Close)
	mirror := f.service(t, "mirror", "HTTP", shadow.Listener.Addr().String())
	block := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(block.Close)
	slow := f.service(t, "slow", "HTTP", block.Listener.Addr().String())
	ip := f.httpFrontend(t, &computepb.UrlMap{Name: proto.String("um"), DefaultService: proto.String(blue),
		HostRules: []*computepb.HostRule{{Hosts: []string{"*"}, PathMatcher: proto.String("pm")}},
		PathMatchers: []*computepb.PathMatcher{{Name: proto.String("pm"), DefaultService: proto.String(blue), RouteRules: []*computepb.HttpRouteRule{
			{Priority: proto.Int32(1), MatchRules: []*computepb.HttpRouteRuleMatch{{PrefixMatch: proto.String("/split")}},
				RouteAction: &computepb.HttpRouteAction{WeightedBackendServices: []*computepb.WeightedBackendService{wbs(blue, 95), wbs(green, 5)}}},
			{Priority: proto.Int32(2), MatchRules: []*computepb.HttpRouteRuleMatch{{PrefixMatch: proto.String("/mirror")}},
				RouteAction: &computepb.HttpRouteAction{WeightedBackendServices: []*computepb.WeightedBackendService{wbs(blue, 1)},
					RequestMirrorPolicy: &computepb.RequestMirrorPolicy{BackendService: proto.String(mirror)}}},
			{Priority: proto.Int32(3), MatchRules: []*computepb.HttpRouteRuleMatch{{PrefixMatch: proto.String("/slow")}},
				RouteAction: &computepb.HttpRouteAction{WeightedBackendServices: []*computepb.WeightedBackendService{wbs(slow, 1)},
					Timeout: &computepb.Duration{Nanos: proto.Int32(int32(50 * time.Millisecond))}}},
		}}}})
	f.sync(t)
	c := f.client()
	base := "http://" + ip
	// The traffic management overview's split: 95% to the old version,
	// 5% to the new one. A draw of 0.96 falls in green's share.
	for draw, want := range map[float64]string{0.0: "blue", 0.949: "blue", 0.96: "green"} {
		f.plane.rand = func() float64 { return draw }
		if got := get(t, c, base+"/split", "", nil).seen.Backend; got != want {
			t.Errorf("draw %g: served by %s, want %s", draw, got, want)
		}
	}
	f.plane.rand = func() float64 { return 0.5 }
	a := get(t, c, base+"/mirror/x", "shop.example:80", nil)
	must(t, a.code == 200 && a.seen.Backend == "blue", "/mirror/x: %d from %q, want 200 from blue", a.code, a.seen.Backend)
	select {
	case m := <-mirrored:
		must(t, m.Host == "shop.example-shadow:80" && m.Path == "/mirror/x", "mirrored copy: Host %q path %q, want shop.example-shadow:80 and /mirror/x", m.Host, m.Path)
	case <-time.After(5 * time.Second):
		t.Error("the mirror received no copy")
	}
	must(t, get(t, c, base+"/slow", "", nil).code == 504, "a backend slower than the route's timeout: want 504")
}

// TestBackendProtocols: HTTPS backends get TLS, HTTP2 ("HTTP/2 with
// SSL") HTTP/2 over TLS, H2C ("HTTP2 over cleartext") HTTP/2 in the
// clear, per the BackendService.protocol enum.
func TestBackendProtocols(t *testing.T) {
	f := newFixture(t)
	tlsSrv := httptest.NewUnstartedServer(echo("tls"))
	tlsSrv.EnableHTTP2 = true
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	h2c := httptest.NewUnstartedServer(echo("h2c"))
	h2c.Config.Protocols = &http.Protocols{}
	h2c.Config.Protocols.SetHTTP1(true)
	h2c.Config.Protocols.SetUnencryptedHTTP2(true)
	h2c.Start()
	t.Cleanup(h2c.Close)
	https := f.service(t, "https", "HTTPS", tlsSrv.Listener.Addr().String())
	http2 := f.service(t, "http2", "HTTP2", tlsSrv.Listener.Addr().String())
	cleartext := f.service(t, "h2c", "H2C", h2c.Listener.Addr().String())
	rule := func(prio int32, path, ref string) *computepb.HttpRouteRule {
		return &computepb.HttpRouteRule{Priority: proto.Int32(prio), MatchRules: []*computepb.HttpRouteRuleMatch{{PrefixMatch: proto.String(path)}}, Service: proto.String(ref)}
	}
	ip := f.httpFrontend(t, &computepb.UrlMap{Name: proto.String("um"), DefaultService: proto.String(https),
		HostRules: []*computepb.HostRule{{Hosts: []string{"*"}, PathMatcher: proto.String("pm")}},
		PathMatchers: []*computepb.PathMatcher{{Name: proto.String("pm"), DefaultService: proto.String(https), RouteRules: []*computepb.HttpRouteRule{
			rule(1, "/http2", http2), rule(2, "/h2c", cleartext),
		}}}})
	f.sync(t)
	c := f.client()
	for path, want := range map[string]seen{"/": {Proto: "HTTP/1.1", TLS: true}, "/http2": {Proto: "HTTP/2.0", TLS: true}, "/h2c": {Proto: "HTTP/2.0", TLS: false}} {
		a := get(t, c, "http://"+ip+path, "", nil)
		must(t, a.code == 200 && a.seen.Proto == want.Proto && a.seen.TLS == want.TLS, "%s: %d, backend saw %s TLS %v, want %s TLS %v", path, a.code, a.seen.Proto, a.seen.TLS, want.Proto, want.TLS)
	}
}

// TestHTTPSChoosesCertificateBySNI: a target HTTPS proxy serves the
// certificate naming the client's SNI, and its first (primary) one to
// clients whose SNI none names.
func TestHTTPSChoosesCertificateBySNI(t *testing.T) {
	f := newFixture(t)
	web := f.service(t, "web", "HTTP", backend(t, "web"))
	var links []string
	for _, host := range []string{"first.example", "second.example", "*.wild.example"} {
		cert, key := selfSigned(t, host)
		if err := f.keys.AddPEM([]byte(key)); err != nil {
			t.Fatal(err)
		}
		name := "cert-" + strings.NewReplacer(".", "-", "*", "star").Replace(host)
		links = append(links, f.create(t, "regions/"+testRegion, &computepb.SslCertificate{Name: proto.String(name), Certificate: proto.String(cert), PrivateKey: proto.String(key)}))
	}
	f.create(t, "regions/"+testRegion, &computepb.UrlMap{Name: proto.String("um"), DefaultService: proto.String(web)})
	f.create(t, "regions/"+testRegion, &computepb.TargetHttpsProxy{Name: proto.String("tls"), UrlMap: proto.String(regional("urlMaps", "um")), SslCertificates: links})
	ip := f.rule(t, "fr-tls", regional("targetHttpsProxies", "tls"), 443)
	f.sync(t)
	local, ok := f.plane.Addr(ip, 443)
	if !ok {
		t.Fatalf("no local address for %s:443", ip)
	}
	for sni, want := range map[string]string{"second.example": "second.example", "first.example": "first.example", "a.wild.example": "*.wild.example", "unknown.example": "first.example", "": "first.example"} {
		conn, err := tls.Dial("tcp", local, &tls.Config{ServerName: sni, InsecureSkipVerify: true}) //nolint:gosec // the test checks the name itself
		if err != nil {
			t.Errorf("SNI %q: %v", sni, err)
			continue
		}
		got := conn.ConnectionState().PeerCertificates[0].Subject.CommonName
		_ = conn.Close()
		must(t, got == want, "SNI %q got the certificate of %s, want %s", sni, got, want)
	}
	a := get(t, f.client(), "https://"+ip+"/", "first.example", nil)
	must(t, a.code == 200 && a.seen.Backend == "web" && a.seen.Header.Get("X-Forwarded-Proto") == "https", "over HTTPS: %d from %q (X-Forwarded-Proto %q)", a.code, a.seen.Backend, a.seen.Header.Get("X-Forwarded-Proto"))
}

// TestTCPProxy: a target TCP proxy forwards connections, with a PROXY v1
// line when its proxyHeader asks for one.
func TestTCPProxy(t *testing.T) {
	f := newFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	svc := f.service(t, "echo", "TCP", ln.Addr().String())
	f.create(t, "regions/"+testRegion, &computepb.TargetTcpProxy{Name: proto.String("tcp"), Service: proto.String(svc), ProxyHeader: proto.String("PROXY_V1")})
	ip := f.rule(t, "fr-tcp", regional("targetTcpProxies", "tcp"), 5432)
	f.sync(t)
	conn, err := f.plane.DialContext(t.Context(), "tcp", net.JoinHostPort(ip, "5432"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "hello")
	_ = conn.(*net.TCPConn).CloseWrite()
	b, _ := io.ReadAll(conn)
	want := "PROXY TCP4 127.0.0.1 " + ip + " "
	must(t, strings.HasPrefix(string(b), want) && strings.HasSuffix(string(b), " 5432\r\nhello"), "echoed %q, want %q…5432\\r\\nhello", b, want)
}

// TestSyncFollowsTheAPI: a URL map edited, a forwarding rule deleted and
// a path with an unknown host: each Sync serves what the API holds.
func TestSyncFollowsTheAPI(t *testing.T) {
	f := newFixture(t)
	one := f.service(t, "one", "HTTP", backend(t, "one"))
	two := f.service(t, "two", "HTTP", backend(t, "two"))
	ip := f.httpFrontend(t, &computepb.UrlMap{Name: proto.String("um"), DefaultService: proto.String(one)})
	f.sync(t)
	c := f.client()
	must(t, get(t, c, "http://"+ip+"/", "", nil).seen.Backend == "one", "before the edit: want one")
	if err := f.d.Edit(regional("urlMaps", "um"), func(m proto.Message) { m.(*computepb.UrlMap).DefaultService = proto.String(two) }); err != nil {
		t.Fatal(err)
	}
	f.sync(t)
	must(t, get(t, c, "http://"+ip+"/", "", nil).seen.Backend == "two", "after the edit: want two")
	if _, ok := f.plane.Addr(ip, 81); ok {
		t.Errorf("%s:81 has an address; no forwarding rule serves it", ip)
	}
	f.call(t, http.MethodDelete, "regions/"+testRegion+"/forwardingRules/fr-um", nil)
	f.sync(t)
	if _, ok := f.plane.Addr(ip, 80); ok {
		t.Errorf("%s:80 still served after its forwarding rule was deleted", ip)
	}
	if _, err := c.Get("http://" + ip + "/"); err == nil {
		t.Errorf("a request to %s reached something after its forwarding rule was deleted", ip)
	}
}

// TestPlaneLifecycle: loopback only, Problems report what cannot be
// served, Close stops the listeners and later Syncs.
func TestPlaneLifecycle(t *testing.T) {
	if _, err := New(Config{Endpoint: "http://x", Project: "p", Region: "r", ListenIP: "10.0.0.1"}); err == nil {
		t.Error("New accepted a ListenIP outside 127.0.0.0/8")
	}
	f := newFixture(t)
	web := f.service(t, "web", "HTTP", backend(t, "web"))
	ip := f.httpFrontend(t, &computepb.UrlMap{Name: proto.String("um"), DefaultService: proto.String(web),
		HostRules: []*computepb.HostRule{{Hosts: []string{"*"}, PathMatcher: proto.String("pm")}},
		PathMatchers: []*computepb.PathMatcher{{Name: proto.String("pm"), DefaultService: proto.String(web), RouteRules: []*computepb.HttpRouteRule{
			{Priority: proto.Int32(1), MatchRules: []*computepb.HttpRouteRuleMatch{{RegexMatch: proto.String("(")}}, Service: proto.String(web)},
		}}}})
	if err := f.plane.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ps := f.plane.Problems(); len(ps) != 1 || !strings.Contains(ps[0], "regexMatch") {
		t.Errorf("Problems = %q, want the regex that does not compile", ps)
	}
	local, ok := f.plane.Addr(ip, 80)
	if !ok {
		t.Fatal("no local address")
	}
	must(t, get(t, f.client(), "http://"+ip+"/", "", nil).code == 200, "the rest of the map is served")
	// Requests while Syncs swap tables: none fails (run with -race).
	var wg sync.WaitGroup
	failed := make(chan string, 64)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				_ = f.plane.Sync(context.Background())
				return
			}
			for range 10 {
				resp, err := f.client().Get("http://" + ip + "/")
				if err != nil {
					failed <- err.Error()
					return
				}
				_ = resp.Body.Close()
				if resp.StatusCode != 200 {
					failed <- resp.Status
				}
			}
		}()
	}
	wg.Wait()
	close(failed)
	for msg := range failed {
		t.Errorf("a request during Syncs: %s", msg)
	}
	if err := f.plane.Close(); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.Dial("tcp", local); err == nil {
		_ = conn.Close()
		t.Errorf("%s still accepts connections after Close", local)
	}
	if err := f.plane.Sync(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Close: %v, want ErrClosed", err)
	}
	_ = f.plane.Close()
}

// TestCarriesUpgrades: a connection upgrade (WebSocket's handshake, then
// bytes both ways) passes through an HTTP frontend to a backend service,
// as GCP's Application Load Balancers carry WebSockets ("support for the
// WebSocket protocol when you use HTTP or HTTPS as the protocol to the
// backend", External Application Load Balancer overview).
func TestCarriesUpgrades(t *testing.T) {
	f := newFixture(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "no upgrade", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = rw.Flush()
		// Echo one line back, upper-cased.
		line, err := rw.ReadString('\n')
		if err != nil {
			return
		}
		_, _ = rw.WriteString(strings.ToUpper(line))
		_ = rw.Flush()
	}))
	t.Cleanup(backend.Close)
	svc := f.service(t, "ws", "HTTP", backend.Listener.Addr().String())
	ip := f.httpFrontend(t, &computepb.UrlMap{Name: proto.String("um"), DefaultService: proto.String(svc)})
	f.sync(t)

	conn, err := f.plane.DialContext(t.Context(), "tcp", net.JoinHostPort(ip, "80"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	must(t, resp.StatusCode == http.StatusSwitchingProtocols, "upgrade answered %d, want 101", resp.StatusCode)
	if _, err := io.WriteString(conn, "hello\n"); err != nil {
		t.Fatal(err)
	}
	got, err := br.ReadString('\n')
	must(t, err == nil && got == "HELLO\n", "after the upgrade the backend answered %q (%v), want HELLO", got, err)
}
