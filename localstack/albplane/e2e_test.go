package albplane

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/cloudgate-dev/cloudgate/localstack"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	awsprovider "github.com/cloudgate-dev/cloudgate/providers/aws"
)

var e2eOwner = lb.Owner{Cluster: "albplane-test", Namespace: "shop", Name: "web", UID: "6f1d2c3b-uid"}

func fwdTo(pairs ...any) lb.Action {
	var a lb.Action
	for i := 0; i < len(pairs); i += 2 {
		a.Forward = append(a.Forward, lb.WeightedBackend{TargetGroup: pairs[i].(string), Weight: int32(pairs[i+1].(int))})
	}
	return a
}

func prefixPath(v string) *lb.PathMatch { return &lb.PathMatch{Type: lb.MatchPrefix, Value: v} }

type e2eBackends struct {
	api, canary, web []lb.Target
	h2c              []lb.Target
	dns              []lb.Target // a TCP and a UDP server on one port
	echo             []lb.Target
	shop, other      lb.Certificate
	// special adds a rule before all others of shop.example.com.
	special bool
}

// e2eModel is a Gateway as mapping would build it, with HTTP, HTTPS and
// TCP listeners.
func e2eModel(b e2eBackends) *lb.LoadBalancer {
	m := e2eLB(b)
	if b.special {
		vh := &m.Listeners[0].VirtualHosts[0]
		vh.Rules = append([]lb.Rule{{Name: "shop/special/rule-0/match-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/api/special"}},
			Action: lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 418}}}}, vh.Rules...)
	}
	return m
}

