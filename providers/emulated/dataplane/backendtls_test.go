package dataplane

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// server signs a server certificate for names and URIs.
func (ca *testCA) server(t *testing.T, names []string, uris []string) (tls.Certificate, lb.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: names,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, u := range uris {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair, lb.Certificate{Name: "ns/" + names[0], CertPEM: certPEM, KeyPEM: keyPEM}
}

// pemOf encodes a client certificate of testCA.client as the model holds it.
func pemOf(t *testing.T, c *tls.Certificate) lb.Certificate {
	t.Helper()
	keyDER, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return lb.Certificate{Name: "ns/client",
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})}
}

// TestBackendTLS sends requests through an HTTP listener to one HTTPS
// backend (certificate for abc.example.com and other.example.com, and a
// SPIFFE URI, signed by a CA; it asks for client certificates of that CA
// and says what it saw) by target groups of different TLS settings.
func TestBackendTLS(t *testing.T) {
	ca, other := newTestCA(t, "backend CA"), newTestCA(t, "other CA")
	serverPair, _ := ca.server(t, []string{"abc.example.com", "other.example.com"}, []string{"spiffe://abc.example.com/test-identity"})
	clients := x509.NewCertPool()
	clients.AddCert(ca.cert)
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := "none"
		if len(r.TLS.PeerCertificates) > 0 {
			client = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprintf(w, "sni=%s proto=%d client=%s", r.TLS.ServerName, r.ProtoMajor, client)
	}))
	backend.EnableHTTP2 = true
	backend.TLS = &tls.Config{Certificates: []tls.Certificate{serverPair}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: clients}
	backend.StartTLS()
	defer backend.Close()
	target := netip.MustParseAddrPort(backend.Listener.Addr().String())

	caBundle := []lb.CABundle{{Name: "ns/ca", PEM: ca.pem}}
	clientCert := pemOf(t, ca.client(t, "gateway"))
	cases := []struct {
		name     string
		protocol lb.Protocol
		tls      lb.BackendTLS
		want     string // the body; "" for 502
	}{
		{"hostname", lb.ProtocolHTTP, lb.BackendTLS{ServerName: "abc.example.com", CABundles: caBundle}, "sni=abc.example.com proto=1 client=none"},
		{"hostname-mismatch", lb.ProtocolHTTP, lb.BackendTLS{ServerName: "mismatch.example.com", CABundles: caBundle}, ""},
		{"other-ca", lb.ProtocolHTTP, lb.BackendTLS{ServerName: "abc.example.com", CABundles: []lb.CABundle{{Name: "ns/other", PEM: other.pem}}}, ""},
		{"system-roots", lb.ProtocolHTTP, lb.BackendTLS{ServerName: "abc.example.com", SystemRoots: true}, ""},
		{"san-dns", lb.ProtocolHTTP, lb.BackendTLS{ServerName: "abc.example.com", CABundles: caBundle,
			SubjectAltNames: []lb.SubjectAltName{{Hostname: "other.example.com"}}}, "sni=abc.example.com proto=1 client=none"},
		// The names replace the server name's check: SNI alone differs.
		{"san-replaces-hostname", lb.ProtocolHTTP, lb.BackendTLS{ServerName: "mismatch.example.com", CABundles: caBundle,
			SubjectAltNames: []lb.SubjectAltName{{Hostname: "abc.example.com"}}}, "sni=mismatch.example.com proto=1 client=none"},
		{"san-dns-mismatch", lb.ProtocolHTTP, lb.BackendTLS{ServerName: "abc.example.com", CABundles: caBundle,
			SubjectAltNames: []lb.SubjectAltName{{Hostname: "dce.example.com"}}}, ""},
		{"san-uri", lb.ProtocolHTTP, lb.BackendTLS{ServerName: "abc.example.com", CABundles: caBundle,
			SubjectAltNames: []lb.SubjectAltName{{URI: "spiffe://abc.example.com/test-identity"}}}, "sni=abc.example.com proto=1 client=none"},
		{"san-uri-mismatch", lb.ProtocolHTTP, lb.BackendTLS{ServerName: "abc.example.com", CABundles: caBundle,
			SubjectAltNames: []lb.SubjectAltName{{URI: "spiffe://def.example.com/test-identity"}, {Hostname: "def.example.com"}}}, ""},
		{"h2", lb.ProtocolH2C, lb.BackendTLS{ServerName: "abc.example.com", CABundles: caBundle}, "sni=abc.example.com proto=2 client=none"},
		{"client-certificate", lb.ProtocolHTTP, lb.BackendTLS{ServerName: "abc.example.com", CABundles: caBundle,
			ClientCertificate: &clientCert}, "sni=abc.example.com proto=1 client=gateway"},
	}
	spec := Spec{}
	var rules []lb.Rule
	for _, c := range cases {
		tlsCfg := c.tls
		tlsCfg.Policy = "ns/" + c.name
		spec.TargetGroups = append(spec.TargetGroups, lb.TargetGroup{Name: c.name, Protocol: c.protocol, TLS: &tlsCfg,
			Targets: []lb.Target{{IP: target.Addr().String(), Port: int32(target.Port())}}})
		rules = append(rules, lb.Rule{Name: c.name, Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/" + c.name}},
			Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: c.name, Weight: 1}}}})
	}
	addr, port := freeAddr(t)
	spec.Listeners = []lb.Listener{{Name: "http", Port: port, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: rules}}}}
	compiled, err := Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Config{Address: addr})
	defer srv.Close()
	if st := srv.Apply(compiled); !st[0].Bound {
		t.Fatalf("listener not bound: %s", st[0].Error)
	}
	base := "http://" + net.JoinHostPort(addr.String(), strconv.Itoa(int(port)))
	for _, c := range cases {
		// Twice: the second request may ride a pooled connection.
		for i := range 2 {
			resp, err := http.Get(base + "/" + c.name)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			switch {
			case c.want == "" && resp.StatusCode != http.StatusBadGateway:
				t.Errorf("%s (%d): got %d %q, want 502", c.name, i, resp.StatusCode, body)
			case c.want != "" && (resp.StatusCode != 200 || string(body) != c.want):
				t.Errorf("%s (%d): got %d %q, want 200 %q", c.name, i, resp.StatusCode, body, c.want)
			}
		}
	}
}

