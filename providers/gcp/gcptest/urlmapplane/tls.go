package urlmapplane

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

// Keyring holds the private keys of SSL certificates. The API never
// returns a certificate's private key (the sslCertificates reference:
// privateKey is input only), so a plane that reads the API cannot serve
// TLS by itself: whoever uploads certificates (the provider, from Secrets)
// knows the keys, and the keyring learns them, from PEM or by watching
// the uploads the double receives. A certificate is served with the key
// whose public half matches its leaf. Safe for concurrent use.
type Keyring struct {
	mu   sync.Mutex
	keys map[string]crypto.PrivateKey // by the public key's SubjectPublicKeyInfo
}

// NewKeyring returns an empty keyring.
func NewKeyring() *Keyring { return &Keyring{keys: map[string]crypto.PrivateKey{}} }

// AddPEM adds the private keys of keyPEM (PKCS #1, PKCS #8 or SEC 1
// blocks).
func (k *Keyring) AddPEM(keyPEM []byte) error {
	n := 0
	for rest := keyPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if !strings.HasSuffix(b.Type, "PRIVATE KEY") {
			continue
		}
		key, err := parseKey(b.Bytes)
		if err != nil {
			return err
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return fmt.Errorf("urlmapplane: a %T cannot sign", key)
		}
		spki, err := x509.MarshalPKIXPublicKey(signer.Public())
		if err != nil {
			return fmt.Errorf("urlmapplane: %w", err)
		}
		k.mu.Lock()
		k.keys[string(spki)] = key
		k.mu.Unlock()
		n++
	}
	if n == 0 {
		return errors.New("urlmapplane: no private key in the PEM")
	}
	return nil
}

func parseKey(der []byte) (crypto.PrivateKey, error) {
	if key, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return key, nil
	}
	if key, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return key, nil
	}
	if key, err := x509.ParseECPrivateKey(der); err == nil {
		return key, nil
	}
	return nil, errors.New("urlmapplane: the private key is neither PKCS #8, PKCS #1 nor SEC 1")
}

// Watch has the keyring learn the private key of every SSL certificate
// inserted into d from now on, from the insert's body as the API received
// it. It returns a function that stops watching.
func (k *Keyring) Watch(d *gcptest.Double) (stop func()) {
	learn := func(c gcptest.Call) {
		var body struct {
			PrivateKey string `json:"privateKey"`
		}
		if json.Unmarshal(c.Body, &body) == nil && body.PrivateKey != "" {
			// A key that does not parse is the API's to refuse.
			_ = k.AddPEM([]byte(body.PrivateKey))
		}
	}
	stops := []func(){
		d.AddHook(gcptest.Hook{Method: "compute.regionSslCertificates.insert", Before: learn}),
		d.AddHook(gcptest.Hook{Method: "compute.sslCertificates.insert", Before: learn}),
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}

// pair is certPEM (leaf first, then its chain) with its private key.
func (k *Keyring) pair(certPEM string) (tls.Certificate, error) {
	var out tls.Certificate
	for rest := []byte(certPEM); ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			out.Certificate = append(out.Certificate, b.Bytes)
		}
	}
	if len(out.Certificate) == 0 {
		return out, errors.New("no certificate in its PEM")
	}
	leaf, err := x509.ParseCertificate(out.Certificate[0])
	if err != nil {
		return out, err
	}
	out.Leaf = leaf
	if k == nil {
		return out, errors.New("the plane has no keyring (Config.Keys) to find its private key in")
	}
	k.mu.Lock()
	key, ok := k.keys[string(leaf.RawSubjectPublicKeyInfo)]
	k.mu.Unlock()
	if !ok {
		return out, errors.New("its private key is not in the keyring (the API never returns one)")
	}
	out.PrivateKey = key
	return out, nil
}

// pickCertificate chooses among a target HTTPS proxy's certificates by
// the client's SNI: a certificate naming the host exactly, then one whose
// wildcard covers it, else the first (the proxy's primary certificate:
// "SSL certificates overview",
// https://cloud.google.com/load-balancing/docs/ssl-certificates, the
// primary certificate serves clients whose SNI matches none).
func pickCertificate(certs []tls.Certificate, sni string) *tls.Certificate {
	if len(certs) == 0 {
		return nil
	}
	sni = strings.ToLower(strings.TrimSuffix(sni, "."))
	if sni != "" {
		for i := range certs {
			for _, n := range certs[i].Leaf.DNSNames {
				if strings.EqualFold(n, sni) {
					return &certs[i]
				}
			}
		}
		if _, parent, ok := strings.Cut(sni, "."); ok {
			for i := range certs {
				for _, n := range certs[i].Leaf.DNSNames {
					if strings.EqualFold(n, "*."+parent) {
						return &certs[i]
					}
				}
			}
		}
	}
	return &certs[0]
}