func e2eLB(b e2eBackends) *lb.LoadBalancer {
	return &lb.LoadBalancer{
		Owner: e2eOwner,
		TargetGroups: []lb.TargetGroup{
			{Name: "shop/api:8080", Protocol: lb.ProtocolHTTP, Targets: b.api},
			{Name: "shop/canary:8080", Protocol: lb.ProtocolHTTP, Targets: b.canary},
			{Name: "shop/dns:53/tcp", Protocol: lb.ProtocolTCP, Targets: b.dns},
			{Name: "shop/dns:53/udp", Protocol: lb.ProtocolUDP, Targets: b.dns},
			{Name: "shop/echo:9000/tcp", Protocol: lb.ProtocolTCP, Targets: b.echo},
			{Name: "shop/h2c:8080", Protocol: lb.ProtocolH2C, Targets: b.h2c},
			{Name: "shop/web:80", Protocol: lb.ProtocolHTTP, Targets: b.web},
		},
		Listeners: []lb.Listener{
			{Name: "http-80", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{
				{Hostname: "shop.example.com", Rules: []lb.Rule{
					{Name: "shop/api/rule-0/match-0", Match: lb.Match{Path: prefixPath("/api")}, Action: fwdTo("shop/api:8080", 3, "shop/canary:8080", 1)},
					{Name: "shop/web/rule-0/match-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/login"}, Method: "POST"}, Action: fwdTo("shop/web:80", 1)},
					{Name: "shop/web/rule-1/match-0", Match: lb.Match{Path: prefixPath("/"),
						Headers: []lb.HeaderMatch{{Name: "X-Env", Type: lb.MatchExact, Value: "canary"}},
						Query:   []lb.QueryMatch{{Name: "v", Type: lb.MatchExact, Value: "2"}}}, Action: fwdTo("shop/canary:8080", 1)},
					{Name: "shop/old/rule-0/match-0", Match: lb.Match{Path: prefixPath("/old")},
						Action: lb.Action{Redirect: &lb.Redirect{Scheme: "https", Path: &lb.PathRewrite{Type: lb.RewriteFullPath, Value: "/new"}, StatusCode: 301}}},
					{Name: "shop/v1/rule-0/match-0", Match: lb.Match{Path: prefixPath("/v1")},
						Action: lb.Action{Forward: fwdTo("shop/web:80", 1).Forward,
							Rewrite: &lb.Rewrite{Hostname: "internal.example", Path: &lb.PathRewrite{Type: lb.RewritePrefix, Value: "/"}}}},
					{Name: "shop/web/rule-2/match-0", Match: lb.Match{Path: prefixPath("/")}, Action: fwdTo("shop/api:8080", 1)},
				}},
				{Rules: []lb.Rule{
					{Name: "shop/gone/rule-0/match-0", Match: lb.Match{Path: prefixPath("/")}, Action: lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 503}}},
				}},
			}},
			{Name: "https-443", Port: 443, Protocol: lb.ProtocolHTTPS, VirtualHosts: []lb.VirtualHost{
				{Hostname: "shop.example.com", Certificates: []lb.Certificate{b.shop}, Rules: []lb.Rule{
					{Name: "shop/h2c/rule-0/match-0", Match: lb.Match{Path: prefixPath("/h2")}, Action: fwdTo("shop/h2c:8080", 1)},
					{Name: "shop/web/rule-3/match-0", Match: lb.Match{Path: prefixPath("/")}, Action: fwdTo("shop/web:80", 1)}}},
				{Hostname: "other.example.com", Certificates: []lb.Certificate{b.other}, Rules: []lb.Rule{
					{Name: "shop/other/rule-0/match-0", Match: lb.Match{Path: prefixPath("/")}, Action: fwdTo("shop/api:8080", 1)}}},
			}},
			{Name: "http-8080", Port: 8080, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
				{Name: "gw/prefix-one/rule-0/match-0", Match: lb.Match{Path: prefixPath("/prefix/one")},
					Action: lb.Action{Forward: fwdTo("shop/web:80", 1).Forward, Rewrite: &lb.Rewrite{Path: &lb.PathRewrite{Type: lb.RewritePrefix, Value: "/one"}}}},
				{Name: "gw/strip/rule-0/match-0", Match: lb.Match{Path: prefixPath("/strip-prefix")},
					Action: lb.Action{Forward: fwdTo("shop/web:80", 1).Forward, Rewrite: &lb.Rewrite{Path: &lb.PathRewrite{Type: lb.RewritePrefix, Value: "/"}}}},
				{Name: "gw/full/rule-0/match-0", Match: lb.Match{Path: prefixPath("/full")},
					Action: lb.Action{Forward: fwdTo("shop/web:80", 1).Forward, Rewrite: &lb.Rewrite{Path: &lb.PathRewrite{Type: lb.RewriteFullPath, Value: "/one"}}}},
				{Name: "gw/redir-port/rule-0/match-0", Match: lb.Match{Path: prefixPath("/redir-port")},
					Action: lb.Action{Redirect: &lb.Redirect{Port: 8083, StatusCode: 302}}},
				{Name: "gw/redir-host/rule-0/match-0", Match: lb.Match{Path: prefixPath("/redir-host")},
					Action: lb.Action{Redirect: &lb.Redirect{Hostname: "example.org", StatusCode: 302}}},
			}}}},
			{Name: "tcp-5353", Port: 5353, Protocol: lb.ProtocolTCP, Streams: []lb.Stream{
				{Name: "shop/dns/rule-0", Backends: []lb.WeightedBackend{{TargetGroup: "shop/dns:53/tcp", Weight: 1}}}}},
			{Name: "udp-5353", Port: 5353, Protocol: lb.ProtocolUDP, Streams: []lb.Stream{
				{Name: "shop/dns/rule-1", Backends: []lb.WeightedBackend{{TargetGroup: "shop/dns:53/udp", Weight: 1}}}}},
			{Name: "tcp-9000", Port: 9000, Protocol: lb.ProtocolTCP, Streams: []lb.Stream{
				{Name: "shop/echo/rule-0", Backends: []lb.WeightedBackend{{TargetGroup: "shop/echo:9000/tcp", Weight: 1}}}}},
		},
	}
}

// allEmpty says whether the groups whose names hold part, forwarded to by the
// listener's rules, have no targets.
func allEmpty(li *listener, part string) bool {
	found := false
	for _, r := range li.Rules {
		if r.Action == nil {
			continue
		}
		for _, w := range r.Action.Forward {
			if strings.Contains(w.Group.Name, part) {
				found = true
				if len(w.Group.Targets) > 0 {
					return false
				}
			}
		}
	}
	return found
}

