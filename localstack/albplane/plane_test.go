package albplane

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

const (
	pageRules      = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-rules.html"
	pageActions    = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-action-types.html"
	pageRedirect   = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_RedirectActionConfig.html"
	pageTransforms = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-transforms.html"
	pageForwarded  = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html"
	pageCerts      = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/https-listener-certificates.html"
)

// fake builds a plane around a table made by hand, without an API: the
// tests below exercise serving, the end-to-end test the reading.
type fake struct {
	t      *testing.T
	p      *Plane
	groups map[string]*group
	tbl    *table
}

func newFake(t *testing.T) *fake {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return &fake{t: t, p: p, groups: map[string]*group{}, tbl: &table{byDNS: map[string]*balancer{}, byARN: map[string]*balancer{}}}
}

func (f *fake) group(arn, proto, version string, targets ...string) {
	f.groups[arn] = &group{ARN: arn, Name: arn, Protocol: proto, ProtocolVersion: version, Targets: targets, next: new(atomic.Uint64)}
}

func (f *fake) rule(prio string, conds []elbtypes.RuleCondition, a elbtypes.Action, ts ...elbtypes.RuleTransform) *rule {
	r, err := convertRule(elbtypes.Rule{Priority: aws.String(prio), Conditions: conds, Actions: []elbtypes.Action{a}, Transforms: ts}, f.groups)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fake) listener(dns, typ string, li *listener) {
	b := f.tbl.byDNS[dns]
	if b == nil {
		b = &balancer{ARN: "arn:" + dns, DNSName: dns, Type: typ, Listeners: map[int32]*listener{}}
		f.tbl.byDNS[dns], f.tbl.byARN[b.ARN] = b, b
	}
	b.Listeners[li.Port] = li
}

// publish swaps the table in as Sync would.
func (f *fake) publish() {
	f.p.syncMu.Lock()
	defer f.p.syncMu.Unlock()
	f.p.table.Store(f.tbl)
	if err := f.p.listen(f.tbl); err != nil {
		f.t.Fatal(err)
	}
}

func forward(pairs ...any) elbtypes.Action {
	fc := &elbtypes.ForwardActionConfig{}
	for i := 0; i < len(pairs); i += 2 {
		fc.TargetGroups = append(fc.TargetGroups, elbtypes.TargetGroupTuple{TargetGroupArn: aws.String(pairs[i].(string)), Weight: aws.Int32(int32(pairs[i+1].(int)))})
	}
	return elbtypes.Action{Type: elbtypes.ActionTypeEnumForward, ForwardConfig: fc}
}

func (f *fake) client() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: f.p.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
}

func addrOf(s *httptest.Server) string { return s.Listener.Addr().String() }

func TestRulesInPriorityOrderThenDefault(t *testing.T) {
	// "Listener rules": rules are evaluated in priority order, from the
	// lowest value to the highest; the default rule last. Priorities are
	// numbers, not strings ("10" after "9").
	rules := []elbtypes.Rule{
		{Priority: aws.String("default"), IsDefault: aws.Bool(true)},
		{Priority: aws.String("10")}, {Priority: aws.String("9")}, {Priority: aws.String("100")}, {Priority: aws.String("1")},
	}
	sortRules(rules)
	var got []string
	for _, r := range rules {
		got = append(got, aws.ToString(r.Priority))
	}
	if strings.Join(got, ",") != "1,9,10,100,default" {
		t.Errorf("order %v, want 1,9,10,100,default (%s)", got, pageRules)
	}

	f := newFake(t)
	a, b := backend(t, "a"), backend(t, "b")
	f.group("ga", "HTTP", "HTTP1", addrOf(a))
	f.group("gb", "HTTP", "HTTP1", addrOf(b))
	f.listener("lb.test", "application", &listener{Port: 80, Protocol: "HTTP", Rules: []*rule{
		f.rule("1", []elbtypes.RuleCondition{pathCond("/a/*")}, forward("ga", 1)),
		f.rule("2", []elbtypes.RuleCondition{pathCond("/*")}, forward("gb", 1)),
		f.rule("default", nil, elbtypes.Action{Type: elbtypes.ActionTypeEnumFixedResponse,
			FixedResponseConfig: &elbtypes.FixedResponseActionConfig{StatusCode: aws.String("404"), ContentType: aws.String("text/plain"), MessageBody: aws.String("none")}}),
	}})
	f.publish()
	c := f.client()
	if _, s := send(t, t.Context(), c, "GET", "http://lb.test/a/x", "h", nil); s.Backend != "a" {
		t.Errorf("/a/x went to %q, want a: the lower priority first (%s)", s.Backend, pageRules)
	}
	if _, s := send(t, t.Context(), c, "GET", "http://lb.test/b", "h", nil); s.Backend != "b" {
		t.Errorf("/b went to %q, want b", s.Backend)
	}
}

