package urlmapplane

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers/gcp"
)

// The end-to-end tests: the double, the real GCP provider applying a
// model through its apiv1 REST clients, and real requests through the
// plane to httptest backends on 127.0.0.1 as NEG endpoints. What they
// check is the provider's translation, judged by the traffic it carries.

var e2eOwner = lb.Owner{Cluster: "c1", Namespace: "shop", Name: "gw", UID: "uid-e2e"}

func provider(t *testing.T, f *fixture) *gcp.Provider {
	t.Helper()
	p, err := gcp.New(t.Context(), gcp.Config{Project: testProject, Region: testRegion, Zone: testZone,
		Endpoint: f.srv.URL(), WithoutAuthentication: true, RetryWaitMin: time.Millisecond, RetryWaitMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ensure(t *testing.T, p *gcp.Provider, f *fixture, m *lb.LoadBalancer) string {
	t.Helper()
	res, err := p.Ensure(t.Context(), m)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if !res.Status.Ready || len(res.Status.Addresses) != 1 {
		t.Fatalf("status %+v, want ready with one address", res.Status)
	}
	f.sync(t)
	return res.Status.Addresses[0].Value
}

// targets are the model's targets for backends on 127.0.0.1.
func targets(t *testing.T, addrs ...string) []lb.Target {
	t.Helper()
	var out []lb.Target
	for _, a := range addrs {
		host, port, _ := net.SplitHostPort(a)
		n, _ := strconv.Atoi(port)
		out = append(out, lb.Target{IP: host, Port: int32(n), Node: "node-a"})
	}
	return out
}

func forward(tg string) lb.Action {
	return lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: tg, Weight: 1}}}
}

func prefix(v string) *lb.PathMatch { return &lb.PathMatch{Type: lb.MatchPrefix, Value: v} }

func e2eModel(t *testing.T, tcpEcho, h2c string, web, canary, api []string) *lb.LoadBalancer {
	cert, key := selfSigned(t, "shop.example.com")
	return &lb.LoadBalancer{
		Owner: e2eOwner,
		Listeners: []lb.Listener{
			{Name: "http-80", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{
				{Hostname: "shop.example.com", Rules: []lb.Rule{
					{Name: "shop/store/rule-0", Match: lb.Match{Path: prefix("/"), Headers: []lb.HeaderMatch{{Name: "X-Env", Type: lb.MatchExact, Value: "staging"}}},
						Action: forward("shop/canary:8080")},
					{Name: "shop/api/rule-0", Match: lb.Match{Path: prefix("/api")}, Action: lb.Action{
						Forward:         []lb.WeightedBackend{{TargetGroup: "shop/api:9090", Weight: 1}},
						RequestHeaders:  &lb.HeaderModifier{Set: []lb.Header{{Name: "X-Route", Value: "api"}}, Remove: []string{"X-Drop"}},
						ResponseHeaders: &lb.HeaderModifier{Add: []lb.Header{{Name: "X-Served", Value: "api"}}},
						Rewrite:         &lb.Rewrite{Hostname: "api.internal"},
					}},
					{Name: "shop/items/rule-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchRegex, Value: "/items/[0-9]+"},
						Query: []lb.QueryMatch{{Name: "v", Type: lb.MatchExact, Value: "2"}}}, Action: forward("shop/api:9090")},
					{Name: "shop/old/rule-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/old"}},
						Action: lb.Action{Redirect: &lb.Redirect{Scheme: "https", StatusCode: 301}}},
					{Name: "shop/teapot/rule-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/teapot"}},
						Action: lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 418}}},
					{Name: "shop/half/rule-0", Match: lb.Match{Path: prefix("/half")},
						Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "shop/api:9090", Weight: 1}, {Weight: 1}}}},
					{Name: "shop/grpc/rule-0", Match: lb.Match{Path: prefix("/h2c")}, Action: forward("shop/h2c:8080")},
					{Name: "shop/store/rule-1", Match: lb.Match{Path: prefix("/")},
						Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "shop/web:8080", Weight: 90}, {TargetGroup: "shop/canary:8080", Weight: 10}}}},
				}},
			}},
			{Name: "https-443", Port: 443, Protocol: lb.ProtocolHTTPS, VirtualHosts: []lb.VirtualHost{
				{Hostname: "shop.example.com", Certificates: []lb.Certificate{{Name: "shop/tls", CertPEM: []byte(cert), KeyPEM: []byte(key)}},
					Rules: []lb.Rule{{Name: "shop/secure/rule-0", Match: lb.Match{Path: prefix("/")}, Action: forward("shop/web:8080")}}},
			}},
			{Name: "tcp-5432", Port: 5432, Protocol: lb.ProtocolTCP, Streams: []lb.Stream{
				{Name: "shop/db/rule-0", Backends: []lb.WeightedBackend{{TargetGroup: "shop/db:5432", Weight: 1}}},
			}},
		},
		TargetGroups: []lb.TargetGroup{
			{Name: "shop/web:8080", Protocol: lb.ProtocolHTTP, Targets: targets(t, web...)},
			{Name: "shop/canary:8080", Protocol: lb.ProtocolHTTP, Targets: targets(t, canary...)},
			{Name: "shop/api:9090", Protocol: lb.ProtocolHTTP, Targets: targets(t, api...)},
			{Name: "shop/db:5432", Protocol: lb.ProtocolTCP, Targets: targets(t, tcpEcho)},
			{Name: "shop/h2c:8080", Protocol: lb.ProtocolH2C, Targets: targets(t, h2c)},
		},
	}
}