// tcpAndUDPEcho serves TCP and UDP echoes on one port of 127.0.0.1 and
// returns it.
func tcpAndUDPEcho(t *testing.T) int {
	t.Helper()
	for range 20 {
		l := echoServer(t, "tcp")
		port := l.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // the UDP port is taken: another pair
		}
		t.Cleanup(func() { pc.Close() })
		go func() {
			buf := make([]byte, 1500)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = pc.WriteTo(append([]byte("udp:"), buf[:n]...), from)
			}
		}()
		return port
	}
	t.Fatal("no port free for both TCP and UDP")
	return 0
}

func target(ip string, port int) []lb.Target { return []lb.Target{{IP: ip, Port: int32(port)}} }

// TestEndToEnd: moto, the AWS provider applying a model, and requests
// through the plane reaching backends on 127.0.0.1. Each expectation is
// ALB's behaviour for the rules the provider wrote (the rule pages cited
// in match.go and alb.go).
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	env := localstack.Start(t, localstack.Options{Engine: localstack.EngineMoto, Cluster: e2eOwner.Cluster})
	cfg, err := env.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	plane, err := New(Config{AWS: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := plane.Close(); err != nil {
			t.Error(err)
		}
	})
	provCfg := cfg.Copy()
	provCfg.APIOptions = append(provCfg.APIOptions, plane.RecordImports)
	prov, err := awsprovider.New(awsprovider.Config{AWS: provCfg, ClusterName: env.Cluster, VPCID: env.VPCID, Subnets: env.PublicSubnetIDs})
	if err != nil {
		t.Fatal(err)
	}

	ca := newCA(t)
	shopPEM, shopKey := ca.issue(t, "shop.example.com")
	otherPEM, otherKey := ca.issue(t, "other.example.com")
	api, canary, web := backend(t, "api"), backend(t, "canary"), backend(t, "web")
	echo := echoServer(t, "echo")
	h2c := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seen{Backend: "h2c", Proto: r.Proto, URI: r.RequestURI})
	}))
	h2c.Config.Protocols = new(http.Protocols)
	h2c.Config.Protocols.SetUnencryptedHTTP2(true)
	h2c.Start()
	t.Cleanup(h2c.Close)
	_, h2cPort := hostPort(t, h2c)
	dnsPort := tcpAndUDPEcho(t)
	ip, apiPort := hostPort(t, api)
	_, canaryPort := hostPort(t, canary)
	_, webPort := hostPort(t, web)
	bk := e2eBackends{api: target(ip, apiPort), canary: target(ip, canaryPort), web: target(ip, webPort),
		echo: target(ip, echo.Addr().(*net.TCPAddr).Port), h2c: target(ip, h2cPort), dns: target(ip, dnsPort),
		shop:  lb.Certificate{Name: "shop/shop-tls", CertPEM: shopPEM, KeyPEM: shopKey},
		other: lb.Certificate{Name: "shop/other-tls", CertPEM: otherPEM, KeyPEM: otherKey}}
	start := time.Now()
	res, err := prov.Ensure(ctx, e2eModel(bk))
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	t.Logf("Ensure: %d steps in %v", len(res.Applied.Steps), time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := plane.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	t.Logf("Sync: %v", time.Since(start).Round(time.Millisecond))
	var albDNS, nlbDNS string
	for _, a := range res.Status.Addresses {
		switch b := plane.table.Load().byDNS[a.Value]; {
		case b == nil:
			t.Errorf("the plane does not serve %s", a.Value)
		case b.Type == "network":
			nlbDNS = a.Value
		default:
			albDNS = a.Value
		}
	}
	if albDNS == "" || nlbDNS == "" {
		t.Fatalf("addresses %+v: want the ALB's and the NLB's DNS names", res.Status.Addresses)
	}

	// A resolver answering by LookupIP reaches the ALB's listener at its
	// own port, as a client with no custom dialer does.
	if local, ok := plane.Addr(albDNS, 80); !ok {
		t.Errorf("the ALB's port 80 is not served")
	} else if ip, ok := plane.LookupIP(strings.ToUpper(albDNS) + "."); !ok || net.JoinHostPort(ip.String(), "80") != local {
		t.Errorf("LookupIP(%s) = %v, %v; the listener is at %s", albDNS, ip, ok, local)
	}

	// A plane that polls sees the same load balancers without a Sync.
	poller, err := New(Config{AWS: cfg, PollInterval: 100 * time.Millisecond, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	// It saw no ImportCertificate: the test hands it the keys.
	for _, c := range []lb.Certificate{bk.shop, bk.other} {
		if err := poller.AddKey(c.CertPEM, c.KeyPEM); err != nil {
			t.Fatal(err)
		}
	}
	if err := poller.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := poller.Close(); err != nil {
			t.Error(err)
		}
	})

	client := &http.Client{
		Transport: &http.Transport{DialContext: plane.DialContext, ForceAttemptHTTP2: true,
			TLSClientConfig: &tls.Config{RootCAs: ca.pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	do := func(t *testing.T, method, url, host string, header http.Header) (*http.Response, seen) {
		t.Helper()
		return send(t, ctx, client, method, url, host, header)
	}
	alb := "http://" + albDNS

	t.Run("weighted forward 3:1 (Rule action types: forward with weights)", func(t *testing.T) {
		n := map[string]int{}
		for range 8 {
			resp, s := do(t, "GET", alb+"/api/items", "shop.example.com", nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			n[s.Backend]++
		}
		if n["api"] != 6 || n["canary"] != 2 {
			t.Errorf("backends %v, want api 6 and canary 2", n)
		}
	})
	t.Run("method and path conditions (Rule condition types)", func(t *testing.T) {
		if _, s := do(t, "POST", alb+"/login", "shop.example.com", nil); s.Backend != "web" {
			t.Errorf("POST /login went to %q, want web", s.Backend)
		}
		if _, s := do(t, "GET", alb+"/login", "shop.example.com", nil); s.Backend != "api" {
			t.Errorf("GET /login went to %q, want api (the catch-all rule)", s.Backend)
		}
	})
	t.Run("header and query conditions, header values case-insensitive (Rule condition types)", func(t *testing.T) {
		if _, s := do(t, "GET", alb+"/x?v=2", "shop.example.com", http.Header{"X-Env": {"CANARY"}}); s.Backend != "canary" {
			t.Errorf("X-Env: CANARY, v=2 went to %q, want canary", s.Backend)
		}
		if _, s := do(t, "GET", alb+"/x?v=3", "shop.example.com", http.Header{"X-Env": {"canary"}}); s.Backend != "api" {
			t.Errorf("v=3 went to %q, want api", s.Backend)
		}
	})
	t.Run("host conditions are case-insensitive and ignore the port; other hosts get the catch-all's 503", func(t *testing.T) {
		if resp, s := do(t, "GET", alb+"/", "SHOP.Example.COM:80", nil); resp.StatusCode != 200 || s.Backend != "api" {
			t.Errorf("SHOP.Example.COM:80: %d from %q, want 200 from api", resp.StatusCode, s.Backend)
		}
		if resp, _ := do(t, "GET", alb+"/", "elsewhere.example.com", nil); resp.StatusCode != 503 {
			t.Errorf("elsewhere.example.com: %d, want the fixed 503", resp.StatusCode)
		}
	})
	t.Run("redirect keeps the host and query (RedirectActionConfig)", func(t *testing.T) {
		resp, _ := do(t, "GET", alb+"/old/page?a=1", "shop.example.com", nil)
		if want := "https://shop.example.com:443/new?a=1"; resp.StatusCode != 301 || resp.Header.Get("Location") != want {
			t.Errorf("%d Location %q, want 301 %q", resp.StatusCode, resp.Header.Get("Location"), want)
		}
	})
	t.Run("host and URL rewrite transforms (Transforms for listener rules)", func(t *testing.T) {
		_, s := do(t, "GET", alb+"/v1/items?q=1", "shop.example.com", nil)
		if s.Backend != "web" || s.URI != "/items?q=1" || s.Host != "internal.example" {
			t.Errorf("got %s %s Host %s, want web /items?q=1 Host internal.example", s.Backend, s.URI, s.Host)
		}
		if _, s := do(t, "GET", alb+"/v1", "shop.example.com", nil); s.URI != "/" {
			t.Errorf("/v1 became %q, want /", s.URI)
		}
	})
	t.Run("Gateway API rewrites and redirects as ALB serves them (Transforms; RedirectActionConfig)", func(t *testing.T) {
		for _, c := range []struct{ path, want string }{
			{"/prefix/one/two?x=1", "/one/two?x=1"},
			{"/prefix/one", "/one"},
			{"/prefix/one/", "/one/"},
			{"/strip-prefix/three", "/three"},
			{"/strip-prefix", "/"},
			{"/strip-prefix/", "/"},
			{"/full/a/b?x=1", "/one?x=1"},
		} {
			if _, s := do(t, "GET", "http://"+albDNS+":8080"+c.path, "gw.example", nil); s.Backend != "web" || s.URI != c.want {
				t.Errorf("%s reached %q as %q, want web as %q", c.path, s.Backend, s.URI, c.want)
			}
		}
		for _, c := range []struct{ path, want string }{
			{"/redir-port/a?q=1", "http://gw.example:8083/redir-port/a?q=1"},
			{"/redir-host", "http://example.org:8080/redir-host"},
		} {
			if resp, _ := do(t, "GET", "http://"+albDNS+":8080"+c.path, "gw.example:8080", nil); resp.StatusCode != 302 || resp.Header.Get("Location") != c.want {
				t.Errorf("%s: %d Location %q, want 302 %q", c.path, resp.StatusCode, resp.Header.Get("Location"), c.want)
			}
		}
	})
	t.Run("X-Forwarded headers (HTTP headers and Application Load Balancers)", func(t *testing.T) {
		_, s := do(t, "GET", alb+"/", "shop.example.com", http.Header{"X-Forwarded-For": {"203.0.113.7"}})
		xff := s.Header.Get("X-Forwarded-For")
		first, client, ok := strings.Cut(xff, ", ")
		if !ok || first != "203.0.113.7" || net.ParseIP(client) == nil || !net.ParseIP(client).IsLoopback() {
			t.Errorf("X-Forwarded-For %q, want the client's 203.0.113.7 then the loopback address it connected from", xff)
		}
		if p, port := s.Header.Get("X-Forwarded-Proto"), s.Header.Get("X-Forwarded-Port"); p != "http" || port != "80" {
			t.Errorf("X-Forwarded-Proto %q, -Port %q, want http and 80", p, port)
		}
	})
	t.Run("HTTPS: SNI picks the certificate, HTTP/2 with the client (SSL certificates for your ALB)", func(t *testing.T) {
		shop := &http.Client{Transport: &http.Transport{DialContext: plane.DialContext, ForceAttemptHTTP2: true,
			TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: "shop.example.com"}}}
		defer shop.CloseIdleConnections()
		resp, s := send(t, ctx, shop, "GET", "https://"+albDNS+"/", "shop.example.com", nil)
		if s.Backend != "web" || resp.Proto != "HTTP/2.0" || s.Header.Get("X-Forwarded-Proto") != "https" {
			t.Errorf("shop.example.com over %s: %q, X-Forwarded-Proto %q; want web over HTTP/2.0, https", resp.Proto, s.Backend, s.Header.Get("X-Forwarded-Proto"))
		}
		if resp.TLS == nil || resp.TLS.PeerCertificates[0].Subject.CommonName != "shop.example.com" {
			t.Errorf("served certificate %v, want shop.example.com's", resp.TLS)
		}
		// An H2C group (protocol version HTTP2) gets HTTP/2 in clear text.
		if _, s := send(t, ctx, shop, "GET", "https://"+albDNS+"/h2/x", "shop.example.com", nil); s.Backend != "h2c" || s.Proto != "HTTP/2.0" {
			t.Errorf("/h2/x: %q over %q, want h2c over HTTP/2.0", s.Backend, s.Proto)
		}
		// A host no VirtualHost serves gets the listener's default 404.
		if resp, _ := send(t, ctx, shop, "GET", "https://"+albDNS+"/", "nobody.example.com", nil); resp.StatusCode != 404 {
			t.Errorf("an unknown host over HTTPS: %d, want the default action's 404", resp.StatusCode)
		}
		// Another SNI name gets its own certificate: a client that
		// verifies other.example.com connects.
		tr := &http.Transport{DialContext: plane.DialContext, TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: "other.example.com"}}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+albDNS+"/", nil)
		req.Host = "other.example.com"
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("other.example.com: %v", err)
		}
		resp.Body.Close()
		if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != "other.example.com" {
			t.Errorf("other.example.com was served %q's certificate", cn)
		}
	})
	t.Run("NLB TCP and UDP on one port, one TCP_UDP listener (NLB listeners)", func(t *testing.T) {
		u, err := plane.DialContext(ctx, "udp", net.JoinHostPort(nlbDNS, "5353"))
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		_ = u.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := u.Write([]byte("q")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		if n, err := u.Read(buf); err != nil || string(buf[:n]) != "udp:q" {
			t.Errorf("UDP: %q, %v; want udp:q", buf[:n], err)
		}
		c, err := plane.DialContext(ctx, "tcp", net.JoinHostPort(nlbDNS, "5353"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "q\n")
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "tcp:q\n" {
			t.Errorf("TCP: %q, %v; want tcp:q", line, err)
		}
	})
	t.Run("NLB TCP listener forwards the connection", func(t *testing.T) {
		c, err := plane.DialContext(ctx, "tcp", net.JoinHostPort(nlbDNS, "9000"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "hello\n"); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != "echo:hello\n" {
			t.Errorf("read %q, %v; want echo:hello", line, err)
		}
	})

	// A group without targets answers 503; a target that refuses, 502.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	bk.api, bk.web, bk.special = nil, target(ip, closedPort), true
	if _, err := prov.Ensure(ctx, e2eModel(bk)); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if err := plane.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	// The poller follows the change within a few polls.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		b := poller.table.Load().byDNS[albDNS]
		if li := b.Listeners[80]; li != nil && len(li.Rules) > 0 && allEmpty(li, "api") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the polling plane did not see the api group lose its targets")
		}
	}
	t.Run("503 without targets, 502 when the target refuses (Troubleshoot your ALBs)", func(t *testing.T) {
		if resp, _ := do(t, "GET", alb+"/", "shop.example.com", nil); resp.StatusCode != 503 {
			t.Errorf("a group without targets: %d, want 503", resp.StatusCode)
		}
		if resp, _ := do(t, "POST", alb+"/login", "shop.example.com", nil); resp.StatusCode != 502 {
			t.Errorf("a refusing target: %d, want 502", resp.StatusCode)
		}
	})
	t.Run("a rule added before the others takes precedence (Listener rules: priorities)", func(t *testing.T) {
		if resp, _ := do(t, "GET", alb+"/api/special", "shop.example.com", nil); resp.StatusCode != 418 {
			t.Errorf("/api/special: %d, want the new rule's 418", resp.StatusCode)
		}
	})

	// A load balancer deleted closes its listeners. (Through the API, not
	// the provider's Delete, which waits for moto's security groups.)
	elb := elbv2.NewFromConfig(cfg)
	out, err := elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range out.LoadBalancers {
		if strings.EqualFold(*l.DNSName, albDNS) {
			if _, err := elb.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: l.LoadBalancerArn}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := plane.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if a, ok := plane.Addr(albDNS, 80); ok {
		t.Errorf("after Delete the ALB is still served at %s", a)
	}
	if ip, ok := plane.LookupIP(albDNS); ok {
		t.Errorf("after Delete the ALB's name still resolves to %v", ip)
	}
	if _, ok := plane.Addr(nlbDNS, 9000); !ok {
		t.Errorf("the NLB, not deleted, is no longer served")
	}
}

// send makes one request with the Host header host and returns the
// response (body read and closed) and what the backend saw, if a backend
// answered.
func send(t *testing.T, ctx context.Context, client *http.Client, method, url, host string, header http.Header) (*http.Response, seen) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, url, host, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var s seen
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatalf("%s %s: %v in %q", method, url, err, body)
		}
	}
	return resp, s
}
