package aws

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// ACM is the part of the ACM API the provider calls: certificates imported
// from Kubernetes Secrets.
type ACM interface {
	ListCertificates(context.Context, *acm.ListCertificatesInput, ...func(*acm.Options)) (*acm.ListCertificatesOutput, error)
	ListTagsForCertificate(context.Context, *acm.ListTagsForCertificateInput, ...func(*acm.Options)) (*acm.ListTagsForCertificateOutput, error)
	ImportCertificate(context.Context, *acm.ImportCertificateInput, ...func(*acm.Options)) (*acm.ImportCertificateOutput, error)
	AddTagsToCertificate(context.Context, *acm.AddTagsToCertificateInput, ...func(*acm.Options)) (*acm.AddTagsToCertificateOutput, error)
	RemoveTagsFromCertificate(context.Context, *acm.RemoveTagsFromCertificateInput, ...func(*acm.Options)) (*acm.RemoveTagsFromCertificateOutput, error)
	DeleteCertificate(context.Context, *acm.DeleteCertificateInput, ...func(*acm.Options)) (*acm.DeleteCertificateOutput, error)
}

// TagFingerprint holds the sha256 of an imported certificate's PEM chain
// and key, so that a rotated Secret is seen without reading the key back
// (ACM never returns it). The digest reveals nothing of the key.
const TagFingerprint = "cloudgate.dev/fingerprint"

// maxSNICertificates is ALB's quota "Certificates per Application Load
// Balancer (excluding default certificates)": 25.
const maxSNICertificates = 25

// certificate is an ACM certificate imported from a Secret's PEM. Its
// logical id is the model's Certificate.Name ("namespace/name").
type certificate struct {
	Logical     string            `json:"-"`
	Fingerprint string            `json:"fingerprint"`
	Tags        map[string]string `json:"tags"`
	ARN         string            `json:"-"`
	CertPEM     []byte            `json:"-"`
	KeyPEM      []byte            `json:"-"`
}

// fingerprint is the hex sha256 of the chain and the key.
func fingerprint(c lb.Certificate) string {
	h := sha256.New()
	h.Write(c.CertPEM)
	h.Write([]byte{0})
	h.Write(c.KeyPEM)
	return hex.EncodeToString(h.Sum(nil))
}

// certKey is how a listener names a certificate: the logical id of one we
// import, or the ARN of one the cloud holds.
func certKey(c lb.Certificate) string {
	if c.Ref != nil {
		return c.Ref.ID
	}
	return c.Name
}

// splitChain splits a PEM chain into the leaf and the rest, as
// ImportCertificate wants them.
func splitChain(chain []byte) (leaf, rest []byte, err error) {
	var blocks []*pem.Block
	for b, r := pem.Decode(chain); b != nil; b, r = pem.Decode(r) {
		if b.Type == "CERTIFICATE" {
			blocks = append(blocks, b)
		}
	}
	if len(blocks) == 0 {
		return nil, nil, fmt.Errorf("no PEM CERTIFICATE block")
	}
	leaf = pem.EncodeToMemory(blocks[0])
	var buf bytes.Buffer
	for _, b := range blocks[1:] {
		buf.Write(pem.EncodeToMemory(b))
	}
	return leaf, buf.Bytes(), nil
}

