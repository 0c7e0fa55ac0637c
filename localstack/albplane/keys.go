package albplane

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/smithy-go/middleware"
)

// keys holds private keys by their public key (PKIX DER): ACM hands back an
// imported certificate but never its key, so the plane pairs the
// certificate GetCertificate returns with a key the test gave it.
type keys struct {
	mu    sync.Mutex
	byPub map[string]crypto.PrivateKey
}

// AddKey gives the plane the private key of a certificate the provider
// imports into ACM (a Secret's tls.crt and tls.key). It returns an error
// for PEM that does not hold a matching certificate and key.
func (p *Plane) AddKey(certPEM, keyPEM []byte) error {
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("albplane: %w", err)
	}
	return p.keys.add(c.PrivateKey)
}

func (k *keys) add(key crypto.PrivateKey) error {
	s, ok := key.(crypto.Signer)
	if !ok {
		return errors.New("albplane: the private key cannot sign")
	}
	der, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		return fmt.Errorf("albplane: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.byPub == nil {
		k.byPub = map[string]crypto.PrivateKey{}
	}
	k.byPub[string(der)] = key
	return nil
}

func (k *keys) lookup(pub any) (crypto.PrivateKey, bool) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	key, ok := k.byPub[string(der)]
	return key, ok
}

// RecordImports is an SDK API option for the AWS configuration the provider
// under test is given (cfg.APIOptions = append(cfg.APIOptions,
// plane.RecordImports)): it keeps the private key of every
// ImportCertificate call on its way to ACM, so the plane can serve what
// the provider imported without the test handing each key over. The
// provider's calls are not changed.
func (p *Plane) RecordImports(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("albplane-record-imports",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if imp, ok := in.Parameters.(*acm.ImportCertificateInput); ok {
				// A key that does not parse is ACM's to refuse.
				if key, err := parseKey(imp.PrivateKey); err == nil {
					_ = p.keys.add(key)
				}
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

// parseKey reads a PEM private key as tls.X509KeyPair does.
func parseKey(b []byte) (crypto.PrivateKey, error) {
	for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
		if blk.Type != "PRIVATE KEY" && !strings.HasSuffix(blk.Type, " PRIVATE KEY") {
			continue
		}
		if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
			return k, nil
		}
		if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
			return k, nil
		}
		if k, err := x509.ParseECPrivateKey(blk.Bytes); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("no private key")
}

// certificate builds a tls.Certificate from the chain ACM returned and the
// key kept for its leaf.
func (k *keys) certificate(chainPEM string) (*tls.Certificate, error) {
	var c tls.Certificate
	for blk, rest := pem.Decode([]byte(chainPEM)); blk != nil; blk, rest = pem.Decode(rest) {
		if blk.Type == "CERTIFICATE" {
			c.Certificate = append(c.Certificate, blk.Bytes)
		}
	}
	if len(c.Certificate) == 0 {
		return nil, errors.New("no certificate in ACM's answer")
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil, err
	}
	c.Leaf = leaf
	key, ok := k.lookup(leaf.PublicKey)
	if !ok {
		return nil, fmt.Errorf("no private key for the certificate of %q (AddKey or RecordImports)", leaf.Subject.CommonName)
	}
	c.PrivateKey = key
	return &c, nil
}
