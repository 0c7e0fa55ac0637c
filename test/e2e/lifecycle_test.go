package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
)

func TestDeletingTheGatewayRemovesTheLoadBalancer(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "app")
	gw := gateway(ns, "gw", httpListener("http", 80))
	create(t, gw, route(ns, "r", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("app", 1))))
	addr := programmedAddress(t, ns, "gw")
	expectBackend(t, "GET", "http://"+addr+"/", "", nil, "app")
	if n := len(cloudLoadBalancers(t, ns, "gw")); n != 1 {
		t.Fatalf("%d load balancers in the cloud, want 1", n)
	}

	deleteAndWait(t, gw)
	if lbs := cloudLoadBalancers(t, ns, "gw"); len(lbs) != 0 {
		t.Fatalf("load balancer left after the Gateway was deleted: %+v", lbs)
	}
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort(addr, "80"), time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s:80 still accepts connections after the Gateway was deleted", addr)
	}
	// The route no longer names a live Gateway of ours: our parent status goes.
	eventually(t, 10*time.Second, func() error {
		var r gwv1.HTTPRoute
		must(t, suite.c.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: "r"}, &r))
		if len(r.Status.Parents) != 0 {
			return fmt.Errorf("route still has parent status %+v", r.Status.Parents)
		}
		return nil
	})
}

func TestInfrastructureAndParametersBecomeTags(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "app")
	fixed := suiteAddress(t, 200)
	create(t,
		&v1alpha1.LoadBalancerParameters{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "params"},
			Spec: v1alpha1.LoadBalancerParametersSpec{
				Tags:     map[string]string{"cost-center": "42", "team": "from-params"},
				Emulated: &v1alpha1.EmulatedParameters{Address: &fixed, ResponseHeaders: map[string]string{"X-Served-By": "cloudgate"}},
			},
		})
	gw := gateway(ns, "gw", httpListener("http", 80))
	gw.Spec.Infrastructure = &gwv1.GatewayInfrastructure{
		Labels:        map[gwv1.LabelKey]gwv1.LabelValue{"team": "payments"},
		Annotations:   map[gwv1.AnnotationKey]gwv1.AnnotationValue{"example.com/owner": "alice"},
		ParametersRef: &gwv1.LocalParametersReference{Group: "cloudgate.dev", Kind: "LoadBalancerParameters", Name: "params"},
	}
	create(t, gw, route(ns, "r", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("app", 1))))
	addr := programmedAddress(t, ns, "gw")
	if addr != fixed {
		t.Errorf("address %s, want the requested %s", addr, fixed)
	}
	lbs := cloudLoadBalancers(t, ns, "gw")
	if len(lbs) != 1 {
		t.Fatalf("%d load balancers, want 1", len(lbs))
	}
	gwNow := getGateway(t, ns, "gw")
	want := map[string]string{
		"team": "payments", "example.com/owner": "alice", "cost-center": "42",
		"cloudgate.dev/cluster": clusterName, "cloudgate.dev/gateway": ns + "/gw", "cloudgate.dev/gateway-uid": string(gwNow.UID),
	}
	for k, v := range want {
		if lbs[0].Tags[k] != v {
			t.Errorf("tag %s = %q, want %q (all tags %v)", k, lbs[0].Tags[k], v, lbs[0].Tags)
		}
	}
	r, err := send("GET", "http://"+addr+"/", "", nil)
	must(t, err)
	if r.header.Get("X-Served-By") != "cloudgate" {
		t.Errorf("emulated.responseHeaders did not reach the data plane: %v", r.header)
	}
}

// suiteAddress returns an address inside the suite's emulated range.
func suiteAddress(t testing.TB, last byte) string {
	t.Helper()
	p := suite.cloud.Cloud().AddressRange().Addr().As4()
	p[2], p[3] = 250, last
	return net.IP(p[:]).String()
}

func TestEndpointChangesReachTheDataPlane(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "one")
	create(t,
		gateway(ns, "gw", httpListener("http", 80)),
		route(ns, "r", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("svc", 1))),
	)
	// "svc" has no Service yet: 500, and the route says why.
	url := "http://" + programmedAddress(t, ns, "gw") + "/"
	expectBackend(t, "GET", url, "", nil, "500")
	routeParentCondition(t, ns, "r", "ResolvedRefs", metav1.ConditionFalse, string(gwv1.RouteReasonBackendNotFound))
	// The Service and its EndpointSlice appear: traffic flows.
	backend(t, ns, "svc")
	expectBackend(t, "GET", url, "", nil, "svc")
	routeParentCondition(t, ns, "r", "ResolvedRefs", metav1.ConditionTrue, "ResolvedRefs")
}

