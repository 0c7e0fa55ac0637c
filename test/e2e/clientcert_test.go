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
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// clientCA is a CA and a client certificate it signed.
type clientCA struct {
	pem    string
	client tls.Certificate
}

func newClientCA(t *testing.T, cn string) clientCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(t, err)
	ca, err := x509.ParseCertificate(caDER)
	must(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn + " client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	must(t, err)
	return clientCA{pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})),
		client: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// mtlsGet sends one request on a new connection, with cert as the client
// certificate (nil for none), and returns the status or the error.
func mtlsGet(addr string, cert *tls.Certificate) (int, error) {
	cfg := &tls.Config{ServerName: "app.example.com", InsecureSkipVerify: true} // the test checks the client side
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, "https://"+net.JoinHostPort(addr, "443")+"/", nil)
	if err != nil {
		return 0, err
	}
	req.Host = "app.example.com"
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// TestClientCertificateCAFromConfigMap: client certificate validation end
// to end, from the ConfigMap the controller reads (uncached) to the
// handshake: the listener is refused while the ConfigMap is missing, then
// lets in only clients of the CA it holds, and follows a change of it.
// The ConfigMap watch makes the change take effect at once; the suite's
// short resync (suiteResync) would also pick it up within seconds, so this
// test does not tell the two apart.
func TestClientCertificateCAFromConfigMap(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "app")
	first, second := newClientCA(t, "first CA"), newClientCA(t, "second CA")
	create(t, tlsSecret(t, ns, "cert", "app.example.com"))
	gw := gateway(ns, "gw", gwv1.Listener{Name: "https", Protocol: gwv1.HTTPSProtocolType, Port: 443,
		TLS: &gwv1.ListenerTLSConfig{CertificateRefs: []gwv1.SecretObjectReference{{Name: "cert"}}}})
	gw.Spec.TLS = &gwv1.GatewayTLSConfig{Frontend: &gwv1.FrontendTLSConfig{Default: gwv1.TLSConfig{
		Validation: &gwv1.FrontendTLSValidation{CACertificateRefs: []gwv1.ObjectReference{{Group: "", Kind: "ConfigMap", Name: "ca"}}}}}}
	create(t, gw, route(ns, "r", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("app", 1))))
	eventually(t, 30*time.Second, func() error {
		gw := getGateway(t, ns, "gw")
		if len(gw.Status.Listeners) != 1 {
			return fmt.Errorf("listeners: %+v", gw.Status.Listeners)
		}
		c := meta.FindStatusCondition(gw.Status.Listeners[0].Conditions, string(gwv1.ListenerConditionAccepted))
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != string(gwv1.ListenerReasonNoValidCACertificate) {
			return fmt.Errorf("Accepted = %+v", c)
		}
		return nil
	})

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca"}, Data: map[string]string{"ca.crt": first.pem}}
	create(t, cm)
	addr := programmedAddress(t, ns, "gw")
	eventually(t, 15*time.Second, func() error {
		if code, err := mtlsGet(addr, &first.client); err != nil || code != http.StatusOK {
			return fmt.Errorf("client of the first CA: %d, %v", code, err)
		}
		return nil
	})
	for name, cert := range map[string]*tls.Certificate{"no certificate": nil, "client of the second CA": &second.client} {
		if code, err := mtlsGet(addr, cert); err == nil {
			t.Errorf("%s: got %d, want a failed handshake", name, code)
		}
	}

	must(t, suite.c.Get(ctxFor(t), client.ObjectKeyFromObject(cm), cm))
	cm.Data["ca.crt"] = second.pem
	must(t, suite.c.Update(ctxFor(t), cm))
	eventually(t, 15*time.Second, func() error {
		if code, err := mtlsGet(addr, &second.client); err != nil || code != http.StatusOK {
			return fmt.Errorf("client of the second CA: %d, %v", code, err)
		}
		if code, err := mtlsGet(addr, &first.client); err == nil {
			return fmt.Errorf("client of the first CA still let in: %d", code)
		}
		return nil
	})
}