// listenerCertificates converts an HTTPS listener's certificates: the
// distinct ones over its VirtualHosts in model order (most specific
// VirtualHost first, each one's certificates in order), the first being
// the default. PEM certificates are added to certs once each.
func listenerCertificates(m *lb.LoadBalancer, l lb.Listener, certs map[string]*certificate) ([]string, error) {
	var keys []string
	for _, vh := range l.VirtualHosts {
		for _, c := range vh.Certificates {
			switch {
			case c.Ref != nil && c.Ref.Kind != lb.CertificateRefACM:
				return nil, fmt.Errorf("certificate %q: references of kind %s are not served by the AWS provider", c.Name, c.Ref.Kind)
			case c.Ref != nil && c.Ref.ID == "":
				return nil, fmt.Errorf("certificate %q: empty ACM ARN", c.Name)
			case c.Ref == nil:
				if _, _, err := splitChain(c.CertPEM); err != nil {
					return nil, fmt.Errorf("certificate %q: %v", c.Name, err)
				}
				if len(c.KeyPEM) == 0 {
					return nil, fmt.Errorf("certificate %q: no private key", c.Name)
				}
				if _, ok := certs[c.Name]; !ok {
					fp := fingerprint(c)
					tags := m.AllTags(resourceTag(c.Name))
					tags[TagFingerprint] = fp
					certs[c.Name] = &certificate{Logical: c.Name, Fingerprint: fp, Tags: tags, CertPEM: c.CertPEM, KeyPEM: c.KeyPEM}
				}
			}
			if k := certKey(c); !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("an HTTPS listener needs a certificate")
	}
	// The default first, the SNI ones sorted: their order does not matter
	// to ALB, which picks by SNI name.
	slices.Sort(keys[1:])
	return keys, nil
}

// observeCertificates finds owner's imported certificates in the region
// scan (inventory.go: ListCertificates, then ListTagsForCertificate on each
// imported one, since ACM has no tag filter on its list). Our own imports,
// re-imports, retags and deletes drop the scan, so its tags are never older
// than this process's writes.
func (p *Provider) observeCertificates(ctx context.Context, o lb.Owner) ([]*certificate, error) {
	scan, err := p.scan(ctx)
	if err != nil {
		return nil, err
	}
	var out []*certificate
	for arn, t := range scan.certs {
		if !owns(t, o) || t[lb.TagResource] == "" {
			continue
		}
		out = append(out, &certificate{Logical: t[lb.TagResource], Fingerprint: t[TagFingerprint], Tags: maps.Clone(t), ARN: arn})
	}
	slices.SortFunc(out, func(a, b *certificate) int {
		if a.Logical != b.Logical {
			return strings.Compare(a.Logical, b.Logical)
		}
		return strings.Compare(a.ARN, b.ARN)
	})
	return out, nil
}

// servedCertificates maps the ARN of each certificate that planCertificates
// keeps (the first of each logical id, as observe sorts them) to its
// logical id. A second copy's ARN is left out: a listener that serves it
// reads as serving a foreign ARN, moves to the kept one, and the copy can
// then be deleted (ACM refuses to delete a certificate in use).
func servedCertificates(certs []*certificate) map[string]string {
	out := map[string]string{}
	seen := map[string]bool{}
	for _, c := range certs {
		if !seen[c.Logical] {
			seen[c.Logical] = true
			out[c.ARN] = c.Logical
		}
	}
	return out
}

// planCertificates diffs the imported certificates: the imports and
// re-imports (which run before the listeners that serve them), and the
// deletes (which run last, after no listener serves them).
func planCertificates(want, have []*certificate) (first, last []*change) {
	byLogical := map[string]*certificate{}
	for _, h := range have {
		if byLogical[h.Logical] == nil {
			byLogical[h.Logical] = h
		} else {
			last = append(last, &change{step: providers.Step{Kind: providers.KindCertificate, LogicalID: h.Logical, CloudID: h.ARN,
				Action: providers.ActionDelete, Why: "a second certificate with the same owner and name"}, run: deleteCertificate(h)})
		}
	}
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[w.Logical] = true
		h := byLogical[w.Logical]
		s := providers.Step{Kind: providers.KindCertificate, LogicalID: w.Logical}
		c := &change{}
		switch {
		case h == nil:
			s.Action, s.Why = providers.ActionCreate, providers.WhyMissing
			c.run = importCertificate(w, nil)
		default:
			s.CloudID = h.ARN
			if d := providers.Compare(h, w); len(d) > 0 {
				s.Action, s.Why, s.Diff = providers.ActionUpdate, providers.WhyChanged, d
				c.run = importCertificate(w, h)
			} else {
				s.Action, s.Why = providers.ActionNothing, providers.WhyUpToDate
			}
		}
		c.step = s
		first = append(first, c)
	}
	for _, h := range have {
		if !wanted[h.Logical] && byLogical[h.Logical] == h {
			last = append(last, &change{step: providers.Step{Kind: providers.KindCertificate, LogicalID: h.Logical, CloudID: h.ARN,
				Action: providers.ActionDelete, Why: providers.WhyUnwanted}, run: deleteCertificate(h)})
		}
	}
	return first, last
}