// TestBackendTLSStream: a TLS listener in mode Terminate re-encrypts to a
// TLS target, with the model's SNI, and refuses one of another CA.
func TestBackendTLSStream(t *testing.T) {
	ca, other := newTestCA(t, "backend CA"), newTestCA(t, "other CA")
	serverPair, _ := ca.server(t, []string{"abc.example.com"}, nil)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{serverPair}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				if tc.Handshake() != nil {
					return
				}
				fmt.Fprintf(c, "%s\n", tc.ConnectionState().ServerName)
			}()
		}
	}()
	target := netip.MustParseAddrPort(ln.Addr().String())
	front := cert(t, "front", "tls.example.com")
	addr, port := freeAddr(t)
	group := func(name string, pemCA []byte) lb.TargetGroup {
		return lb.TargetGroup{Name: name, Protocol: lb.ProtocolTCP,
			TLS:     &lb.BackendTLS{Policy: "ns/p", ServerName: "abc.example.com", CABundles: []lb.CABundle{{Name: "ns/ca", PEM: pemCA}}},
			Targets: []lb.Target{{IP: "127.0.0.1", Port: int32(target.Port())}}}
	}
	compiled, err := Compile(Spec{
		TargetGroups: []lb.TargetGroup{group("good", ca.pem), group("bad", other.pem)},
		Listeners: []lb.Listener{{Name: "tls", Port: port, Protocol: lb.ProtocolTLS, Streams: []lb.Stream{
			{Name: "good", Hostname: "tls.example.com", Certificates: []lb.Certificate{front}, Backends: []lb.WeightedBackend{{TargetGroup: "good", Weight: 1}}},
			{Name: "bad", Hostname: "bad.example.com", Certificates: []lb.Certificate{front}, Backends: []lb.WeightedBackend{{TargetGroup: "bad", Weight: 1}}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Config{Address: addr})
	defer srv.Close()
	if st := srv.Apply(compiled); !st[0].Bound {
		t.Fatalf("listener not bound: %s", st[0].Error)
	}
	read := func(sni string) (string, error) {
		c, err := tls.Dial("tcp", net.JoinHostPort(addr.String(), strconv.Itoa(int(port))),
			&tls.Config{ServerName: sni, InsecureSkipVerify: true}) // the front certificate is not under test
		if err != nil {
			return "", err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		return bufio.NewReader(c).ReadString('\n')
	}
	if got, err := read("tls.example.com"); err != nil || strings.TrimSpace(got) != "abc.example.com" {
		t.Errorf("terminated and re-encrypted: got %q, %v; want the backend to see SNI abc.example.com", got, err)
	}
	if got, err := read("bad.example.com"); err == nil {
		t.Errorf("a target of another CA: got %q, want the connection closed", got)
	}
}

func TestCompileBackendTLSErrors(t *testing.T) {
	for name, tg := range map[string]lb.TargetGroup{
		"bad bundle": {Name: "g", Protocol: lb.ProtocolHTTP, TLS: &lb.BackendTLS{ServerName: "a", CABundles: []lb.CABundle{{Name: "x", PEM: []byte("nope")}}}},
		"bad client": {Name: "g", Protocol: lb.ProtocolHTTP, TLS: &lb.BackendTLS{ServerName: "a", SystemRoots: true,
			ClientCertificate: &lb.Certificate{Name: "c", CertPEM: []byte("x"), KeyPEM: []byte("y")}}},
	} {
		if _, err := Compile(Spec{TargetGroups: []lb.TargetGroup{tg}}); err == nil {
			t.Errorf("%s: Compile accepted it", name)
		}
	}
}
