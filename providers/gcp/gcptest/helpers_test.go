package gcptest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

const (
	project = "p1"
	region  = "europe-west1"
	zone    = "europe-west1-b"
)

// env is a double on a free port and the REST clients the provider uses,
// pointed at it.
type env struct {
	srv  *gcptest.Server
	d    *gcptest.Double
	opts []option.ClientOption

	addresses *compute.AddressesClient
	rules     *compute.ForwardingRulesClient
	http      *compute.RegionTargetHttpProxiesClient
	https     *compute.RegionTargetHttpsProxiesClient
	tcp       *compute.RegionTargetTcpProxiesClient
	urlMaps   *compute.RegionUrlMapsClient
	backends  *compute.RegionBackendServicesClient
	checks    *compute.RegionHealthChecksClient
	certs     *compute.RegionSslCertificatesClient
	negs      *compute.NetworkEndpointGroupsClient
	subnets   *compute.SubnetworksClient
	globalMap *compute.UrlMapsClient
}

// newEnv starts a double seeded with a proxy-only subnet. httpClient nil
// means http.DefaultClient's behaviour without retries.
func newEnv(t *testing.T, cfg gcptest.Config, httpClient *http.Client) *env {
	t.Helper()
	cfg.Project, cfg.Region, cfg.Zones = project, region, []string{zone, region + "-c"}
	if cfg.Subnetworks == nil {
		cfg.Subnetworks = append(cfg.Subnetworks, gcptest.ProxyOnlySubnet())
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := gcptest.Start(ctx, cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	e := &env{srv: srv, d: srv.Double(), opts: []option.ClientOption{
		option.WithEndpoint(srv.URL()), option.WithoutAuthentication(), option.WithHTTPClient(httpClient),
	}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var err2 error
	e.addresses, err2 = compute.NewAddressesRESTClient(ctx, e.opts...)
	must(err2)
	e.rules, err2 = compute.NewForwardingRulesRESTClient(ctx, e.opts...)
	must(err2)
	e.http, err2 = compute.NewRegionTargetHttpProxiesRESTClient(ctx, e.opts...)
	must(err2)
	e.https, err2 = compute.NewRegionTargetHttpsProxiesRESTClient(ctx, e.opts...)
	must(err2)
	e.tcp, err2 = compute.NewRegionTargetTcpProxiesRESTClient(ctx, e.opts...)
	must(err2)
	e.urlMaps, err2 = compute.NewRegionUrlMapsRESTClient(ctx, e.opts...)
	must(err2)
	e.backends, err2 = compute.NewRegionBackendServicesRESTClient(ctx, e.opts...)
	must(err2)
	e.checks, err2 = compute.NewRegionHealthChecksRESTClient(ctx, e.opts...)
	must(err2)
	e.certs, err2 = compute.NewRegionSslCertificatesRESTClient(ctx, e.opts...)
	must(err2)
	e.negs, err2 = compute.NewNetworkEndpointGroupsRESTClient(ctx, e.opts...)
	must(err2)
	e.subnets, err2 = compute.NewSubnetworksRESTClient(ctx, e.opts...)
	must(err2)
	e.globalMap, err2 = compute.NewUrlMapsRESTClient(ctx, e.opts...)
	must(err2)
	t.Cleanup(func() {
		for _, c := range []interface{ Close() error }{e.addresses, e.rules, e.http, e.https, e.tcp, e.urlMaps,
			e.backends, e.checks, e.certs, e.negs, e.subnets, e.globalMap} {
			_ = c.Close()
		}
	})
	return e
}

// wait waits for a mutation and fails the test on any error.
func wait(t *testing.T, o *compute.Operation, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o.Wait(ctx); err != nil {
		t.Fatalf("wait for %s: %v", o.Name(), err)
	}
	if !o.Done() {
		t.Fatalf("operation %s is not DONE after Wait", o.Name())
	}
}

// wantAPIError checks that err is the API error a provider would classify:
// a *googleapi.Error and an *apierror.APIError with code and reason.
func wantAPIError(t *testing.T, err error, code int, reason string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %d %s", code, reason)
	}
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		t.Fatalf("error %v (%T) is not a *googleapi.Error", err, err)
	}
	var aerr *apierror.APIError
	if !errors.As(err, &aerr) {
		t.Fatalf("error %v (%T) is not an *apierror.APIError", err, err)
	}
	if gerr.Code != code || aerr.HTTPCode() != code {
		t.Fatalf("error %v: code %d (apierror %d), want %d", err, gerr.Code, aerr.HTTPCode(), code)
	}
	if len(gerr.Errors) == 0 || gerr.Errors[0].Reason != reason || aerr.Reason() != reason && aerr.Reason() != "" {
		t.Fatalf("error %v: reasons %+v, want %s", err, gerr.Errors, reason)
	}
}

// selfSigned returns a PEM certificate and key for host.
func selfSigned(t *testing.T, host string) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

func regional(kind, name string) string {
	return gcptest.SelfLinkBase + "projects/" + project + "/regions/" + region + "/" + kind + "/" + name
}

func zonal(kind, name string) string {
	return gcptest.SelfLinkBase + "projects/" + project + "/zones/" + zone + "/" + kind + "/" + name
}