func acmTags(t map[string]string) []acmtypes.Tag {
	out := make([]acmtypes.Tag, 0, len(t))
	for _, k := range slices.Sorted(maps.Keys(t)) {
		out = append(out, acmtypes.Tag{Key: awssdk.String(k), Value: awssdk.String(t[k])})
	}
	return out
}

// acmInvalid are the ACM error codes that refuse the certificate itself.
var acmInvalid = map[string]bool{
	"ValidationException":       true,
	"InvalidParameterException": true,
	"InvalidArnException":       true,
	"InvalidTagException":       true,
	"TooManyTagsException":      true,
	"TagPolicyException":        true,
	"LimitExceededException":    true,
}

func classifyACM(err error, op, elem string) error {
	if err == nil {
		return nil
	}
	var api smithy.APIError
	if errors.As(err, &api) && acmInvalid[api.ErrorCode()] {
		return &providers.InvalidError{Elements: []string{elem}, Message: fmt.Sprintf("%s: certificate %s: %s", op, elem, api.ErrorCode()), Cause: err}
	}
	return fmt.Errorf("%s: certificate %s: %w", op, elem, err)
}

// importCertificate imports w, or brings h up to w: a re-import to h's
// ARN when the PEM changed (ACM keeps the ARN, so listeners need no
// change), then the tags that differ. A re-import cannot carry tags and ACM
// keeps the old ones over it, so the fingerprint tag changes after the
// import: a crash between the two re-imports again, which is harmless.
func importCertificate(w, h *certificate) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		if h != nil && h.Fingerprint == w.Fingerprint {
			// Only tags changed (the Gateway's labels, say): no import.
			a.certs[w.Logical], c.step.CloudID = h.ARN, h.ARN
			return a.retagCertificate(ctx, h.ARN, h.Tags, w.Tags, w.Logical)
		}
		leaf, chain, err := splitChain(w.CertPEM)
		if err != nil {
			return &providers.InvalidError{Elements: []string{w.Logical}, Message: fmt.Sprintf("certificate %s: %v", w.Logical, err)}
		}
		in := &acm.ImportCertificateInput{Certificate: leaf, PrivateKey: w.KeyPEM}
		if len(chain) > 0 {
			in.CertificateChain = chain
		}
		if h == nil {
			in.Tags = acmTags(w.Tags)
		} else {
			in.CertificateArn = awssdk.String(h.ARN)
		}
		// A first import is not idempotent (ACM takes no idempotency token
		// for it): the SDK retrying one whose answer was lost (a 5xx or a
		// dropped connection after ACM stored it) imports a second copy.
		// So it is not retried here; the next reconcile observes first and
		// finds the certificate by its tags if it was stored. A re-import
		// to an ARN is idempotent and keeps the SDK's retries.
		var opts []func(*acm.Options)
		if h == nil {
			opts = append(opts, func(o *acm.Options) { o.RetryMaxAttempts = 1 })
		}
		out, err := a.p.acm.ImportCertificate(ctx, in, opts...)
		if err != nil {
			return classifyACM(err, "ImportCertificate", w.Logical)
		}
		arn := awssdk.ToString(out.CertificateArn)
		if h != nil {
			arn = h.ARN
			if err := a.retagCertificate(ctx, arn, h.Tags, w.Tags, w.Logical); err != nil {
				return err
			}
		}
		a.certs[w.Logical], c.step.CloudID = arn, arn
		return nil
	}
}