func tcpEchoServer(t *testing.T) string {
	t.Helper()
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
	return ln.Addr().String()
}

// TestProviderTranslationServesTraffic applies a Gateway's model with the
// real provider and checks each rule by the requests it carries, then an
// endpoint change, then the delete.
func TestProviderTranslationServesTraffic(t *testing.T) {
	f := newFixture(t)
	stop := f.keys.Watch(f.d)
	defer stop()
	p := provider(t, f)
	web := []string{backend(t, "web-1"), backend(t, "web-2")}
	canary, api := []string{backend(t, "canary")}, []string{backend(t, "api")}
	h2c := httptest.NewUnstartedServer(echo("h2c"))
	h2c.Config.Protocols = &http.Protocols{}
	h2c.Config.Protocols.SetUnencryptedHTTP2(true)
	h2c.Start()
	t.Cleanup(h2c.Close)
	m := e2eModel(t, tcpEchoServer(t), h2c.Listener.Addr().String(), web, canary, api)
	ip := ensure(t, p, f, m)
	c := f.client()
	base := "http://" + ip
	const host = "shop.example.com"

	// Precedence: the header rule before the prefix rules.
	a := get(t, c, base+"/api/x", host, http.Header{"X-Env": {"staging"}})
	must(t, a.seen.Backend == "canary", "X-Env: staging: served by %q, want canary (the header rule comes first)", a.seen.Backend)

	// A path prefix by whole segments, header modifiers, a host rewrite.
	a = get(t, c, base+"/api/orders", host, http.Header{"X-Drop": {"1"}})
	must(t, a.code == 200 && a.seen.Backend == "api", "/api/orders: %d from %q, want api", a.code, a.seen.Backend)
	must(t, a.seen.Path == "/api/orders" && a.seen.Host == "api.internal", "/api/orders reached api as %s, Host %q; want /api/orders and api.internal", a.seen.Path, a.seen.Host)
	must(t, a.seen.Header.Get("X-Route") == "api" && a.seen.Header.Get("X-Drop") == "", "request headers at api: %v, want X-Route api and no X-Drop", a.seen.Header)
	must(t, a.header.Get("X-Served") == "api", "response X-Served %q, want api", a.header.Get("X-Served"))
	must(t, get(t, c, base+"/api", host, nil).seen.Backend == "api", "/api itself: want api")
	a = get(t, c, base+"/apix", host, nil)
	must(t, a.seen.Backend == "web-1" || a.seen.Backend == "web-2" || a.seen.Backend == "canary", "/apix: served by %q, want the / rule (a prefix matches whole segments)", a.seen.Backend)

	// A regex path with a query match.
	must(t, get(t, c, base+"/items/42?v=2", host, nil).seen.Backend == "api", "/items/42?v=2: want api")
	must(t, get(t, c, base+"/items/42?v=3", host, nil).seen.Backend != "api", "/items/42?v=3: want not api")

	// An h2c target group is reached with cleartext HTTP/2 (its backend
	// service's protocol is H2C; HTTP2 would be TLS).
	a = get(t, c, base+"/h2c", host, nil)
	must(t, a.code == 200 && a.seen.Backend == "h2c" && a.seen.Proto == "HTTP/2.0", "/h2c: %d from %q over %q, want 200 from h2c over HTTP/2.0 (body %.100q)", a.code, a.seen.Backend, a.seen.Proto, a.body)

	// A redirect and a fixed response.
	a = get(t, c, base+"/old?q=1", host, nil)
	must(t, a.code == 301 && a.header.Get("Location") == "https://shop.example.com/old?q=1", "/old: %d %q, want 301 to https://shop.example.com/old?q=1", a.code, a.header.Get("Location"))
	must(t, get(t, c, base+"/teapot", host, nil).code == 418, "/teapot: want 418")

	// An invalid backend's share is a 500 at its percentage (50%): a draw
	// under it aborts, one above reaches api.
	f.plane.rand = func() float64 { return 0.2 }
	must(t, get(t, c, base+"/half", host, nil).code == 500, "/half, draw 0.2: want the invalid half's 500")
	f.plane.rand = func() float64 { return 0.7 }
	must(t, get(t, c, base+"/half", host, nil).seen.Backend == "api", "/half, draw 0.7: want api")

	// Weights 90/10: draws below 0.9 go to web, above to canary; web's
	// two endpoints take turns.
	f.plane.rand = func() float64 { return 0.5 }
	first, second := get(t, c, base+"/", host, nil).seen.Backend, get(t, c, base+"/", host, nil).seen.Backend
	must(t, strings.HasPrefix(first, "web-") && strings.HasPrefix(second, "web-") && first != second, "draw 0.5 twice: %q then %q, want both web endpoints in turn", first, second)
	f.plane.rand = func() float64 { return 0.95 }
	must(t, get(t, c, base+"/", host, nil).seen.Backend == "canary", "draw 0.95: want canary")

	// A host no VirtualHost names: the listener's 404.
	must(t, get(t, c, base+"/", "other.example", nil).code == 404, "another host: want 404")

	// HTTPS with the uploaded certificate, its key learnt from the upload.
	a = get(t, c, "https://"+ip+"/secure", host, nil)
	must(t, a.code == 200 && strings.HasPrefix(a.seen.Backend, "web-") && a.seen.Header.Get("X-Forwarded-Proto") == "https", "https://%s/secure: %d from %q", ip, a.code, a.seen.Backend)

	// TCP through the target TCP proxy.
	conn, err := f.plane.DialContext(t.Context(), "tcp", net.JoinHostPort(ip, "5432"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(conn, "ping")
	_ = conn.(*net.TCPConn).CloseWrite()
	b, _ := io.ReadAll(conn)
	_ = conn.Close()
	must(t, string(b) == "ping", "TCP echo: %q, want ping", b)

	// Endpoints change: web loses one.
	m.TargetGroups[0].Targets = targets(t, web[1])
	ensure(t, p, f, m)
	f.plane.rand = func() float64 { return 0.5 }
	for range 3 {
		must(t, get(t, c, base+"/", host, nil).seen.Backend == "web-2", "after scaling web down: want web-2 only")
	}

	// Deleted: nothing serves the address any more.
	if err := p.Delete(t.Context(), e2eOwner); err != nil {
		t.Fatal(err)
	}
	f.sync(t)
	for _, port := range []int{80, 443, 5432} {
		if _, ok := f.plane.Addr(ip, port); ok {
			t.Errorf("%s:%d still served after Delete", ip, port)
		}
	}
}