func TestCrossNamespaceBackendNeedsReferenceGrant(t *testing.T) {
	ns, other := namespace(t), namespace(t)
	backend(t, other, "remote")
	ref := backendRef("remote", 1)
	ref.Namespace = ptr.To(gwv1.Namespace(other))
	create(t,
		gateway(ns, "gw", httpListener("http", 80)),
		route(ns, "r", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), ref)),
	)
	url := "http://" + programmedAddress(t, ns, "gw") + "/"
	expectBackend(t, "GET", url, "", nil, "500")
	routeParentCondition(t, ns, "r", "ResolvedRefs", metav1.ConditionFalse, string(gwv1.RouteReasonRefNotPermitted))
	create(t, &gwv1beta1.ReferenceGrant{
		ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "allow"},
		Spec: gwv1beta1.ReferenceGrantSpec{
			From: []gwv1beta1.ReferenceGrantFrom{{Group: gwv1.GroupName, Kind: "HTTPRoute", Namespace: gwv1.Namespace(ns)}},
			To:   []gwv1beta1.ReferenceGrantTo{{Group: "", Kind: "Service"}},
		},
	})
	expectBackend(t, "GET", url, "", nil, "remote")
	routeParentCondition(t, ns, "r", "ResolvedRefs", metav1.ConditionTrue, "ResolvedRefs")
}

func TestHTTPSPicksCertificateBySNI(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "a")
	backend(t, ns, "b")
	create(t, tlsSecret(t, ns, "cert-a", "a.example.com"), tlsSecret(t, ns, "cert-b", "*.b.example.com"))
	listener := func(name, host, secret string) gwv1.Listener {
		return gwv1.Listener{Name: gwv1.SectionName(name), Protocol: gwv1.HTTPSProtocolType, Port: 443,
			Hostname: ptr.To(gwv1.Hostname(host)),
			TLS:      &gwv1.ListenerTLSConfig{CertificateRefs: []gwv1.SecretObjectReference{{Name: gwv1.ObjectName(secret)}}}}
	}
	create(t,
		gateway(ns, "gw", listener("a", "a.example.com", "cert-a"), listener("b", "*.b.example.com", "cert-b")),
		route(ns, "ra", "gw", []string{"a.example.com"}, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("a", 1))),
		route(ns, "rb", "gw", []string{"*.b.example.com"}, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("b", 1))),
	)
	addr := programmedAddress(t, ns, "gw")
	for _, c := range []struct{ sni, wantCN, wantBackend string }{
		{"a.example.com", "a.example.com", "a"},
		{"x.b.example.com", "*.b.example.com", "b"},
	} {
		eventually(t, 15*time.Second, func() error {
			conn, err := tls.Dial("tcp", net.JoinHostPort(addr, "443"), &tls.Config{ServerName: c.sni, InsecureSkipVerify: true})
			if err != nil {
				return err
			}
			defer conn.Close()
			if cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != c.wantCN {
				return fmt.Errorf("SNI %s got certificate %s, want %s", c.sni, cn, c.wantCN)
			}
			return nil
		})
		tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: c.sni, InsecureSkipVerify: true}}
		cl := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		// The routes may attach a moment after the Gateway is programmed.
		eventually(t, 15*time.Second, func() error {
			req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
			req.Host = c.sni
			resp, err := cl.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if got := resp.Header.Get("X-Backend"); got != c.wantBackend || resp.StatusCode != 200 {
				return fmt.Errorf("https %s: status %d backend %q, want %s", c.sni, resp.StatusCode, got, c.wantBackend)
			}
			return nil
		})
		tr.CloseIdleConnections()
	}
}

// tlsSecret makes a self-signed certificate for host and returns it as a
// kubernetes.io/tls Secret.
func tlsSecret(t testing.TB, ns, name, host string) *corev1.Secret {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		},
	}
}

// TestCertificateArrivingLaterIsPickedUp: the Secret watch (metadata only)
// wakes the Gateway when its missing certificate appears.
func TestCertificateArrivingLaterIsPickedUp(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "app")
	listener := gwv1.Listener{Name: "https", Protocol: gwv1.HTTPSProtocolType, Port: 443,
		TLS: &gwv1.ListenerTLSConfig{CertificateRefs: []gwv1.SecretObjectReference{{Name: "later"}}}}
	create(t,
		gateway(ns, "gw", listener),
		route(ns, "r", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("app", 1))),
	)
	eventually(t, 30*time.Second, func() error {
		gw := getGateway(t, ns, "gw")
		if len(gw.Status.Listeners) != 1 {
			return fmt.Errorf("listeners: %+v", gw.Status.Listeners)
		}
		c := meta.FindStatusCondition(gw.Status.Listeners[0].Conditions, "ResolvedRefs")
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != string(gwv1.ListenerReasonInvalidCertificateRef) {
			return fmt.Errorf("ResolvedRefs = %+v", c)
		}
		return nil
	})
	create(t, tlsSecret(t, ns, "later", "app.example.com"))
	addr := programmedAddress(t, ns, "gw")
	eventually(t, 15*time.Second, func() error {
		conn, err := tls.Dial("tcp", net.JoinHostPort(addr, "443"), &tls.Config{ServerName: "app.example.com", InsecureSkipVerify: true})
		if err != nil {
			return err
		}
		defer conn.Close()
		if cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "app.example.com" {
			return fmt.Errorf("certificate %s", cn)
		}
		return nil
	})
}
