package dataplane

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

func TestHostMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, host string
		want          bool
	}{
		{"", "anything.test", true},
		{"a.example.com", "a.example.com", true},
		{"a.example.com", "b.example.com", false},
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "aexample.com", false},
	} {
		if got := hostMatches(tc.pattern, tc.host); got != tc.want {
			t.Errorf("hostMatches(%q, %q) = %v, want %v", tc.pattern, tc.host, got, tc.want)
		}
	}
}

func TestPathMatch(t *testing.T) {
	for _, tc := range []struct {
		typ         lb.MatchType
		value, path string
		want        bool
	}{
		{lb.MatchPrefix, "/", "/anything", true},
		{lb.MatchPrefix, "/foo", "/foo", true},
		{lb.MatchPrefix, "/foo", "/foo/", true},
		{lb.MatchPrefix, "/foo", "/foo/bar", true},
		{lb.MatchPrefix, "/foo", "/foobar", false},
		{lb.MatchPrefix, "/foo/", "/foo", true},
		{lb.MatchExact, "/foo", "/foo/", false},
		{lb.MatchRegex, "/a+", "/aaa", true},
		{lb.MatchRegex, "/a+", "/aaab", false},
		{lb.MatchRegex, "/a|/b", "/b", true}, // anchoring wraps alternations
		{lb.MatchRegex, "/a|/b", "/bc", false},
	} {
		r, err := compileRule(lb.Rule{Name: "r", Match: lb.Match{Path: &lb.PathMatch{Type: tc.typ, Value: tc.value}},
			Action: lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 200}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.path.matches(tc.path); got != tc.want {
			t.Errorf("%s %q on %q = %v, want %v", tc.typ, tc.value, tc.path, got, tc.want)
		}
	}
}

func TestVirtualHostPrecedence(t *testing.T) {
	fixed := func(code int) []lb.Rule {
		return []lb.Rule{{Name: "r", Action: lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: code}}}}
	}
	c, err := Compile(Spec{Listeners: []lb.Listener{{Name: "l", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{
		{Hostname: "*.example.com", Rules: fixed(201)},
		{Hostname: "*.b.example.com", Rules: fixed(202)},
		{Hostname: "a.b.example.com", Rules: fixed(203)},
		{Hostname: "", Rules: fixed(204)},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]int{
		"x.example.com": 201, "x.b.example.com": 202, "A.B.example.com:80": 203, "example.com": 204, "b.example.com": 201,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		if got := c.tables[0].route(r); got == nil || got.action.status != want {
			t.Errorf("host %q routed to %+v, want status %d", host, got, want)
		}
	}
}

func TestCompileRejectsBadInput(t *testing.T) {
	cert := lb.Certificate{Name: "ns/bad", CertPEM: []byte("not pem"), KeyPEM: []byte("SECRET")}
	_, err := Compile(Spec{
		TargetGroups: []lb.TargetGroup{{Name: "g", Targets: []lb.Target{{IP: "not-an-ip", Port: 80}}}},
		Listeners: []lb.Listener{
			{Name: "sctp", Port: 1, Protocol: "SCTP"},
			{Name: "tls", Port: 2, Protocol: lb.ProtocolHTTPS, VirtualHosts: []lb.VirtualHost{{Certificates: []lb.Certificate{cert}}}},
			{Name: "re", Port: 3, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{{Name: "r",
				Match:  lb.Match{Path: &lb.PathMatch{Type: lb.MatchRegex, Value: "("}},
				Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "missing", Weight: 1}}}}}}}},
		},
	})
	if err == nil {
		t.Fatal("Compile accepted bad input")
	}
	for _, want := range []string{"not-an-ip", `"SCTP" is not supported`, `certificate "ns/bad"`, "invalid regular expression", `unknown target group "missing"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error leaks the key: %v", err)
	}
	// Each problem is the fault of the innermost element it is in: the bad
	// certificate, not its listener; the rule, not its listener.
	want := []Element{{KindTargetGroup, "g"}, {KindListener, "sctp"}, {KindCertificate, "ns/bad"}, {KindRule, "r"}}
	if got := Faults(err); !slices.Equal(got, want) {
		t.Errorf("Faults = %v, want %v", got, want)
	}
}

// TestFaultsNameTheBadRule compiles one bad rule among good ones: only that
// rule is at fault, and a problem outside any element names none.
func TestFaultsNameTheBadRule(t *testing.T) {
	fixed := lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 200}}
	bad := fixed
	bad.RequestHeaders = &lb.HeaderModifier{Set: []lb.Header{{Name: "bad name", Value: "v"}}}
	_, err := Compile(Spec{
		Emulated: &lb.EmulatedOptions{ResponseHeaders: map[string]string{"no good": "x"}},
		Listeners: []lb.Listener{{Name: "l", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
			{Name: "good-1", Action: fixed},
			{Name: "bad", Action: bad},
			{Name: "bad-match", Match: lb.Match{Headers: []lb.HeaderMatch{{Name: "x:y", Type: lb.MatchExact, Value: "1"}}}, Action: fixed},
			{Name: "good-2", Action: fixed},
		}}}}},
	})
	want := []Element{{KindRule, "bad"}, {KindRule, "bad-match"}}
	if got := Faults(err); !slices.Equal(got, want) {
		t.Errorf("Faults(%v) = %v, want %v", err, got, want)
	}
	if !strings.Contains(err.Error(), `listener "l": rule "bad": request headers: invalid header name "bad name"`) {
		t.Errorf("message %q does not say where", err)
	}
}

// TestFaultsOfABrokenTargetGroup blames a refused target group alone, not
// the rules and streams that use it.
func TestFaultsOfABrokenTargetGroup(t *testing.T) {
	fwd := []lb.WeightedBackend{{TargetGroup: "sctp", Weight: 1}}
	_, err := Compile(Spec{
		TargetGroups: []lb.TargetGroup{{Name: "sctp", Protocol: "SCTP"}},
		Listeners: []lb.Listener{
			{Name: "http", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
				{Name: "uses-it", Action: lb.Action{Forward: fwd, Mirrors: []lb.Mirror{{TargetGroup: "sctp", Percent: 100}}}}}}}},
			{Name: "tcp", Port: 81, Protocol: lb.ProtocolTCP, Streams: []lb.Stream{{Name: "stream", Backends: fwd}}},
		},
	})
	want := []Element{{KindTargetGroup, "sctp"}}
	if got := Faults(err); !slices.Equal(got, want) {
		t.Errorf("Faults(%v) = %v, want %v", err, got, want)
	}
}

func TestCertificateSelection(t *testing.T) {
	vh := func(host string, certs ...lb.Certificate) lb.VirtualHost {
		return lb.VirtualHost{Hostname: host, Certificates: certs}
	}
	for _, tc := range []struct {
		name  string
		hosts []lb.VirtualHost
		sni   string
		want  string
	}{
		{"exact", []lb.VirtualHost{vh("*.a.test", cert(t, "w", "*.a.test")), vh("x.a.test", cert(t, "x", "x.a.test"))}, "x.a.test", "x"},
		{"fitting leaf", []lb.VirtualHost{vh("*.a.test", cert(t, "other", "z.test"), cert(t, "fits", "*.a.test"))}, "y.a.test", "fits"},
		{"first when none fits", []lb.VirtualHost{vh("*.a.test", cert(t, "first", "z.test"), cert(t, "second", "q.test"))}, "y.a.test", "first"},
		{"catch-all without SNI", []lb.VirtualHost{vh("x.a.test", cert(t, "x", "x.a.test")), vh("", cert(t, "any", "d.test"))}, "", "any"},
		{"listener's first", []lb.VirtualHost{vh("x.a.test", cert(t, "x", "x.a.test")), vh("y.a.test", cert(t, "y", "y.a.test"))}, "nope.test", "x"},
	} {
		c, err := Compile(Spec{Listeners: []lb.Listener{{Name: "l", Port: 443, Protocol: lb.ProtocolHTTPS, VirtualHosts: tc.hosts}}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.tables[0].certificate(tc.sni)
		if err != nil || got.Leaf.Subject.CommonName != tc.want {
			t.Errorf("%s: got %v (%v), want %q", tc.name, got.Leaf.Subject.CommonName, err, tc.want)
		}
	}
}

func cert(t *testing.T, cn string, names ...string) lb.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := x509.MarshalPKCS8PrivateKey(key)
	return lb.Certificate{Name: cn,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k})}
}
