package emulated_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// TestRouting sends real requests through the proxy and checks which backend
// (or which status) answers each.
func TestRouting(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	exact, pre, re, hdr, qry, meth, wild, deep, catchAll := backend(t, "exact"), backend(t, "prefix"), backend(t, "regex"),
		backend(t, "header"), backend(t, "query"), backend(t, "method"), backend(t, "wild"), backend(t, "deep"), backend(t, "any")
	m := &lb.LoadBalancer{
		Owner:   owner("routing"),
		Options: lb.Options{Emulated: &lb.EmulatedOptions{ResponseHeaders: map[string]string{"x-cloudgate-test": "yes"}}},
		TargetGroups: []lb.TargetGroup{
			group("any", catchAll), group("dead", deadTarget(t)), group("deep", deep), group("empty"),
			group("exact", exact), group("header", hdr), group("method", meth), group("prefix", pre),
			group("query", qry), group("regex", re), group("wild", wild),
		},
		Listeners: []lb.Listener{{Name: "http", Port: 8080, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{
			{Hostname: "foo.example.com", Rules: []lb.Rule{
				forward("exact", lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/exact"}}, to("exact", 1)),
				forward("header", lb.Match{Path: prefix("/h"), Headers: []lb.HeaderMatch{
					{Name: "x-env", Type: lb.MatchExact, Value: "canary"},
					{Name: "X-Build", Type: lb.MatchRegex, Value: "v[0-9]+"}}}, to("header", 1)),
				forward("query", lb.Match{Path: prefix("/q"), Query: []lb.QueryMatch{{Name: "v", Type: lb.MatchRegex, Value: "[0-9]+"}}}, to("query", 1)),
				forward("method", lb.Match{Path: prefix("/m"), Method: "DELETE"}, to("method", 1)),
				forward("prefix", lb.Match{Path: prefix("/foo/")}, to("prefix", 1)),
				forward("regex", lb.Match{Path: &lb.PathMatch{Type: lb.MatchRegex, Value: "/re/[0-9]+"}}, to("regex", 1)),
				{Name: "teapot", Match: lb.Match{Path: prefix("/teapot")}, Action: lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 418}}},
				forward("invalid", lb.Match{Path: prefix("/invalid")}, to("", 1)),
				forward("zero", lb.Match{Path: prefix("/zero")}, to("exact", 0)),
				forward("empty", lb.Match{Path: prefix("/empty")}, to("empty", 1)),
				forward("dead", lb.Match{Path: prefix("/dead")}, to("dead", 1)),
			}},
			{Hostname: "*.b.example.com", Rules: []lb.Rule{forward("deep", lb.Match{}, to("deep", 1))}},
			{Hostname: "*.example.com", Rules: []lb.Rule{
				forward("wild-host", lb.Match{Hostname: "x.example.com", Path: prefix("/")}, to("exact", 1)),
				forward("wild", lb.Match{}, to("wild", 1)),
			}},
			{Rules: []lb.Rule{forward("any", lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/only"}}, to("any", 1))}},
		}}},
	}
	st := ensure(t, p, m)
	base := "http://" + net.JoinHostPort(st.Addresses[0].Value, "8080")
	c := httpClient()
	h := func(kv ...string) http.Header {
		hd := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			hd.Set(kv[i], kv[i+1])
		}
		return hd
	}
	cases := []struct {
		method, host, path string
		header             http.Header
		status             int
		backend            string
	}{
		{"GET", "foo.example.com", "/exact", nil, 200, "exact"},
		{"GET", "FOO.example.com:8080", "/exact", nil, 200, "exact"}, // case and port ignored
		{"GET", "foo.example.com", "/exact/", nil, 404, ""},
		{"GET", "foo.example.com", "/foo", nil, 200, "prefix"}, // trailing slash in the prefix ignored
		{"GET", "foo.example.com", "/foo/bar", nil, 200, "prefix"},
		{"GET", "foo.example.com", "/foobar", nil, 404, ""},
		{"GET", "foo.example.com", "/re/123", nil, 200, "regex"},
		{"GET", "foo.example.com", "/re/123x", nil, 404, ""}, // anchored
		{"GET", "foo.example.com", "/h", h("X-ENV", "canary", "x-build", "v12"), 200, "header"},
		{"GET", "foo.example.com", "/h", h("X-Env", "canary", "x-build", "v12-rc"), 404, ""},
		{"GET", "foo.example.com", "/h", h("X-Env", "Canary", "x-build", "v1"), 404, ""},
		{"GET", "foo.example.com", "/q?v=42&v=x", nil, 200, "query"},
		{"GET", "foo.example.com", "/q?V=42", nil, 404, ""}, // query names are case-sensitive
		{"GET", "foo.example.com", "/q?v=x&v=42", nil, 404, ""},
		{"DELETE", "foo.example.com", "/m", nil, 200, "method"},
		{"GET", "foo.example.com", "/m", nil, 404, ""},
		{"GET", "foo.example.com", "/teapot", nil, 418, ""},
		{"GET", "foo.example.com", "/invalid", nil, 500, ""},
		{"GET", "foo.example.com", "/zero", nil, 500, ""},
		{"GET", "foo.example.com", "/empty", nil, 503, ""},
		{"GET", "foo.example.com", "/dead", nil, 502, ""},
		{"GET", "bar.example.com", "/anything", nil, 200, "wild"},
		{"GET", "x.example.com", "/", nil, 200, "exact"},  // rule hostname inside a wildcard host
		{"GET", "a.b.example.com", "/", nil, 200, "deep"}, // longest wildcard first
		{"GET", "c.a.b.example.com", "/", nil, 200, "deep"},
		{"GET", "example.com", "/only", nil, 200, "any"}, // the wildcard does not match the bare domain
		{"GET", "other.test", "/only", nil, 200, "any"},
		{"GET", "other.test", "/nope", nil, 404, ""},
	}
	for _, tc := range cases {
		r := do(t, c, tc.method, base+tc.path, tc.host, tc.header)
		if r.status != tc.status || r.backend() != tc.backend {
			t.Errorf("%s %s%s: got %d %q, want %d from %q", tc.method, tc.host, tc.path, r.status, r.body, tc.status, tc.backend)
		}
		if r.header.Get("X-Cloudgate-Test") != "yes" {
			t.Errorf("%s %s%s: response header from EmulatedOptions missing", tc.method, tc.host, tc.path)
		}
	}
	r := do(t, c, "GET", base+"/exact", "foo.example.com", h("X-Forwarded-For", "203.0.113.7"))
	if !strings.Contains(r.body, "host=foo.example.com ") || !strings.Contains(r.body, "proto=http ") ||
		!strings.Contains(r.body, "xff=203.0.113.7, 127.") {
		t.Errorf("backend saw %q, want the client's Host and X-Forwarded-Proto/For", r.body)
	}
}

func TestWeightedSplit(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	m := &lb.LoadBalancer{
		Owner:        owner("weights"),
		TargetGroups: []lb.TargetGroup{group("a", backend(t, "a")), group("b", backend(t, "b"), backend(t, "b"))},
		Listeners: []lb.Listener{{Name: "http", Port: 8080, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{
			Rules: []lb.Rule{forward("split", lb.Match{}, to("a", 70), to("b", 30), to("", 0))},
		}}}},
	}
	st := ensure(t, p, m)
	c := httpClient()
	counts := map[string]int{}
	const n = 1000
	for range n {
		r := do(t, c, "GET", "http://"+st.Addresses[0].Value+":8080/", "split.test", nil)
		counts[r.backend()]++
	}
	if a := counts["a"]; a < 650 || a > 750 || counts["a"]+counts["b"] != n {
		t.Errorf("70/30 split over %d requests gave %v", n, counts)
	}
}