// retagCertificate sets the tags of want that have lacks or holds with
// another value, in one call, and removes those want lacks, in another.
func (a *applier) retagCertificate(ctx context.Context, arn string, have, want map[string]string, elem string) error {
	set := map[string]string{}
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			set[k] = v
		}
	}
	if len(set) > 0 {
		if _, err := a.p.acm.AddTagsToCertificate(ctx, &acm.AddTagsToCertificateInput{CertificateArn: &arn, Tags: acmTags(set)}); err != nil {
			return classifyACM(err, "AddTagsToCertificate", elem)
		}
	}
	var gone []acmtypes.Tag
	for _, k := range slices.Sorted(maps.Keys(have)) {
		if _, ok := want[k]; !ok {
			gone = append(gone, acmtypes.Tag{Key: awssdk.String(k), Value: awssdk.String(have[k])})
		}
	}
	if len(gone) > 0 {
		if _, err := a.p.acm.RemoveTagsFromCertificate(ctx, &acm.RemoveTagsFromCertificateInput{CertificateArn: &arn, Tags: gone}); err != nil {
			return classifyACM(err, "RemoveTagsFromCertificate", elem)
		}
	}
	return nil
}

// deleteCertificate runs after every listener stopped serving h. ELBv2
// may take a moment to release it: ResourceInUseException stays a
// transient error, and the next reconcile deletes it.
func deleteCertificate(h *certificate) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		_, err := a.p.acm.DeleteCertificate(ctx, &acm.DeleteCertificateInput{CertificateArn: awssdk.String(h.ARN)})
		if isCode(err, "ResourceNotFoundException") {
			return nil
		}
		if isCode(err, "ResourceInUseException") {
			return fmt.Errorf("certificate %s (%s) is still in use; retrying later: %w", h.Logical, h.ARN, err)
		}
		return classifyACM(err, "DeleteCertificate", h.Logical)
	}
}

// certARN resolves a listener's certificate key.
func (a *applier) certARN(key string) string {
	if arn, ok := a.certs[key]; ok {
		return arn
	}
	return key
}

func (a *applier) certs1(key string) []elbtypes.Certificate {
	return []elbtypes.Certificate{{CertificateArn: awssdk.String(a.certARN(key))}}
}

// setSNI adds and removes the SNI certificates of listener arn, one per
// call as ELBv2 takes them.
func (a *applier) setSNI(ctx context.Context, arn string, have, want []string, elem string) error {
	for _, k := range have {
		if !slices.Contains(want, k) {
			if _, err := a.p.elb.RemoveListenerCertificates(ctx, &elbv2.RemoveListenerCertificatesInput{ListenerArn: &arn, Certificates: a.certs1(k)}); err != nil {
				return classify(err, "RemoveListenerCertificates", elem)
			}
		}
	}
	for _, k := range want {
		if !slices.Contains(have, k) {
			if _, err := a.p.elb.AddListenerCertificates(ctx, &elbv2.AddListenerCertificatesInput{ListenerArn: &arn, Certificates: a.certs1(k)}); err != nil {
				return classify(err, "AddListenerCertificates", elem)
			}
		}
	}
	return nil
}

// readListenerCertificates reads an HTTPS listener's certificates as keys:
// the default first, then the SNI ones sorted.
func (p *Provider) readListenerCertificates(ctx context.Context, l elbtypes.Listener, byARN map[string]string) ([]string, error) {
	key := func(arn string) string {
		if k, ok := byARN[arn]; ok {
			return k
		}
		return arn
	}
	var def string
	if len(l.Certificates) > 0 {
		def = awssdk.ToString(l.Certificates[0].CertificateArn)
	}
	var sni []string
	var marker *string
	for {
		res, err := p.elb.DescribeListenerCertificates(ctx, &elbv2.DescribeListenerCertificatesInput{ListenerArn: l.ListenerArn, Marker: marker})
		if err != nil {
			return nil, classify(err, "DescribeListenerCertificates", "")
		}
		for _, c := range res.Certificates {
			arn := awssdk.ToString(c.CertificateArn)
			if awssdk.ToBool(c.IsDefault) {
				if def == "" {
					def = arn
				}
				continue
			}
			if arn != def && !slices.Contains(sni, key(arn)) {
				sni = append(sni, key(arn))
			}
		}
		if marker = res.NextMarker; marker == nil || *marker == "" {
			break
		}
	}
	slices.Sort(sni)
	if def == "" {
		return sni, nil
	}
	return append([]string{key(def)}, sni...), nil
}
