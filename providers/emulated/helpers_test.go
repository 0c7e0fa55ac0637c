package emulated_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers/emulated"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
	"github.com/cloudgate-dev/cloudgate/providers/providertest"
)

// testRange is a random /24 inside 127.0.0.0/8, away from the default
// 127.100.0.0/16, so that parallel test packages and a running dev cloud do
// not collide on addresses.
func testRange() netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{127, byte(101 + mrand.IntN(150)), byte(mrand.IntN(256)), 0}), 24)
}

// startCloud runs an in-process cloud for the test and closes it at the end.
func startCloud(t testing.TB) *cloud.Server {
	t.Helper()
	srv, err := cloud.Start(context.Background(), cloud.Config{AddressRange: testRange()}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func newProvider(t testing.TB, srv *cloud.Server) *emulated.Provider {
	t.Helper()
	p, err := emulated.New(emulated.Config{Endpoint: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hooks gives the contract suite the cloud's own view, through its Go API.
type hooks struct{ c *cloud.Cloud }

func (h hooks) Resources(context.Context) ([]providertest.Resource, error) {
	var out []providertest.Resource
	for _, l := range h.c.List(cloud.ListOptions{}) {
		out = append(out, resource(l))
	}
	return out, nil
}

func (h hooks) PlantForeign(_ context.Context, owner lb.Owner) (providertest.Resource, error) {
	l, err := h.c.Create(cloud.LoadBalancer{
		Name: emulated.LoadBalancerName(owner),
		Tags: map[string]string{"owner": "someone-else"},
		Spec: cloud.Spec{Listeners: []lb.Listener{{Name: "theirs", Port: 9090, Protocol: lb.ProtocolHTTP}}},
	})
	return resource(l), err
}

func resource(l cloud.LoadBalancer) providertest.Resource {
	r := providertest.Resource{ID: l.ID, Name: l.Name, Tags: l.Tags, Addresses: []string{l.Address}}
	for _, ls := range l.Spec.Listeners {
		r.Ports = append(r.Ports, ls.Port)
	}
	return r
}

// backend is a real HTTP server that says who answered and what it saw.
func backend(t testing.TB, name string) lb.Target {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "backend=%s host=%s path=%s proto=%s xff=%s",
			name, r.Host, r.URL.Path, r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-For"))
	}))
	t.Cleanup(s.Close)
	ap := netip.MustParseAddrPort(s.Listener.Addr().String())
	return lb.Target{IP: ap.Addr().String(), Port: int32(ap.Port())}
}

// deadTarget is an address where nothing listens.
func deadTarget(t testing.TB) lb.Target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(ln.Addr().String())
	_ = ln.Close()
	return lb.Target{IP: "127.0.0.1", Port: int32(ap.Port())}
}

func owner(name string) lb.Owner {
	return lb.Owner{Cluster: "test", Namespace: "default", Name: name, UID: "uid-" + name + "-" + strconv.Itoa(mrand.Int())}
}

func group(name string, targets ...lb.Target) lb.TargetGroup {
	return lb.TargetGroup{Name: name, Protocol: lb.ProtocolHTTP, Targets: targets}
}

func forward(name string, m lb.Match, backends ...lb.WeightedBackend) lb.Rule {
	return lb.Rule{Name: name, Match: m, Action: lb.Action{Forward: backends}}
}

func to(group string, weight int32) lb.WeightedBackend {
	return lb.WeightedBackend{TargetGroup: group, Weight: weight}
}

func prefix(p string) *lb.PathMatch { return &lb.PathMatch{Type: lb.MatchPrefix, Value: p} }

func ensure(t testing.TB, p *emulated.Provider, m *lb.LoadBalancer) lb.Status {
	t.Helper()
	res, err := p.Ensure(context.Background(), m)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	st := res.Status
	if !st.Ready || len(st.Addresses) != 1 {
		t.Fatalf("Ensure status = %+v, want ready with one address", st)
	}
	return st
}

// httpClient never reuses the environment's proxy settings and fails fast.
func httpClient() *http.Client {
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

type response struct {
	status int
	body   string
	header http.Header
}

// backendName extracts "a" from "backend=a host=...".
func (r response) backend() string {
	name, ok := strings.CutPrefix(r.body, "backend=")
	if !ok {
		return ""
	}
	name, _, _ = strings.Cut(name, " ")
	return name
}

func do(t testing.TB, c *http.Client, method, url, host string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, url, host, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: string(body), header: resp.Header}
}

// selfSigned returns a PEM certificate and key for names, with commonName as
// the subject so that tests can tell certificates apart.
func selfSigned(t testing.TB, commonName string, names ...string) lb.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(mrand.Int64()),
		Subject:      pkix.Name{CommonName: commonName},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return lb.Certificate{
		Name:    "default/" + commonName,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}