func TestTLSPicksCertificateBySNI(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	app := backend(t, "app")
	wrongFirst := selfSigned(t, "wild-other", "*.other.test")
	m := &lb.LoadBalancer{
		Owner:        owner("tls"),
		TargetGroups: []lb.TargetGroup{group("app", app)},
		Listeners: []lb.Listener{{Name: "https", Port: 8443, Protocol: lb.ProtocolHTTPS, VirtualHosts: []lb.VirtualHost{
			{Hostname: "a.example.com", Certificates: []lb.Certificate{selfSigned(t, "exact-a", "a.example.com")},
				Rules: []lb.Rule{forward("a", lb.Match{}, to("app", 1))}},
			{Hostname: "*.example.com", Certificates: []lb.Certificate{wrongFirst, selfSigned(t, "wild-example", "*.example.com")},
				Rules: []lb.Rule{forward("w", lb.Match{}, to("app", 1))}},
			{Hostname: "*.fallback.test", Certificates: []lb.Certificate{selfSigned(t, "first-of-vhost", "nothing.test")},
				Rules: []lb.Rule{forward("f", lb.Match{}, to("app", 1))}},
			{Certificates: []lb.Certificate{selfSigned(t, "catch-all", "default.test")},
				Rules: []lb.Rule{forward("any", lb.Match{}, to("app", 1))}},
		}}},
	}
	st := ensure(t, p, m)
	addr := net.JoinHostPort(st.Addresses[0].Value, "8443")
	for sni, want := range map[string]string{
		"a.example.com":   "exact-a",
		"b.example.com":   "wild-example", // the first certificate does not fit: the second does
		"x.fallback.test": "first-of-vhost",
		"unknown.test":    "catch-all",
		"":                "catch-all",
	} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true}) //nolint:gosec // we inspect the certificate ourselves
		if err != nil {
			t.Errorf("SNI %q: %v", sni, err)
			continue
		}
		if got := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; got != want {
			t.Errorf("SNI %q got certificate %q, want %q", sni, got, want)
		}
		_ = conn.Close()
	}
	c := httpClient()
	c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{ServerName: "a.example.com", InsecureSkipVerify: true} //nolint:gosec // test certificates
	r := do(t, c, "GET", "https://"+addr+"/x", "a.example.com", nil)
	if r.status != 200 || !strings.Contains(r.body, "proto=https") {
		t.Errorf("HTTPS request: %d %q, want 200 with X-Forwarded-Proto https", r.status, r.body)
	}
}

