package aws

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// pemCertificate is a fresh self-signed certificate for host, named as
// mapping names a Secret's.
func pemCertificate(t *testing.T, name, host string) lb.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return lb.Certificate{Name: name, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})}
}

func httpsModel(a, b []lb.Certificate) *lb.LoadBalancer {
	return &lb.LoadBalancer{
		Owner:        gatewayOwner,
		TargetGroups: []lb.TargetGroup{{Name: "shop/web:80", Protocol: lb.ProtocolHTTP, Targets: []lb.Target{{IP: "10.0.1.31", Port: 80}}}},
		Listeners: []lb.Listener{{Name: "https-443", Port: 443, Protocol: lb.ProtocolHTTPS, VirtualHosts: []lb.VirtualHost{
			{Hostname: "a.example.com", Certificates: a, Rules: []lb.Rule{{Name: "shop/a/rule-0/match-0",
				Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/"}}, Action: fwd("shop/web:80", 1)}}},
			{Hostname: "b.example.com", Certificates: b, Rules: []lb.Rule{{Name: "shop/b/rule-0/match-0",
				Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/"}}, Action: fwd("shop/web:80", 1)}}},
		}}},
	}
}

// acmView is every certificate in ACM with its tags, read on the test's
// own client.
func acmView(t *testing.T, ctx context.Context, c *acm.Client) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	res, err := c.ListCertificates(ctx, &acm.ListCertificatesInput{Includes: &acmtypes.Filters{KeyTypes: acmtypes.KeyAlgorithm("").Values()}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.CertificateSummaryList {
		tr, err := c.ListTagsForCertificate(ctx, &acm.ListTagsForCertificateInput{CertificateArn: s.CertificateArn})
		if err != nil {
			t.Fatal(err)
		}
		tags := map[string]string{}
		for _, tag := range tr.Tags {
			tags[awssdk.ToString(tag.Key)] = awssdk.ToString(tag.Value)
		}
		out[awssdk.ToString(s.CertificateArn)] = tags
	}
	return out
}

func ours(view map[string]map[string]string) map[string]string {
	out := map[string]string{} // logical → ARN
	for arn, tags := range view {
		if owns(tags, gatewayOwner) {
			out[tags[lb.TagResource]] = arn
		}
	}
	return out
}

// listenerCerts reads the HTTPS listener's default and SNI certificates.
func (te *testEnv) listenerCerts(t *testing.T, ctx context.Context) (def string, sni []string) {
	t.Helper()
	lbs, err := te.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{lbName(gatewayOwner)}})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := te.elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: lbs.LoadBalancers[0].LoadBalancerArn})
	if err != nil || len(ls.Listeners) != 1 {
		t.Fatalf("listeners: %v, %v", ls, err)
	}
	l := ls.Listeners[0]
	if l.Protocol != "HTTPS" || awssdk.ToInt32(l.Port) != 443 {
		t.Fatalf("listener %s:%d, want HTTPS:443", l.Protocol, awssdk.ToInt32(l.Port))
	}
	if len(l.Certificates) > 0 {
		def = awssdk.ToString(l.Certificates[0].CertificateArn)
	}
	lc, err := te.elb.DescribeListenerCertificates(ctx, &elbv2.DescribeListenerCertificatesInput{ListenerArn: l.ListenerArn})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range lc.Certificates {
		if arn := awssdk.ToString(c.CertificateArn); !awssdk.ToBool(c.IsDefault) && arn != def {
			sni = append(sni, arn)
		}
	}
	slices.Sort(sni)
	return def, sni
}

func TestHTTPSCertificates(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	cfg, err := te.moto.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ac := acm.NewFromConfig(cfg)

	// A foreign certificate, untagged, imported by someone else.
	foreign := pemCertificate(t, "", "foreign.example.com")
	fo, err := ac.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: foreign.CertPEM, PrivateKey: foreign.KeyPEM})
	if err != nil {
		t.Fatal(err)
	}
	foreignARN := awssdk.ToString(fo.CertificateArn)

	certA := pemCertificate(t, "shop/a-tls", "a.example.com")
	certB := pemCertificate(t, "shop/b-tls", "b.example.com")

	// Creation: two imports, A the default, B for SNI.
	te.calls.take()
	res, err := te.prov.Ensure(ctx, httpsModel([]lb.Certificate{certA}, []lb.Certificate{certB}))
	if err != nil {
		t.Fatal(err)
	}
	n := te.calls.take()
	t.Logf("create: %s; plan: %s", format(n), res.Applied.Summary())
	if res.Applied.Count(providers.ActionCreate, providers.KindCertificate) != 2 {
		t.Errorf("plan = %s, want 2 certificates created", res.Applied)
	}
	if n["ImportCertificate"] != 2 || n["AddListenerCertificates"] != 1 {
		t.Errorf("create calls %s, want ImportCertificate=2 AddListenerCertificates=1", format(n))
	}
	view := acmView(t, ctx, ac)
	mine := ours(view)
	if len(mine) != 2 || mine["shop/a-tls"] == "" || mine["shop/b-tls"] == "" {
		t.Fatalf("our certificates in ACM = %v, want shop/a-tls and shop/b-tls", mine)
	}
	for logical, arn := range mine {
		tags := view[arn]
		if tags[lb.TagCluster] != gatewayOwner.Cluster || tags[lb.TagGateway] == "" || tags[lb.TagGatewayUID] != gatewayOwner.UID {
			t.Errorf("%s tags = %v, want the ownership tags", logical, tags)
		}
		if len(tags[TagFingerprint]) != 64 {
			t.Errorf("%s fingerprint tag = %q, want a sha256", logical, tags[TagFingerprint])
		}
		for k, v := range tags {
			if strings.Contains(v, "PRIVATE KEY") || strings.Contains(k, "PRIVATE") {
				t.Errorf("a tag holds key material: %s", k)
			}
		}
	}
	def, sni := te.listenerCerts(t, ctx)
	if def != mine["shop/a-tls"] || !slices.Equal(sni, []string{mine["shop/b-tls"]}) {
		t.Errorf("listener default %s, SNI %v; want %s and [%s]", def, sni, mine["shop/a-tls"], mine["shop/b-tls"])
	}

	// A no-op reconcile writes nothing.
	te.calls.take()
	if _, err := te.prov.Ensure(ctx, httpsModel([]lb.Certificate{certA}, []lb.Certificate{certB})); err != nil {
		t.Fatal(err)
	}
	n = te.calls.take()
	t.Logf("no-op: %s", format(n))
	if w := writes(n); len(w) > 0 {
		t.Errorf("a no-op Ensure wrote: %s", format(w))
	}

	// Rotation: B's Secret gets a new certificate and key.
	rotated := pemCertificate(t, "shop/b-tls", "b.example.com")
	plan, err := te.prov.Plan(ctx, httpsModel([]lb.Certificate{certA}, []lb.Certificate{rotated}))
	if err != nil {
		t.Fatal(err)
	}
	if s := plan.String(); strings.Contains(s, "PRIVATE KEY") || !strings.Contains(s, "fingerprint") {
		t.Errorf("rotation plan shows key material or no fingerprint:\n%s", s)
	}
	te.calls.take()
	res, err = te.prov.Ensure(ctx, httpsModel([]lb.Certificate{certA}, []lb.Certificate{rotated}))
	if err != nil {
		t.Fatal(err)
	}
	n = te.calls.take()
	t.Logf("rotation: %s; plan: %s", format(n), res.Applied)
	if w := writes(n); !maps.Equal(w, map[string]int{"ImportCertificate": 1, "AddTagsToCertificate": 1}) {
		t.Errorf("rotation wrote %s, want ImportCertificate=1 AddTagsToCertificate=1", format(w))
	}
	view = acmView(t, ctx, ac)
	if got := ours(view); !maps.Equal(got, mine) {
		t.Errorf("after rotation our certificates = %v, want the same ARNs %v", got, mine)
	}
	if view[mine["shop/b-tls"]][TagFingerprint] != fingerprint(rotated) {
		t.Errorf("fingerprint tag not updated")
	}
	gc, err := ac.GetCertificate(ctx, &acm.GetCertificateInput{CertificateArn: awssdk.String(mine["shop/b-tls"])})
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(awssdk.ToString(gc.Certificate)) != strings.TrimSpace(string(rotated.CertPEM)) {
		t.Errorf("ACM serves the old certificate after rotation")
	}

	// An ACM reference next to B: attached for SNI, never imported.
	ref := lb.Certificate{Name: foreignARN, Ref: &lb.CertificateRef{Kind: lb.CertificateRefACM, ID: foreignARN}}
	te.calls.take()
	if _, err := te.prov.Ensure(ctx, httpsModel([]lb.Certificate{certA}, []lb.Certificate{rotated, ref})); err != nil {
		t.Fatal(err)
	}
	n = te.calls.take()
	t.Logf("ACM reference added: %s", format(n))
	if w := writes(n); !maps.Equal(w, map[string]int{"AddListenerCertificates": 1}) {
		t.Errorf("adding a reference wrote %s, want AddListenerCertificates=1", format(w))
	}
	want := sortedCopy([]string{mine["shop/b-tls"], foreignARN})
	if def, sni := te.listenerCerts(t, ctx); def != mine["shop/a-tls"] || !slices.Equal(sni, want) {
		t.Errorf("listener default %s, SNI %v; want %s and %v", def, sni, mine["shop/a-tls"], want)
	}

	// B leaves the model: off the listener, then out of ACM.
	te.calls.take()
	res, err = te.prov.Ensure(ctx, httpsModel([]lb.Certificate{certA}, []lb.Certificate{ref}))
	if err != nil {
		t.Fatal(err)
	}
	n = te.calls.take()
	t.Logf("certificate removed: %s; plan: %s", format(n), res.Applied)
	if w := writes(n); !maps.Equal(w, map[string]int{"RemoveListenerCertificates": 1, "DeleteCertificate": 1}) {
		t.Errorf("removing a certificate wrote %s, want RemoveListenerCertificates=1 DeleteCertificate=1", format(w))
	}
	if def, sni := te.listenerCerts(t, ctx); def != mine["shop/a-tls"] || !slices.Equal(sni, []string{foreignARN}) {
		t.Errorf("listener default %s, SNI %v; want %s and [%s]", def, sni, mine["shop/a-tls"], foreignARN)
	}
	view = acmView(t, ctx, ac)
	if got := ours(view); len(got) != 1 || got["shop/a-tls"] != mine["shop/a-tls"] {
		t.Errorf("our certificates = %v, want only shop/a-tls", got)
	}

	// The default changes: the reference becomes the default, A moves to SNI.
	te.calls.take()
	res, err = te.prov.Ensure(ctx, httpsModel([]lb.Certificate{ref}, []lb.Certificate{certA}))
	if err != nil {
		t.Fatal(err)
	}
	n = te.calls.take()
	t.Logf("default changed: %s; plan: %s", format(n), res.Applied)
	if w := writes(n); w["ModifyListener"] != 1 || w["ImportCertificate"] != 0 || w["DeleteCertificate"] != 0 {
		t.Errorf("changing the default wrote %s, want one ModifyListener and no certificate write", format(w))
	}
	if def, sni := te.listenerCerts(t, ctx); def != foreignARN || !slices.Equal(sni, []string{mine["shop/a-tls"]}) {
		t.Errorf("listener default %s, SNI %v; want %s and [%s]", def, sni, foreignARN, mine["shop/a-tls"])
	}
	te.calls.take()
	if _, err := te.prov.Ensure(ctx, httpsModel([]lb.Certificate{ref}, []lb.Certificate{certA})); err != nil {
		t.Fatal(err)
	}
	if w := writes(te.calls.take()); len(w) > 0 {
		t.Errorf("a no-op Ensure after the default changed wrote: %s", format(w))
	}

	// Delete: nothing of ours remains; the foreign certificate does, untagged.
	te.calls.take()
	if err := te.prov.Delete(ctx, gatewayOwner); err != nil {
		t.Fatal(err)
	}
	t.Logf("delete: %s", format(te.calls.take()))
	view = acmView(t, ctx, ac)
	if got := ours(view); len(got) != 0 {
		t.Errorf("after Delete our certificates remain: %v", got)
	}
	if tags, ok := view[foreignARN]; !ok || len(tags) != 0 {
		t.Errorf("foreign certificate: present %v, tags %v; want present, untagged", ok, tags)
	}
	te.checkNothingOwned(t, ctx, gatewayOwner)
}

func TestHTTPSRefusals(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for name, certs := range map[string][]lb.Certificate{
		"none": nil,
		"gcp":  {{Name: "gcp-cert", Ref: &lb.CertificateRef{Kind: lb.CertificateRefGCP, ID: "gcp-cert"}}},
		"pem":  {{Name: "shop/bad", CertPEM: []byte("not a certificate"), KeyPEM: []byte("k")}},
	} {
		m := httpsModel(certs, nil)
		_, err := p.desired(m, []string{"subnet-1", "subnet-2"})
		ie, ok := err.(*providers.InvalidError)
		if !ok || !slices.Equal(ie.Elements, []string{"https-443"}) {
			t.Errorf("%s: err = %v, want an InvalidError naming the listener", name, err)
		}
	}
	// 26 SNI certificates are over ALB's quota of 25 besides the default.
	var many []lb.Certificate
	for i := range 27 {
		many = append(many, lb.Certificate{Name: "arn:aws:acm:us-east-1:1:certificate/" + string(rune('a'+i)),
			Ref: &lb.CertificateRef{Kind: lb.CertificateRefACM, ID: "arn:aws:acm:us-east-1:1:certificate/" + string(rune('a'+i))}})
	}
	if _, err := p.desired(httpsModel(many, nil), []string{"subnet-1", "subnet-2"}); err == nil || !strings.Contains(err.Error(), "25") {
		t.Errorf("27 certificates: err = %v, want a refusal over the quota", err)
	}
}

func TestSplitChainAndOrder(t *testing.T) {
	leaf := pemCertificate(t, "shop/leaf", "leaf.example.com")
	inter := pemCertificate(t, "shop/inter", "inter.example.com")
	chain := append(append([]byte{}, leaf.CertPEM...), inter.CertPEM...)
	l, rest, err := splitChain(chain)
	if err != nil || string(l) != string(leaf.CertPEM) || string(rest) != string(inter.CertPEM) {
		t.Errorf("splitChain: leaf ok %v, chain ok %v, err %v", string(l) == string(leaf.CertPEM), string(rest) == string(inter.CertPEM), err)
	}
	if _, _, err := splitChain(leaf.KeyPEM); err == nil {
		t.Errorf("splitChain of a key: no error")
	}

	// The default is the most specific VirtualHost's first certificate; the
	// same Secret on two VirtualHosts is one certificate.
	a, b := pemCertificate(t, "shop/z-tls", "a.example.com"), pemCertificate(t, "shop/b-tls", "b.example.com")
	m := httpsModel([]lb.Certificate{a}, []lb.Certificate{b, a})
	certs := map[string]*certificate{}
	keys, err := listenerCertificates(m, m.Listeners[0], certs)
	if err != nil || !slices.Equal(keys, []string{"shop/z-tls", "shop/b-tls"}) || len(certs) != 2 {
		t.Errorf("keys = %v (err %v), %d certificates; want [shop/z-tls shop/b-tls], 2", keys, err, len(certs))
	}
	if certs["shop/z-tls"].Tags[TagFingerprint] != fingerprint(a) || certs["shop/z-tls"].Tags[lb.TagResource] != "shop/z-tls" {
		t.Errorf("tags = %v", certs["shop/z-tls"].Tags)
	}
}