func TestFixedResponse(t *testing.T) {
	// "Action types for listener rules": a fixed-response action answers
	// with its status code, content type and message body.
	f := newFake(t)
	f.listener("lb.test", "application", &listener{Port: 80, Protocol: "HTTP", Rules: []*rule{
		f.rule("default", nil, elbtypes.Action{Type: elbtypes.ActionTypeEnumFixedResponse,
			FixedResponseConfig: &elbtypes.FixedResponseActionConfig{StatusCode: aws.String("503"), ContentType: aws.String("application/json"), MessageBody: aws.String(`{"down":true}`)}}),
	}})
	f.publish()
	resp, err := f.client().Get("http://lb.test/anything")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get("Content-Type") != "application/json" || string(body) != `{"down":true}` {
		t.Errorf("%d %q %q, want 503 application/json {\"down\":true} (%s)", resp.StatusCode, resp.Header.Get("Content-Type"), body, pageActions)
	}
}

func TestWeightedForward(t *testing.T) {
	// "Action types for listener rules": a forward to several groups
	// shares requests by weight; a group of weight 0 gets none; within a
	// group, round robin over its targets.
	f := newFake(t)
	a1, a2, b, z := backend(t, "a1"), backend(t, "a2"), backend(t, "b"), backend(t, "zero")
	f.group("ga", "HTTP", "HTTP1", addrOf(a1), addrOf(a2))
	f.group("gb", "HTTP", "HTTP1", addrOf(b))
	f.group("gz", "HTTP", "HTTP1", addrOf(z))
	f.listener("lb.test", "application", &listener{Port: 80, Protocol: "HTTP", Rules: []*rule{
		f.rule("default", nil, forward("ga", 2, "gb", 1, "gz", 0)),
	}})
	f.publish()
	n := map[string]int{}
	c := f.client()
	for range 30 {
		_, s := send(t, t.Context(), c, "GET", "http://lb.test/", "", nil)
		n[s.Backend]++
	}
	if n["a1"] != 10 || n["a2"] != 10 || n["b"] != 10 || n["zero"] != 0 {
		t.Errorf("requests %v, want a1 10, a2 10, b 10, zero none (%s)", n, pageActions)
	}
}

