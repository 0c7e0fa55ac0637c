package dataplane

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// backendTLSConfig is the client side of a target group's TLS
// (lb.BackendTLS): ServerName as SNI, the client certificate when one is
// given, and a verification of our own. Go's own checks the chain and
// the server name together; the model's subjectAltNames replace the name
// check, so the handshake's verification is turned off and
// VerifyConnection does all of it, on every handshake (resumed ones too).
// h2 offers only HTTP/2 by ALPN (H2C groups inside TLS: gRPC).
func backendTLSConfig(t *lb.BackendTLS, p lb.Protocol) (*tls.Config, error) {
	var roots *x509.CertPool // nil: the system roots
	if !t.SystemRoots {
		roots = x509.NewCertPool()
		for _, b := range t.CABundles {
			certs, err := lb.ParseCABundle(b.PEM)
			if err != nil {
				return nil, fmt.Errorf("CA bundle %q: %w", b.Name, err)
			}
			for _, c := range certs {
				roots.AddCert(c)
			}
		}
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: true, // VerifyConnection verifies
		VerifyConnection:   verifyBackend(t, roots),
	}
	switch p {
	case lb.ProtocolH2C:
		cfg.NextProtos = []string{"h2"}
	case lb.ProtocolHTTP:
		cfg.NextProtos = []string{"http/1.1"}
	}
	if c := t.ClientCertificate; c != nil {
		pair, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
		if err != nil {
			return nil, fmt.Errorf("client certificate %q: %w", c.Name, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// verifyBackend checks a target's certificate: its chain to roots, then
// one of the subjectAltNames when there are any (a URI equal to one of the
// certificate's, a wildcard name present as such, any other name valid for
// the certificate as a server name is), else the server name.
func verifyBackend(t *lb.BackendTLS, roots *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the backend sent no certificate")
		}
		leaf := cs.PeerCertificates[0]
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			return fmt.Errorf("the backend's certificate does not verify: %w", err)
		}
		if len(t.SubjectAltNames) == 0 {
			return leaf.VerifyHostname(t.ServerName)
		}
		for _, n := range t.SubjectAltNames {
			switch {
			case n.URI != "":
				for _, u := range leaf.URIs {
					if u.String() == n.URI {
						return nil
					}
				}
			case strings.HasPrefix(n.Hostname, "*."):
				for _, d := range leaf.DNSNames {
					if strings.EqualFold(d, n.Hostname) {
						return nil
					}
				}
			default:
				if leaf.VerifyHostname(n.Hostname) == nil {
					return nil
				}
			}
		}
		return errors.New("the backend's certificate carries none of the subject alternative names asked for")
	}
}

// tlsKey identifies what a group's TLS connections are made of, so that
// groups alike (and the same group across compiles) share a Transport and
// its pool of connections.
func tlsKey(t *lb.BackendTLS, p lb.Protocol) string {
	j, _ := json.Marshal(struct {
		TLS      *lb.BackendTLS
		Protocol lb.Protocol
	}{t, p})
	sum := sha256.Sum256(j)
	return hex.EncodeToString(sum[:])
}

// maxTLSTransports bounds the Transports kept for TLS groups; past it the
// cache starts over (their idle connections closed), which costs new
// handshakes, never a wrong configuration.
const maxTLSTransports = 256

// tlsTransports keeps one proxy and Transport per TLS configuration.
type tlsTransports struct {
	mu   sync.Mutex
	byID map[string]*tlsTransport
}

type tlsTransport struct {
	proxy     *httputil.ReverseProxy
	transport *http.Transport
}

func (c *tlsTransports) get(g *group, logf func(msg string, args ...any)) *tlsTransport {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.byID[g.tlsKey]; t != nil {
		return t
	}
	if len(c.byID) >= maxTLSTransports {
		for _, t := range c.byID {
			t.transport.CloseIdleConnections()
		}
		c.byID = nil
	}
	if c.byID == nil {
		c.byID = map[string]*tlsTransport{}
	}
	tr := NewTransport()
	tr.TLSClientConfig = g.tls
	var p http.Protocols
	if g.h2c {
		p.SetHTTP2(true)
		tr.ForceAttemptHTTP2 = true
	} else {
		p.SetHTTP1(true)
	}
	tr.Protocols = &p
	t := &tlsTransport{proxy: newProxy(tr, logf), transport: tr}
	c.byID[g.tlsKey] = t
	return t
}
