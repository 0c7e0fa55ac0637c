package albplane

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"errors"
)

// chooseCert picks a listener's certificate for a ClientHello. "SSL
// certificates for your Application Load Balancer"
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/https-listener-certificates.html):
// the certificate whose names match the client's SNI host name; among
// several, "the best certificate that the client can support", by public
// key algorithm (ECDSA over RSA), key length (the largest) and validity
// (the latest expiry); without SNI or without a match, the default
// certificate (the first).
func chooseCert(certs []*tls.Certificate, hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if len(certs) == 0 {
		return nil, errors.New("albplane: the listener has no certificate with a key")
	}
	var best *tls.Certificate
	if sni := hello.ServerName; sni != "" {
		for _, c := range certs {
			if c.Leaf == nil || c.Leaf.VerifyHostname(sni) != nil {
				continue
			}
			if hello.SupportsCertificate(c) != nil && best != nil {
				continue
			}
			if best == nil || better(c, best, hello) {
				best = c
			}
		}
	}
	if best == nil {
		best = certs[0]
	}
	return best, nil
}

// better says whether a is a better choice than b for the client.
func better(a, b *tls.Certificate, hello *tls.ClientHelloInfo) bool {
	if sa, sb := hello.SupportsCertificate(a) == nil, hello.SupportsCertificate(b) == nil; sa != sb {
		return sa
	}
	if ra, rb := algRank(a), algRank(b); ra != rb {
		return ra > rb
	}
	if la, lb := keyBits(a), keyBits(b); la != lb {
		return la > lb
	}
	return a.Leaf.NotAfter.After(b.Leaf.NotAfter)
}

func algRank(c *tls.Certificate) int {
	switch c.Leaf.PublicKey.(type) {
	case *ecdsa.PublicKey, ed25519.PublicKey:
		return 2
	case *rsa.PublicKey:
		return 1
	}
	return 0
}

func keyBits(c *tls.Certificate) int {
	switch k := c.Leaf.PublicKey.(type) {
	case *ecdsa.PublicKey:
		return k.Curve.Params().BitSize
	case *rsa.PublicKey:
		return k.N.BitLen()
	}
	return 0
}

// insecureTLS is the client side towards targets. "Target groups for your
// Application Load Balancers"
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html):
// "The load balancer does not validate these certificates. Therefore, you
// can use self-signed certificates or certificates that have expired."
func insecureTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true} //nolint:gosec // as ALB: targets' certificates are not checked
}