func TestRedirect(t *testing.T) {
	// RedirectActionConfig's examples: the path "/new/#{path}", the host
	// "example.#{host}", the query "#{query}&value=xyz"; components not
	// set keep their values.
	li := &listener{Port: 80, Protocol: "HTTP"}
	for _, c := range []struct {
		name string
		rd   redirect
		want string
	}{
		{"path /new/#{path}", redirect{Protocol: "#{protocol}", Host: "#{host}", Port: "#{port}", Path: "/new/#{path}", Query: "#{query}"},
			"http://shop.example.com:80/new/a/b?x=1"},
		{"host example.#{host}", redirect{Protocol: "#{protocol}", Host: "example.#{host}", Port: "#{port}", Path: "/#{path}", Query: "#{query}"},
			"http://example.shop.example.com:80/a/b?x=1"},
		{"query #{query}&value=xyz", redirect{Protocol: "#{protocol}", Host: "#{host}", Port: "#{port}", Path: "/#{path}", Query: "#{query}&value=xyz"},
			"http://shop.example.com:80/a/b?x=1&value=xyz"},
		{"HTTP to HTTPS", redirect{Protocol: "HTTPS", Host: "#{host}", Port: "443", Path: "/#{path}", Query: "#{query}"},
			"https://shop.example.com:443/a/b?x=1"},
	} {
		r := httptest.NewRequest("GET", "/a/b?x=1", nil)
		r.Host = "shop.example.com:80"
		if got := redirectURL(c.rd, r, li); got != c.want {
			t.Errorf("%s: %q, want %q (%s)", c.name, got, c.want, pageRedirect)
		}
	}
	// An empty query leaves no "?".
	r := httptest.NewRequest("GET", "/a", nil)
	r.Host = "h.example"
	if got := redirectURL(redirect{Protocol: "HTTPS", Host: "#{host}", Port: "443", Path: "/#{path}", Query: "#{query}"}, r, li); got != "https://h.example:443/a" {
		t.Errorf("without a query: %q", got)
	}
}

func TestTransforms(t *testing.T) {
	f := newFake(t)
	web := backend(t, "web")
	f.group("g", "HTTP", "HTTP1", addrOf(web))
	hostRW := func(re, repl string) elbtypes.RuleTransform {
		return elbtypes.RuleTransform{Type: elbtypes.TransformTypeEnumHostHeaderRewrite, HostHeaderRewriteConfig: &elbtypes.HostHeaderRewriteConfig{
			Rewrites: []elbtypes.RewriteConfig{{Regex: aws.String(re), Replace: aws.String(repl)}}}}
	}
	urlRW := func(re, repl string) elbtypes.RuleTransform {
		return elbtypes.RuleTransform{Type: elbtypes.TransformTypeEnumUrlRewrite, UrlRewriteConfig: &elbtypes.UrlRewriteConfig{
			Rewrites: []elbtypes.RewriteConfig{{Regex: aws.String(re), Replace: aws.String(repl)}}}}
	}
	f.listener("lb.test", "application", &listener{Port: 80, Protocol: "HTTP", Rules: []*rule{
		// The page's host header example.
		f.rule("1", []elbtypes.RuleCondition{pathCond("/project-a")}, forward("g", 1), hostRW(`^mywebsite-(.+).com$`, "internal.dev.$1.myweb.com")),
		f.rule("2", []elbtypes.RuleCondition{pathCond("/dp/*")}, forward("g", 1), urlRW(`^/dp/([A-Za-z0-9]+)/?$`, "/product.php?id=$1")),
		// A rewrite whose result is no URL: the transform fails.
		f.rule("3", []elbtypes.RuleCondition{pathCond("/bad")}, forward("g", 1), urlRW(`^/bad`, "nope")),
		f.rule("default", nil, forward("g", 1)),
	}})
	f.publish()
	c := f.client()
	if _, s := send(t, t.Context(), c, "GET", "http://lb.test/project-a", "mywebsite-example.com", nil); s.Host != "internal.dev.example.myweb.com" || s.URI != "/project-a" {
		t.Errorf("host rewrite: Host %q %s, want internal.dev.example.myweb.com /project-a (%s)", s.Host, s.URI, pageTransforms)
	}
	if _, s := send(t, t.Context(), c, "GET", "http://lb.test/project-a", "other.org", nil); s.Host != "other.org" {
		t.Errorf("no match: Host %q, want it unchanged (%s: \"If there is no pattern match, the original request is sent\")", s.Host, pageTransforms)
	}
	if _, s := send(t, t.Context(), c, "GET", "http://lb.test/dp/B09G3HRMVB", "shop.example", nil); s.URI != "/product.php?id=B09G3HRMVB" {
		t.Errorf("url rewrite: %q, want /product.php?id=B09G3HRMVB", s.URI)
	}
	if resp, _ := send(t, t.Context(), c, "GET", "http://lb.test/bad", "shop.example", nil); resp.StatusCode != 500 {
		t.Errorf("a failing transform: %d, want 500 (%s)", resp.StatusCode, pageTransforms)
	}
}

