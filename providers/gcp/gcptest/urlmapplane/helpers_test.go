package urlmapplane

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

const (
	testProject = "p"
	testRegion  = "r1"
	testZone    = "r1-a"
)

// fixture is a double on a free port and a plane reading it, polling off
// (tests Sync after each change).
type fixture struct {
	srv   *gcptest.Server
	d     *gcptest.Double
	plane *Plane
	keys  *Keyring
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, netip.Prefix{})
}

// newFixtureWith is newFixture with the double's external addresses from
// external (zero: the double's default).
func newFixtureWith(t *testing.T, external netip.Prefix) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := gcptest.Start(ctx, gcptest.Config{Project: testProject, Region: testRegion, Zones: []string{testZone},
		Subnetworks: []*computepb.Subnetwork{gcptest.ProxyOnlySubnet()}, ExternalAddresses: external}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	keys := NewKeyring()
	p, err := New(Config{Endpoint: srv.URL(), Project: testProject, Region: testRegion, PollInterval: -1, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, d: srv.Double(), plane: p, keys: keys}
}

func regional(coll, name string) string {
	return "projects/" + testProject + "/regions/" + testRegion + "/" + coll + "/" + name
}

func (f *fixture) create(t *testing.T, scope string, obj proto.Message) string {
	t.Helper()
	link, err := f.d.Create(scope, obj)
	if err != nil {
		t.Fatalf("create %T: %v", obj, err)
	}
	return link
}

// call sends one API call to the double, as a client would.
func (f *fixture) call(t *testing.T, method, path string, body proto.Message) {
	t.Helper()
	var rdr io.Reader
	if body != nil {
		b, err := protojson.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rdr = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, f.srv.URL()+"/compute/v1/projects/"+testProject+"/"+path, rdr)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
}

// service creates a backend service of protocol with one NEG holding
// endpoints ("ip:port"), and returns its ref.
func (f *fixture) service(t *testing.T, name, protocol string, endpoints ...string) string {
	t.Helper()
	neg := "neg-" + name
	f.create(t, "zones/"+testZone, &computepb.NetworkEndpointGroup{Name: proto.String(neg), NetworkEndpointType: proto.String("GCE_VM_IP_PORT"),
		Network: proto.String("global/networks/default")})
	if len(endpoints) > 0 {
		var eps []*computepb.NetworkEndpoint
		for _, e := range endpoints {
			host, port, _ := net.SplitHostPort(e)
			n, _ := strconv.Atoi(port)
			eps = append(eps, &computepb.NetworkEndpoint{IpAddress: proto.String(host), Port: proto.Int32(int32(n)), Instance: proto.String("vm-1")})
		}
		f.call(t, http.MethodPost, "zones/"+testZone+"/networkEndpointGroups/"+neg+"/attachNetworkEndpoints",
			&computepb.NetworkEndpointGroupsAttachEndpointsRequest{NetworkEndpoints: eps})
	}
	f.create(t, "regions/"+testRegion, &computepb.BackendService{Name: proto.String(name), Protocol: proto.String(protocol),
		LoadBalancingScheme: proto.String("EXTERNAL_MANAGED"),
		Backends: []*computepb.Backend{{Group: proto.String("projects/" + testProject + "/zones/" + testZone + "/networkEndpointGroups/" + neg),
			BalancingMode: proto.String("RATE"), MaxRatePerEndpoint: proto.Float32(100)}}})
	return regional("backendServices", name)
}

// httpFrontend creates um, an HTTP proxy on it and a forwarding rule on
// port 80, and returns the rule's IP.
func (f *fixture) httpFrontend(t *testing.T, um *computepb.UrlMap) string {
	t.Helper()
	f.create(t, "regions/"+testRegion, um)
	proxy := "proxy-" + um.GetName()
	f.create(t, "regions/"+testRegion, &computepb.TargetHttpProxy{Name: proto.String(proxy), UrlMap: proto.String(regional("urlMaps", um.GetName()))})
	return f.rule(t, "fr-"+um.GetName(), regional("targetHttpProxies", proxy), 80)
}

func (f *fixture) rule(t *testing.T, name, target string, port int) string {
	t.Helper()
	f.create(t, "regions/"+testRegion, &computepb.ForwardingRule{Name: proto.String(name), Target: proto.String(target),
		PortRange: proto.String(strconv.Itoa(port)), LoadBalancingScheme: proto.String("EXTERNAL_MANAGED"), IPProtocol: proto.String("TCP"),
		Network: proto.String("global/networks/default")})
	fr, ok := gcptest.Get[*computepb.ForwardingRule](f.d, regional("forwardingRules", name))
	if !ok {
		t.Fatalf("forwarding rule %s not stored", name)
	}
	return fr.GetIPAddress()
}

func (f *fixture) sync(t *testing.T) {
	t.Helper()
	if err := f.plane.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ps := f.plane.Problems(); len(ps) > 0 {
		t.Fatalf("the plane cannot serve: %v", ps)
	}
}

// client sends requests to cloud addresses through the plane.
func (f *fixture) client() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{DialContext: f.plane.DialContext, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // test certificates
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

// seen is what an echo backend saw.
type seen struct {
	Backend string      `json:"backend"`
	Method  string      `json:"method"`
	Path    string      `json:"path"`
	Query   string      `json:"query"`
	Host    string      `json:"host"`
	Proto   string      `json:"proto"`
	TLS     bool        `json:"tls"`
	Header  http.Header `json:"header"`
	Body    string      `json:"body"`
}

func echo(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Backend", name)
		_ = json.NewEncoder(w).Encode(seen{Backend: name, Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Host: r.Host,
			Proto: r.Proto, TLS: r.TLS != nil, Header: r.Header, Body: string(b)})
	}
}

// backend is an echo server on 127.0.0.1, closed at the end of the test.
func backend(t *testing.T, name string) string {
	t.Helper()
	s := httptest.NewServer(echo(name))
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

type answer struct {
	code   int
	header http.Header
	seen   seen
	body   string
}

func get(t *testing.T, c *http.Client, rawURL, host string, header http.Header) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", rawURL, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, header: resp.Header, body: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(b, &a.seen)
	}
	return a
}

// selfSigned is a certificate for hosts and its key, in PEM.
func selfSigned(t *testing.T, hosts ...string) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

func wbs(ref string, weight uint32) *computepb.WeightedBackendService {
	return &computepb.WeightedBackendService{BackendService: proto.String(ref), Weight: proto.Uint32(weight)}
}

func must(t *testing.T, cond bool, format string, args ...any) {
	t.Helper()
	if !cond {
		t.Errorf(format, args...)
	}
}
