package gcp

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

// Target groups with TLS (BackendTLSPolicy) are HTTPS and HTTP2 backend
// services on the double, with tlsSettings.sni and subjectAltNames and
// health checks over TLS; a second Ensure writes nothing.
func TestBackendTLS(t *testing.T) {
	e := newTestEnv(t, gcptest.Config{})
	m := liveModel(t)
	m.TargetGroups[0].TLS = &lb.BackendTLS{Policy: "default/p", ServerName: "api.example.com", SystemRoots: true,
		SubjectAltNames: []lb.SubjectAltName{{Hostname: "api.example.com"}, {URI: "spiffe://example.com/api"}}}
	m.TargetGroups[1].TLS = &lb.BackendTLS{Policy: "default/q", ServerName: "web.example.com", SystemRoots: true}
	e.ensure(t, m)
	want := map[string]string{
		name(testOwner, tagBackend, "default/api:80"): "HTTPS",
		name(testOwner, tagBackend, "default/web:80"): "HTTP2",
	}
	found := 0
	for _, b := range gcptest.Objects[*computepb.BackendService](e.d) {
		proto, ok := want[b.GetName()]
		if !ok {
			continue
		}
		found++
		if b.GetProtocol() != proto {
			t.Errorf("backend service %s: protocol %s, want %s", b.GetName(), b.GetProtocol(), proto)
		}
		ts := b.GetTlsSettings()
		switch {
		case ts == nil:
			t.Errorf("backend service %s: no tlsSettings", b.GetName())
		case proto == "HTTPS" && (ts.GetSni() != "api.example.com" || len(ts.GetSubjectAltNames()) != 2 ||
			ts.GetSubjectAltNames()[0].GetDnsName() != "api.example.com" || ts.GetSubjectAltNames()[1].GetUniformResourceIdentifier() != "spiffe://example.com/api"):
			t.Errorf("backend service %s: tlsSettings %v, want sni api.example.com and the two names", b.GetName(), ts)
		case proto == "HTTP2" && (ts.GetSni() != "web.example.com" || len(ts.GetSubjectAltNames()) != 0):
			t.Errorf("backend service %s: tlsSettings %v, want sni web.example.com", b.GetName(), ts)
		}
	}
	if found != len(want) {
		t.Errorf("found %d of the %d backend services", found, len(want))
	}
	for _, h := range gcptest.Objects[*computepb.HealthCheck](e.d) {
		if h.GetName() == name(testOwner, tagHealthCheck, "default/api:80") && h.GetType() != "HTTPS" {
			t.Errorf("health check %s: %s, want HTTPS", h.GetName(), h.GetType())
		}
		// The h2c group with TLS: GCP's HTTP2 check is HTTP/2 over TLS.
		if h.GetName() == name(testOwner, tagHealthCheck, "default/web:80") && h.GetType() != "HTTP2" {
			t.Errorf("health check %s: %s, want HTTP2", h.GetName(), h.GetType())
		}
	}
	e.d.ResetCalls()
	e.ensure(t, m)
	if got := writes(e.d.Calls()); !maps.Equal(got, map[string]int{}) {
		t.Errorf("a no-op Ensure wrote %v", got)
	}
	if err := e.prov.Delete(t.Context(), m.Owner); err != nil {
		t.Fatal(err)
	}
}

// A client certificate (it needs a BackendAuthenticationConfig) and TLS to
// a TCP group are refused naming the group, before any write.
func TestBackendTLSRefusals(t *testing.T) {
	m := testModel()
	m.TargetGroups[0].TLS = &lb.BackendTLS{Policy: "default/p", ServerName: "api.example.com", SystemRoots: true,
		ClientCertificate: &lb.Certificate{Name: "default/client", CertPEM: []byte("c"), KeyPEM: []byte("k")}}
	_, _, err := desired(m, testLoc, nil)
	var refusal *providers.InvalidError
	if !errors.As(err, &refusal) || !slices.Contains(refusal.Elements, "default/api:80") {
		t.Errorf("a client certificate: %v, want default/api:80 refused", err)
	}
	m = testModel()
	m.TargetGroups = append(m.TargetGroups, lb.TargetGroup{Name: "default/db:5432/tcp", Protocol: lb.ProtocolTCP,
		TLS: &lb.BackendTLS{Policy: "default/db", ServerName: "db", SystemRoots: true}})
	if _, _, err := desired(m, testLoc, nil); !errors.As(err, &refusal) || !slices.Contains(refusal.Elements, "default/db:5432/tcp") {
		t.Errorf("TLS to a TCP group: %v, want it refused", err)
	}
}
