package dataplane

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// testCA is a CA that signs client certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// client signs a client certificate.
func (ca *testCA) client(t *testing.T, cn string) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// mtlsListener is an HTTPS listener on port that answers 200 for every
// request on a.test, with client validation cv (nil for none).
func mtlsListener(t *testing.T, port int32, server lb.Certificate, cv *lb.ClientValidation) *Compiled {
	t.Helper()
	c, err := Compile(Spec{Listeners: []lb.Listener{{Name: "https", Port: port, Protocol: lb.ProtocolHTTPS, ClientValidation: cv,
		VirtualHosts: []lb.VirtualHost{{Hostname: "a.test", Certificates: []lb.Certificate{server},
			Rules: []lb.Rule{{Name: "ok", Action: lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 200}}}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// freeAddr picks a loopback address of its own and a port free on it.
func freeAddr(t *testing.T) (netip.Addr, int32) {
	t.Helper()
	addr := netip.AddrFrom4([4]byte{127, byte(101 + mrand.IntN(150)), byte(mrand.IntN(256)), 1})
	ln, err := net.Listen("tcp", net.JoinHostPort(addr.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return addr, int32(port)
}

// handshake is the outcome of one HTTPS request with a fresh connection.
type handshake struct {
	status int
	proto  int  // HTTP major version
	asked  bool // the server asked for a client certificate
	err    error
}

func request(t *testing.T, url string, server lb.Certificate, clientCert *tls.Certificate) handshake {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(server.CertPEM)
	var h handshake
	tr := &http.Transport{
		ForceAttemptHTTP2: true,
		DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "a.test",
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				h.asked = true
				if clientCert == nil {
					return &tls.Certificate{}, nil // none: an empty Certificate message
				}
				return clientCert, nil
			}},
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "a.test" // as the SNI name, else the listener answers 421
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		h.err = err
		return h
	}
	_ = resp.Body.Close()
	h.status, h.proto = resp.StatusCode, resp.ProtoMajor
	return h
}

// TestClientCertificateValidation runs real handshakes against an HTTPS
// listener with each mode: AllowValidOnly lets in only a certificate of
// the bundle's CA, AllowInsecureFallback asks for one and lets everyone
// in, and both keep HTTP/2. A table swap changes the bundle and the mode
// for the next connection.
func TestClientCertificateValidation(t *testing.T) {
	good, other := newTestCA(t, "good CA"), newTestCA(t, "other CA")
	goodClient, otherClient := good.client(t, "alice"), other.client(t, "mallory")
	server := cert(t, "server", "a.test")
	selfSigned, err := tls.X509KeyPair(server.CertPEM, server.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	addr, port := freeAddr(t)
	srv := NewServer(Config{Address: addr})
	defer srv.Close()
	url := "https://" + net.JoinHostPort(addr.String(), strconv.Itoa(int(port))) + "/"

	apply := func(cv *lb.ClientValidation) {
		t.Helper()
		if st := srv.Apply(mtlsListener(t, port, server, cv)); !st[0].Bound {
			t.Fatalf("listener not bound: %s", st[0].Error)
		}
	}
	bundle := func(cas ...*testCA) []lb.CABundle {
		var out []lb.CABundle
		for i, ca := range cas {
			out = append(out, lb.CABundle{Name: "ns/ca-" + strconv.Itoa(i), PEM: ca.pem})
		}
		return out
	}
	type want struct {
		client *tls.Certificate
		name   string
		ok     bool
	}
	check := func(step string, asked bool, cases ...want) {
		t.Helper()
		for _, w := range cases {
			h := request(t, url, server, w.client)
			switch {
			case w.ok && (h.err != nil || h.status != 200):
				t.Errorf("%s, %s: got %d, %v; want 200", step, w.name, h.status, h.err)
			case w.ok && h.proto != 2:
				t.Errorf("%s, %s: HTTP/%d, want HTTP/2 (ALPN h2)", step, w.name, h.proto)
			case !w.ok && h.err == nil:
				t.Errorf("%s, %s: got %d, want a failed handshake", step, w.name, h.status)
			}
			if h.asked != asked {
				t.Errorf("%s, %s: server asked for a client certificate: %v, want %v", step, w.name, h.asked, asked)
			}
		}
	}

	apply(&lb.ClientValidation{Mode: lb.ClientValidationAllowValidOnly, CABundles: bundle(good)})
	check("AllowValidOnly", true,
		want{goodClient, "certificate of the CA", true},
		want{nil, "no certificate", false},
		want{otherClient, "certificate of another CA", false},
		want{&selfSigned, "a self-signed certificate", false})

	apply(&lb.ClientValidation{Mode: lb.ClientValidationAllowInsecureFallback, CABundles: bundle(good)})
	check("AllowInsecureFallback", true,
		want{goodClient, "certificate of the CA", true},
		want{nil, "no certificate", true},
		want{otherClient, "certificate of another CA", true})

	// The swap: the other CA now, and both CAs in two bundles.
	apply(&lb.ClientValidation{Mode: lb.ClientValidationAllowValidOnly, CABundles: bundle(other)})
	check("after a swap to the other CA", true,
		want{goodClient, "certificate of the first CA", false},
		want{otherClient, "certificate of the other CA", true})
	apply(&lb.ClientValidation{Mode: lb.ClientValidationAllowValidOnly, CABundles: bundle(good, other)})
	check("two bundles", true,
		want{goodClient, "certificate of the first CA", true},
		want{otherClient, "certificate of the other CA", true},
		want{nil, "no certificate", false})

	apply(nil)
	check("without validation", false, want{nil, "no certificate", true})
}

func TestCompileClientValidationErrors(t *testing.T) {
	server := cert(t, "server", "a.test")
	for _, tc := range []struct {
		name string
		l    lb.Listener
		want string
	}{
		{"bad bundle", lb.Listener{Name: "l", Port: 443, Protocol: lb.ProtocolHTTPS,
			ClientValidation: &lb.ClientValidation{Mode: lb.ClientValidationAllowValidOnly, CABundles: []lb.CABundle{{Name: "ns/ca", PEM: []byte("x")}}},
			VirtualHosts:     []lb.VirtualHost{{Certificates: []lb.Certificate{server}}}}, `CA bundle "ns/ca"`},
		{"no bundle", lb.Listener{Name: "l", Port: 443, Protocol: lb.ProtocolHTTPS,
			ClientValidation: &lb.ClientValidation{Mode: lb.ClientValidationAllowValidOnly},
			VirtualHosts:     []lb.VirtualHost{{Certificates: []lb.Certificate{server}}}}, "without a CA bundle"},
		{"unknown mode", lb.Listener{Name: "l", Port: 443, Protocol: lb.ProtocolHTTPS,
			ClientValidation: &lb.ClientValidation{Mode: "Maybe", CABundles: []lb.CABundle{{Name: "ns/ca", PEM: server.CertPEM}}},
			VirtualHosts:     []lb.VirtualHost{{Certificates: []lb.Certificate{server}}}}, `unknown client validation mode "Maybe"`},
		{"on HTTP", lb.Listener{Name: "l", Port: 80, Protocol: lb.ProtocolHTTP,
			ClientValidation: &lb.ClientValidation{Mode: lb.ClientValidationAllowValidOnly, CABundles: []lb.CABundle{{Name: "ns/ca", PEM: server.CertPEM}}}},
			"client validation on a HTTP listener"},
	} {
		_, err := Compile(Spec{Listeners: []lb.Listener{tc.l}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Compile error %v, want one that says %q", tc.name, err, tc.want)
		}
	}
}
