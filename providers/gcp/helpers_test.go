package gcp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
	"github.com/cloudgate-dev/cloudgate/providers/providertest"
)

const (
	testProject = "p1"
	testRegion  = "europe-west1"
	testZone    = "europe-west1-b"
)

// testEnv is a double on a free port, seeded with a proxy-only subnet, and
// a provider pointed at it.
type testEnv struct {
	srv   *gcptest.Server
	d     *gcptest.Double
	prov  *Provider
	calls map[string]int // by "operation outcome", what CountCall heard
}

func startDouble(t *testing.T, cfg gcptest.Config) *gcptest.Server {
	t.Helper()
	cfg.Project, cfg.Region = testProject, testRegion
	cfg.Zones = []string{testZone, testRegion + "-c", testRegion + "-d"}
	if cfg.Subnetworks == nil {
		cfg.Subnetworks = []*computepb.Subnetwork{gcptest.ProxyOnlySubnet()}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := gcptest.Start(ctx, cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func newTestEnv(t *testing.T, cfg gcptest.Config) *testEnv {
	t.Helper()
	srv := startDouble(t, cfg)
	e := &testEnv{srv: srv, d: srv.Double(), calls: map[string]int{}}
	e.prov = e.provider(t, Config{})
	return e
}

// provider is a provider on e's double; cfg's location and endpoint are
// filled in.
func (e *testEnv) provider(t *testing.T, cfg Config) *Provider {
	t.Helper()
	cfg.Project, cfg.Region, cfg.Zone = testProject, testRegion, testZone
	cfg.Endpoint, cfg.WithoutAuthentication = e.srv.URL(), true
	if cfg.RetryWaitMin == 0 {
		cfg.RetryWaitMin, cfg.RetryWaitMax = time.Millisecond, 20*time.Millisecond
	}
	if cfg.CountCall == nil {
		cfg.CountCall = func(op, outcome string) { e.calls[op+" "+outcome]++ }
	}
	p, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Resources implements providertest.Cloud: a load balancer is an address,
// with the ports of the forwarding rules on it. Tags are its labels and the
// ownership record of its description.
func (e *testEnv) Resources(context.Context) ([]providertest.Resource, error) {
	rules := gcptest.Objects[*computepb.ForwardingRule](e.d)
	var out []providertest.Resource
	for _, a := range gcptest.Objects[*computepb.Address](e.d) {
		r := providertest.Resource{ID: a.GetSelfLink(), Name: a.GetName(), Tags: map[string]string{}, Addresses: []string{a.GetAddress()}}
		for k, v := range a.GetLabels() {
			r.Tags[k] = v
		}
		if rec, ok := parseOwnership(a.GetDescription()); ok {
			r.Tags[lb.TagCluster], r.Tags[lb.TagGateway], r.Tags[lb.TagGatewayUID], r.Tags[lb.TagResource] = rec.Cluster, rec.Gateway, rec.GatewayUID, rec.Resource
		}
		for _, f := range rules {
			if f.GetIPAddress() == a.GetAddress() {
				from, _, _ := strings.Cut(f.GetPortRange(), "-")
				port, _ := strconv.Atoi(from)
				r.Ports = append(r.Ports, int32(port))
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// PlantForeign implements providertest.Cloud: an address without our
// record, under the very name the provider would give o's.
func (e *testEnv) PlantForeign(ctx context.Context, o lb.Owner) (providertest.Resource, error) {
	a := &computepb.Address{Name: proto.String(name(o, tagAddress, logicalLB, schemeExternal)), AddressType: proto.String("EXTERNAL"),
		Labels: map[string]string{"owner": "someone-else"}}
	if _, err := e.d.Create("regions/"+testRegion, a); err != nil {
		return providertest.Resource{}, err
	}
	rs, err := e.Resources(ctx)
	if err != nil {
		return providertest.Resource{}, err
	}
	for _, r := range rs {
		if r.Name == a.GetName() {
			return r, nil
		}
	}
	return providertest.Resource{}, nil
}

// selfSigned is a fresh certificate and key for host, in PEM.
func selfSigned(t *testing.T, host string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// liveModel is testModel with a certificate the API accepts.
func liveModel(t *testing.T) *lb.LoadBalancer {
	m := testModel()
	c := &m.Listeners[1].VirtualHosts[0].Certificates[0]
	c.CertPEM, c.KeyPEM = selfSigned(t, "example.com")
	return m
}