func TestBadCertificateIsRefused(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	bad := selfSigned(t, "bad", "bad.test")
	bad.KeyPEM = []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	m := &lb.LoadBalancer{
		Owner: owner("badcert"),
		Listeners: []lb.Listener{{Name: "https", Port: 8443, Protocol: lb.ProtocolHTTPS, VirtualHosts: []lb.VirtualHost{
			{Certificates: []lb.Certificate{bad}, Rules: []lb.Rule{{Name: "r", Action: lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 200}}}}},
		}}},
	}
	_, err := p.Ensure(context.Background(), m)
	if !errors.Is(err, providers.ErrInvalid) || strings.Contains(err.Error(), "AAAA") {
		t.Errorf("Ensure with a bad key = %v, want ErrInvalid that does not echo the key", err)
	}
}

func TestDeleteClosesPorts(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	m := simple(owner("close"), 8080, backend(t, "a"))
	m.Listeners = append(m.Listeners, lb.Listener{Name: "extra", Port: 8081, Protocol: lb.ProtocolHTTP})
	st := ensure(t, p, m)
	a := st.Addresses[0].Value
	for _, port := range []string{"8080", "8081"} {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(a, port), time.Second)
		if err != nil {
			t.Fatalf("port %s not open after Ensure: %v", port, err)
		}
		_ = conn.Close()
	}
	// Removing a listener closes its port and keeps the other.
	m.Listeners = m.Listeners[:1]
	ensure(t, p, m)
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort(a, "8081"), time.Second); err == nil {
		_ = conn.Close()
		t.Errorf("removed listener's port 8081 still accepts connections")
	}
	if err := p.Delete(context.Background(), m.Owner); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort(a, "8080"), time.Second); err == nil {
		_ = conn.Close()
		t.Errorf("port 8080 still accepts connections after Delete")
	}
}

// TestRouteChangesUnderTrafficFailNothing applies route changes in a loop
// while clients send steady traffic to a route that stays: no request may fail.
func TestRouteChangesUnderTrafficFailNothing(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	stable, other := backend(t, "stable"), backend(t, "other")
	model := func(i int) *lb.LoadBalancer {
		rules := []lb.Rule{forward("stable", lb.Match{Path: prefix("/stable")}, to("stable", 1))}
		// Each change adds or drops routes and flips the weights elsewhere,
		// and every other change adds a second port.
		for j := range i % 5 {
			rules = append(rules, forward(fmt.Sprintf("r%d", j), lb.Match{Path: prefix(fmt.Sprintf("/r%d", j))}, to("other", int32(i)), to("stable", 1)))
		}
		m := &lb.LoadBalancer{
			Owner:        lb.Owner{Cluster: "test", Namespace: "default", Name: "churn", UID: "churn"},
			TargetGroups: []lb.TargetGroup{group("other", other), group("stable", stable)},
			Listeners:    []lb.Listener{{Name: "http", Port: 8080, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: rules}}}},
		}
		if i%2 == 1 {
			m.Listeners = append(m.Listeners, lb.Listener{Name: "more", Port: 8081, Protocol: lb.ProtocolHTTP,
				VirtualHosts: []lb.VirtualHost{{Rules: rules}}})
		}
		return m
	}
	st := ensure(t, p, model(0))
	url := "http://" + st.Addresses[0].Value + ":8080/stable"

	const changes = 200
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := httpClient()
			if w%2 == 1 {
				c.Transport.(*http.Transport).DisableKeepAlives = true // new connections too
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(url)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
			}
		}()
	}
	for i := 1; i <= changes; i++ {
		ensure(t, p, model(i))
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Errorf("%d requests failed, %d succeeded during %d route changes; first failure: %v", failed.Load(), ok.Load(), changes, firstErr.Load())
	}
	t.Logf("%d requests succeeded during %d route changes", ok.Load(), changes)
}

func TestProtocolChangeReopensPort(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	m := simple(owner("reopen"), 8080, backend(t, "a"))
	st := ensure(t, p, m)
	url := st.Addresses[0].Value + ":8080/"
	c := httpClient()
	c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // test certificate
	if r := do(t, c, "GET", "http://"+url, "h.test", nil); r.backend() != "a" {
		t.Fatalf("HTTP before the change: %d %q", r.status, r.body)
	}
	m.Listeners[0].Protocol = lb.ProtocolHTTPS
	m.Listeners[0].VirtualHosts[0].Certificates = []lb.Certificate{selfSigned(t, "h", "h.test")}
	ensure(t, p, m)
	if r := do(t, c, "GET", "https://"+url, "h.test", nil); r.backend() != "a" || !strings.Contains(r.body, "proto=https") {
		t.Errorf("HTTPS after the change: %d %q", r.status, r.body)
	}
}
