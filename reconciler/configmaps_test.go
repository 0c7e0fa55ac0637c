package reconciler

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TestGatewayConfigMapKeys: the Gateway is found by every ConfigMap its
// client certificate validation names, default and per port, once each,
// and not by references of other kinds, which it never reads.
func TestGatewayConfigMapKeys(t *testing.T) {
	pki := gwv1.Namespace("pki")
	cm := func(name string, ns *gwv1.Namespace) gwv1.ObjectReference {
		return gwv1.ObjectReference{Group: "", Kind: "ConfigMap", Name: gwv1.ObjectName(name), Namespace: ns}
	}
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "gw"}}
	gw.Spec.TLS = &gwv1.GatewayTLSConfig{Frontend: &gwv1.FrontendTLSConfig{
		Default: gwv1.TLSConfig{Validation: &gwv1.FrontendTLSValidation{CACertificateRefs: []gwv1.ObjectReference{cm("ca", nil)}}},
		PerPort: []gwv1.TLSPortConfig{
			{Port: 8443, TLS: gwv1.TLSConfig{Validation: &gwv1.FrontendTLSValidation{CACertificateRefs: []gwv1.ObjectReference{
				cm("ca", nil), cm("shared", &pki), {Group: "certificates.k8s.io", Kind: "ClusterTrustBundle", Name: "b"}}}}},
			{Port: 9443}, // no validation there
		},
	}}
	got := gatewayConfigMapKeys(gw)
	if want := []string{"apps/ca", "pki/shared"}; !slices.Equal(got, want) {
		t.Errorf("gatewayConfigMapKeys = %v, want %v", got, want)
	}
	if keys := gatewayConfigMapKeys(&gwv1.Gateway{}); len(keys) != 0 {
		t.Errorf("a Gateway without spec.tls names ConfigMaps: %v", keys)
	}
}