func TestForwardedHeadersWithoutPrior(t *testing.T) {
	// "HTTP headers and Application Load Balancers": without an
	// X-Forwarded-For of the client's, the header is the client's address.
	f := newFake(t)
	web := backend(t, "web")
	f.group("g", "HTTP", "HTTP1", addrOf(web))
	f.listener("lb.test", "application", &listener{Port: 8080, Protocol: "HTTP", Rules: []*rule{f.rule("default", nil, forward("g", 1))}})
	f.publish()
	_, s := send(t, t.Context(), f.client(), "GET", "http://lb.test:8080/", "x", nil)
	if ip := net.ParseIP(s.Header.Get("X-Forwarded-For")); ip == nil || !ip.IsLoopback() {
		t.Errorf("X-Forwarded-For %q, want the client's loopback address alone (%s)", s.Header.Get("X-Forwarded-For"), pageForwarded)
	}
	if s.Header.Get("X-Forwarded-Port") != "8080" || s.Header.Get("X-Forwarded-Proto") != "http" || !strings.HasPrefix(s.Header.Get("X-Amzn-Trace-Id"), "Root=1-") {
		t.Errorf("headers %v", s.Header)
	}
}

// TestHTTP2Targets: groups of protocol version HTTP2 and GRPC get HTTP/2
// (prior knowledge over plain HTTP groups), HTTP1 groups HTTP/1.1.
func TestHTTP2Targets(t *testing.T) {
	f := newFake(t)
	h2c := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seen{Backend: "h2c", Proto: r.Proto})
	}))
	h2c.Config.Protocols = new(http.Protocols)
	h2c.Config.Protocols.SetUnencryptedHTTP2(true)
	h2c.Start()
	t.Cleanup(h2c.Close)
	h1 := backend(t, "h1")
	f.group("g2", "HTTP", "HTTP2", addrOf(h2c))
	f.group("g1", "HTTP", "HTTP1", addrOf(h1))
	f.listener("lb.test", "application", &listener{Port: 80, Protocol: "HTTP", Rules: []*rule{
		f.rule("1", []elbtypes.RuleCondition{pathCond("/2")}, forward("g2", 1)),
		f.rule("default", nil, forward("g1", 1)),
	}})
	f.publish()
	if _, s := send(t, t.Context(), f.client(), "GET", "http://lb.test/2", "", nil); s.Proto != "HTTP/2.0" {
		t.Errorf("the HTTP2 group saw %q, want HTTP/2.0", s.Proto)
	}
	if _, s := send(t, t.Context(), f.client(), "GET", "http://lb.test/1", "", nil); s.Proto != "HTTP/1.1" {
		t.Errorf("the HTTP1 group saw %q, want HTTP/1.1", s.Proto)
	}
}

// selfSigned is a certificate for names with an ECDSA or RSA key.
func selfSigned(t *testing.T, rsaKey bool, names ...string) *tls.Certificate {
	t.Helper()
	var pub, priv any
	if rsaKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		pub, priv = &k.PublicKey, k
	} else {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub, priv = &k.PublicKey, k
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}
}

