package lb

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"testing"
	"time"
)

// httpsModel is one HTTPS listener with cert on its VirtualHost and one
// target group with hc.
func httpsModel(cert Certificate, hc *HealthCheck) *LoadBalancer {
	return &LoadBalancer{
		Owner:        Owner{Namespace: "ns", Name: "gw"},
		TargetGroups: []TargetGroup{{Name: "ns/svc:80", Protocol: ProtocolHTTP, HealthCheck: hc}},
		Listeners: []Listener{{Name: "https-443", Port: 443, Protocol: ProtocolHTTPS, VirtualHosts: []VirtualHost{{
			Certificates: []Certificate{cert},
			Rules: []Rule{{Name: "r", Match: Match{Path: &PathMatch{Type: MatchPrefix, Value: "/"}},
				Action: Action{Forward: []WeightedBackend{{TargetGroup: "ns/svc:80", Weight: 1}}}}},
		}}}},
	}
}

func TestValidateCertificates(t *testing.T) {
	pem := Certificate{Name: "ns/cert", CertPEM: []byte("chain"), KeyPEM: []byte("key")}
	ref := Certificate{Name: "arn:x", Ref: &CertificateRef{Kind: CertificateRefACM, ID: "arn:x"}}
	both := pem
	both.Ref = ref.Ref
	for _, tc := range []struct {
		name  string
		cert  Certificate
		valid bool
	}{
		{"pem", pem, true},
		{"reference", ref, true},
		{"both", both, false},
		{"neither", Certificate{Name: "ns/empty"}, false},
		{"chain without key", Certificate{Name: "ns/half", CertPEM: []byte("chain")}, false},
		{"reference without id", Certificate{Name: "x", Ref: &CertificateRef{Kind: CertificateRefGCP}}, false},
		{"no name", Certificate{CertPEM: []byte("chain"), KeyPEM: []byte("key")}, false},
	} {
		if err := httpsModel(tc.cert, nil).Validate(); (err == nil) != tc.valid {
			t.Errorf("%s: Validate() = %v, want valid %v", tc.name, err, tc.valid)
		}
	}
}

func TestValidateHealthChecks(t *testing.T) {
	pem := Certificate{Name: "ns/cert", CertPEM: []byte("chain"), KeyPEM: []byte("key")}
	good := HealthCheck{Protocol: ProtocolHTTP, Path: "/healthz", Port: 8080, Interval: 10 * time.Second, Timeout: 5 * time.Second,
		HealthyThreshold: 2, UnhealthyThreshold: 10, SuccessCodes: []CodeRange{{From: 200, To: 299}, {From: 300, To: 300}}}
	for _, tc := range []struct {
		name  string
		edit  func(*HealthCheck)
		valid bool
	}{
		{"good", func(*HealthCheck) {}, true},
		{"defaults", func(h *HealthCheck) { *h = HealthCheck{} }, true},
		{"tcp", func(h *HealthCheck) { *h = HealthCheck{Protocol: ProtocolTCP} }, true},
		{"tcp with path", func(h *HealthCheck) { h.Protocol = ProtocolTCP }, false},
		{"udp probe", func(h *HealthCheck) { h.Protocol = ProtocolUDP }, false},
		{"relative path", func(h *HealthCheck) { h.Path = "healthz" }, false},
		{"timeout not below interval", func(h *HealthCheck) { h.Timeout = h.Interval }, false},
		{"interval too short", func(h *HealthCheck) { h.Interval, h.Timeout = time.Second, 0 }, false},
		{"timeout too long", func(h *HealthCheck) { h.Interval, h.Timeout = 300*time.Second, 121*time.Second }, false},
		{"threshold", func(h *HealthCheck) { h.HealthyThreshold = 1 }, false},
		{"port", func(h *HealthCheck) { h.Port = 70000 }, false},
		{"codes out of range", func(h *HealthCheck) { h.SuccessCodes = []CodeRange{{From: 200, To: 500}} }, false},
		{"codes overlap", func(h *HealthCheck) { h.SuccessCodes = []CodeRange{{From: 200, To: 299}, {From: 299, To: 300}} }, false},
	} {
		hc := good
		tc.edit(&hc)
		if err := httpsModel(pem, &hc).Validate(); (err == nil) != tc.valid {
			t.Errorf("%s: Validate() = %v, want valid %v", tc.name, err, tc.valid)
		}
	}
}

func TestValidateSharedPorts(t *testing.T) {
	l := func(p Protocol, port int32) Listener {
		return Listener{Name: fmt.Sprintf("%s-%d", p, port), Port: port, Protocol: p}
	}
	for _, tc := range []struct {
		name      string
		listeners []Listener
		valid     bool
	}{
		{"tcp and udp", []Listener{l(ProtocolTCP, 53), l(ProtocolUDP, 53)}, true},
		{"udp and tcp", []Listener{l(ProtocolUDP, 53), l(ProtocolTCP, 53)}, true},
		{"tcp and tls", []Listener{l(ProtocolTCP, 443), l(ProtocolTLS, 443)}, false},
		{"tcp, udp and tcp again", []Listener{l(ProtocolTCP, 53), l(ProtocolUDP, 53), {Name: "other", Port: 53, Protocol: ProtocolTCP}}, false},
		{"http and udp", []Listener{l(ProtocolHTTP, 80), l(ProtocolUDP, 80)}, false},
	} {
		m := &LoadBalancer{Owner: Owner{Namespace: "ns", Name: "gw"}, Listeners: tc.listeners}
		if err := m.Validate(); (err == nil) != tc.valid {
			t.Errorf("%s: Validate() = %v, want valid %v", tc.name, err, tc.valid)
		}
	}
}