func TestChooseCert(t *testing.T) {
	// "SSL certificates for your Application Load Balancer": the
	// certificate that matches the SNI name; among several, ECDSA before
	// RSA; without SNI or a match, the default.
	def := selfSigned(t, true, "default.example.com")
	rsaShop := selfSigned(t, true, "shop.example.com")
	ecShop := selfSigned(t, false, "shop.example.com")
	wild := selfSigned(t, true, "*.example.org")
	certs := []*tls.Certificate{def, rsaShop, ecShop, wild}
	modern := &tls.ClientHelloInfo{SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256, tls.PSSWithSHA256},
		SupportedVersions: []uint16{tls.VersionTLS13}, SupportedCurves: []tls.CurveID{tls.CurveP256}}
	for _, c := range []struct {
		sni  string
		want *tls.Certificate
	}{
		{"shop.example.com", ecShop},
		{"a.example.org", wild},
		{"", def},
		{"unknown.example.net", def},
	} {
		hello := *modern
		hello.ServerName = c.sni
		got, err := chooseCert(certs, &hello)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("SNI %q: got %v, want %v (%s)", c.sni, got.Leaf.DNSNames, c.want.Leaf.DNSNames, pageCerts)
		}
	}
}

func TestNLBTLSTerminationAndUDP(t *testing.T) {
	f := newFake(t)
	echo := echoServer(t, "echo")
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udp.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := udp.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = udp.WriteTo(append([]byte("udp:"), buf[:n]...), from)
		}
	}()
	f.group("tcp", "TCP", "", echo.Addr().String())
	f.group("udp", "UDP", "", udp.LocalAddr().String())
	cert := selfSigned(t, false, "tls.example.com")
	def := func(g string) *action {
		a, err := convertActions([]elbtypes.Action{forward(g, 1)}, f.groups)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	f.listener("nlb.test", "network", &listener{Port: 8443, Protocol: "TLS", Certs: []*tls.Certificate{cert}, Default: def("tcp")})
	f.listener("nlb.test", "network", &listener{Port: 5353, Protocol: "UDP", Default: def("udp")})
	f.publish()

	raw, err := f.p.DialContext(t.Context(), "tcp", "nlb.test:8443")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	c := tls.Client(raw, &tls.Config{ServerName: "tls.example.com", RootCAs: pool})
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "hi\n"); err != nil {
		t.Fatalf("TLS to the NLB listener: %v", err)
	}
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "echo:hi\n" {
		t.Errorf("TLS listener: read %q, %v; want echo:hi (the target got the plain bytes)", line, err)
	}

	u, err := f.p.DialContext(t.Context(), "udp", "nlb.test:5353")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	_ = u.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := u.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, err := u.Read(buf)
	if err != nil || string(buf[:n]) != "udp:ping" {
		t.Errorf("UDP listener: %q, %v; want udp:ping", buf[:n], err)
	}
}

func TestDialAndClose(t *testing.T) {
	f := newFake(t)
	f.listener("lb.test", "application", &listener{Port: 80, Protocol: "HTTP", Rules: []*rule{
		f.rule("default", nil, elbtypes.Action{Type: elbtypes.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbtypes.FixedResponseActionConfig{StatusCode: aws.String("200")}})}})
	f.publish()
	if _, err := f.p.DialContext(context.Background(), "tcp", "elsewhere.example:80"); err == nil {
		t.Error("dialing a name that is no load balancer's succeeded")
	}
	if _, err := f.p.DialContext(context.Background(), "tcp", "lb.test:81"); err == nil {
		t.Error("dialing a port that is no listener's succeeded")
	}
	addr, ok := f.p.Addr("LB.test.", 80)
	if !ok {
		t.Fatal("no address for lb.test:80 (names compare without case and trailing dot)")
	}
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() || host == "127.0.0.1" {
		t.Errorf("address %s, want a loopback address of the load balancer's own", addr)
	}
	if p, _ := strconv.Atoi(port); p == 0 {
		t.Errorf("port %s", port)
	}
	if err := f.p.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Close", addr)
	}
	if err := f.p.Sync(context.Background()); err == nil {
		t.Error("Sync after Close succeeded")
	}
}