// testCAPEM is a self-signed CA certificate in PEM, made for the test.
func testCAPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestValidateClientValidation(t *testing.T) {
	ca := testCAPEM(t)
	cert := Certificate{Name: "ns/cert", CertPEM: []byte("chain"), KeyPEM: []byte("key")}
	good := ClientValidation{Mode: ClientValidationAllowValidOnly, CABundles: []CABundle{{Name: "ns/ca", PEM: ca}}}
	for _, tc := range []struct {
		name  string
		edit  func(*Listener)
		valid bool
	}{
		{"valid only", func(*Listener) {}, true},
		{"fallback", func(l *Listener) { l.ClientValidation.Mode = ClientValidationAllowInsecureFallback }, true},
		{"two bundles in one", func(l *Listener) { l.ClientValidation.CABundles[0].PEM = append(append([]byte{}, ca...), ca...) }, true},
		{"unknown mode", func(l *Listener) { l.ClientValidation.Mode = "Sometimes" }, false},
		{"no mode", func(l *Listener) { l.ClientValidation.Mode = "" }, false},
		{"no bundle", func(l *Listener) { l.ClientValidation.CABundles = nil }, false},
		{"empty bundle", func(l *Listener) { l.ClientValidation.CABundles[0].PEM = nil }, false},
		{"not PEM", func(l *Listener) { l.ClientValidation.CABundles[0].PEM = []byte("garbage") }, false},
		{"PEM then garbage", func(l *Listener) { l.ClientValidation.CABundles[0].PEM = append(append([]byte{}, ca...), "x"...) }, false},
		{"a key, not a certificate", func(l *Listener) {
			l.ClientValidation.CABundles[0].PEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})
		}, false},
		{"bad certificate", func(l *Listener) {
			l.ClientValidation.CABundles[0].PEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}})
		}, false},
		{"duplicate bundle", func(l *Listener) {
			l.ClientValidation.CABundles = append(l.ClientValidation.CABundles, l.ClientValidation.CABundles[0])
		}, false},
		{"unnamed bundle", func(l *Listener) { l.ClientValidation.CABundles[0].Name = "" }, false},
		{"on HTTP", func(l *Listener) { l.Protocol, l.VirtualHosts[0].Certificates = ProtocolHTTP, nil }, false},
	} {
		m := httpsModel(cert, nil)
		cv := good
		cv.CABundles = append([]CABundle(nil), good.CABundles...)
		m.Listeners[0].ClientValidation = &cv
		tc.edit(&m.Listeners[0])
		if err := m.Validate(); (err == nil) != tc.valid {
			t.Errorf("%s: Validate() = %v, want valid %v", tc.name, err, tc.valid)
		}
	}
}

func TestValidateCORS(t *testing.T) {
	cert := Certificate{Name: "ns/cert", CertPEM: []byte("chain"), KeyPEM: []byte("key")}
	good := CORS{AllowOrigins: []string{"https://www.foo.com", "https://*.bar.com", "http://*:8080", "http://10.0.0.1"},
		AllowMethods: []string{"GET", "OPTIONS"}, AllowHeaders: []string{"x-a"}, ExposeHeaders: []string{"x-b", "*"},
		MaxAge: 5 * time.Second, AllowCredentials: true}
	for _, tc := range []struct {
		name  string
		edit  func(*CORS)
		valid bool
	}{
		{"good", func(*CORS) {}, true},
		{"any origin", func(c *CORS) { c.AllowOrigins = []string{"*"} }, true},
		{"no origins", func(c *CORS) { c.AllowOrigins = nil }, true},
		{"wildcard methods and headers", func(c *CORS) { c.AllowMethods, c.AllowHeaders = []string{"*"}, []string{"*"} }, true},
		{"largest max age", func(c *CORS) { c.MaxAge = MaxCORSMaxAge }, true},
		{"any origin next to another", func(c *CORS) { c.AllowOrigins = []string{"*", "https://a.com"} }, false},
		{"wildcard method next to another", func(c *CORS) { c.AllowMethods = []string{"*", "GET"} }, false},
		{"wildcard header next to another", func(c *CORS) { c.AllowHeaders = []string{"x-a", "*"} }, false},
		{"origin without scheme", func(c *CORS) { c.AllowOrigins = []string{"www.foo.com"} }, false},
		{"origin with a path", func(c *CORS) { c.AllowOrigins = []string{"https://foo.com/"} }, false},
		{"origin of another scheme", func(c *CORS) { c.AllowOrigins = []string{"ftp://foo.com"} }, false},
		{"wildcard inside the host", func(c *CORS) { c.AllowOrigins = []string{"https://a.*.com"} }, false},
		{"port 0", func(c *CORS) { c.AllowOrigins = []string{"https://foo.com:0"} }, false},
		{"port too large", func(c *CORS) { c.AllowOrigins = []string{"https://foo.com:65536"} }, false},
		{"null origin", func(c *CORS) { c.AllowOrigins = []string{"null"} }, false},
		{"method not a token", func(c *CORS) { c.AllowMethods = []string{"GET POST"} }, false},
		{"header not a token", func(c *CORS) { c.ExposeHeaders = []string{"x:y"} }, false},
		{"no max age", func(c *CORS) { c.MaxAge = 0 }, false},
		{"max age not whole seconds", func(c *CORS) { c.MaxAge = 1500 * time.Millisecond }, false},
		{"max age too long", func(c *CORS) { c.MaxAge = MaxCORSMaxAge + time.Second }, false},
	} {
		c := good
		tc.edit(&c)
		m := httpsModel(cert, nil)
		m.Listeners[0].VirtualHosts[0].Rules[0].Action.CORS = &c
		if err := m.Validate(); (err == nil) != tc.valid {
			t.Errorf("%s: Validate() = %v, want valid %v", tc.name, err, tc.valid)
		}
	}
}
