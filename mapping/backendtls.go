package mapping

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"net/url"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// ConditionBackendCertificateVerified is Cloudgate's condition on a
// BackendTLSPolicy's ancestor entry when the provider opens TLS to the
// backends but does not verify their certificates
// (lb.Capabilities.BackendTLSVerify unset): present, False, only then.
const ConditionBackendCertificateVerified = "cloudgate.dev/BackendCertificateVerified"

// ReasonNotVerifiedByProvider is its reason.
const ReasonNotVerifiedByProvider = "NotVerifiedByProvider"

// policyTarget is one targetRef of a BackendTLSPolicy that names a core
// Service: the policy applies to the Service's port named section, or to
// every port when section is empty.
type policyTarget struct {
	policy  *gwv1.BackendTLSPolicy
	section string
}

// policyUse is what this Gateway makes of one BackendTLSPolicy: resolved
// once, reported as the policy's ancestor entry for the Gateway.
type policyUse struct {
	policy *gwv1.BackendTLSPolicy
	// tls is what the policy's target groups carry; nil when the policy
	// cannot be applied (accepted says why).
	tls *lb.BackendTLS
	// accepted is why the policy is not accepted, refs the first
	// reference that does not resolve.
	accepted, refs problem
	// conflictedBy is the policy that takes precedence over this one on
	// a Service port this Gateway's routes use.
	conflictedBy string
}

// indexPolicies indexes the snapshot's BackendTLSPolicies by the Services
// their targetRefs name. Targets of other kinds are Implementation-specific
// and not served: such a targetRef is never matched.
func (b *builder) indexPolicies(policies []*gwv1.BackendTLSPolicy) {
	for _, p := range policies {
		if p == nil {
			continue
		}
		for _, t := range p.Spec.TargetRefs {
			if t.Group != "" || t.Kind != "Service" {
				continue
			}
			section := ""
			if t.SectionName != nil {
				section = string(*t.SectionName)
			}
			k := key(p.Namespace, string(t.Name))
			b.policies[k] = append(b.policies[k], policyTarget{policy: p, section: section})
		}
	}
}

// olderPolicy orders policies as the API gives precedence: the older by
// creation time, then the first by "{namespace}/{name}".
func olderPolicy(x, y *gwv1.BackendTLSPolicy) int {
	if c := x.CreationTimestamp.Compare(y.CreationTimestamp.Time); c != 0 {
		return c
	}
	return cmp.Compare(x.Namespace+"/"+x.Name, y.Namespace+"/"+y.Name)
}

// backendTLS finds the BackendTLSPolicy of a Service port, if any: those
// naming the port (by name) in sectionName, else those naming the whole
// Service; of several, the one with precedence, the others becoming
// Conflicted. targeted says a policy applies; tls is nil when it cannot be
// used (its ancestor entry says why), and then the backend must not be
// connected to at all.
func (b *builder) backendTLS(svc *corev1.Service, sp *corev1.ServicePort) (tls *lb.BackendTLS, targeted bool) {
	var section, whole []*gwv1.BackendTLSPolicy
	for _, t := range b.policiesOf(key(svc.Namespace, svc.Name)) {
		switch {
		case t.section == "":
			whole = append(whole, t.policy)
		case t.section == sp.Name:
			section = append(section, t.policy)
		}
	}
	cands := section
	if len(cands) == 0 {
		cands = whole
	}
	if len(cands) == 0 {
		return nil, false
	}
	// Using a policy decides its status: a side output the Cache does
	// not replay.
	if b.rec != nil {
		b.rec.uncacheable = true
	}
	slices.SortFunc(cands, olderPolicy)
	cands = slices.CompactFunc(cands, func(x, y *gwv1.BackendTLSPolicy) bool { return x == y })
	winner := b.usePolicy(cands[0])
	for _, p := range cands[1:] {
		if u := b.usePolicy(p); u.conflictedBy == "" {
			u.conflictedBy = cands[0].Namespace + "/" + cands[0].Name
		}
	}
	return winner.tls, true
}

// usePolicy resolves a policy once per Build and records it as used by
// this Gateway.
func (b *builder) usePolicy(p *gwv1.BackendTLSPolicy) *policyUse {
	k := key(p.Namespace, p.Name)
	if u := b.policyUses[k]; u != nil {
		return u
	}
	u := &policyUse{policy: p}
	b.policyUses[k] = u
	u.tls, u.accepted, u.refs = b.resolvePolicy(p)
	return u
}

// resolvePolicy turns a policy's validation into an lb.BackendTLS: trust
// anchors from caCertificateRefs (core ConfigMaps, or Secrets, with the
// bundle in ca.crt, in the policy's namespace) or wellKnownCACertificates
// "System", the hostname, the subjectAltNames, and the Gateway's client
// certificate. ClusterTrustBundles are not read (a feature of its own):
// InvalidKind.
func (b *builder) resolvePolicy(p *gwv1.BackendTLSPolicy) (*lb.BackendTLS, problem, problem) {
	v := p.Spec.Validation
	fail := func(reason gwv1.PolicyConditionReason, format string, a ...any) (*lb.BackendTLS, problem, problem) {
		return nil, problem{reason: string(reason), message: fmt.Sprintf(format, a...)}, problem{}
	}
	if !b.caps.BackendTLS {
		return fail(gwv1.PolicyConditionReason(gwv1.RouteReasonUnsupportedValue),
			"TLS to backends is not supported by provider %s; the backends this policy targets are not connected to", b.caps.Provider)
	}
	if v.Hostname == "" {
		return fail(gwv1.PolicyReasonInvalid, "validation.hostname is required")
	}
	t := &lb.BackendTLS{Policy: p.Namespace + "/" + p.Name, ServerName: string(v.Hostname)}
	for _, n := range v.SubjectAltNames {
		switch n.Type {
		case gwv1.HostnameSubjectAltNameType:
			if n.Hostname == "" {
				return fail(gwv1.PolicyReasonInvalid, "validation.subjectAltNames: a Hostname entry needs a hostname")
			}
			t.SubjectAltNames = append(t.SubjectAltNames, lb.SubjectAltName{Hostname: string(n.Hostname)})
		case gwv1.URISubjectAltNameType:
			if u, err := url.Parse(string(n.URI)); err != nil || u.Scheme == "" || n.URI == "" {
				return fail(gwv1.PolicyReasonInvalid, "validation.subjectAltNames: %s is not an absolute URI", quote(string(n.URI)))
			}
			t.SubjectAltNames = append(t.SubjectAltNames, lb.SubjectAltName{URI: string(n.URI)})
		default:
			return fail(gwv1.PolicyReasonInvalid, "validation.subjectAltNames: type %s is not supported", quote(string(n.Type)))
		}
	}
	var refs problem
	switch {
	case v.WellKnownCACertificates != nil && *v.WellKnownCACertificates != "" && len(v.CACertificateRefs) > 0:
		return fail(gwv1.PolicyReasonInvalid, "validation sets both caCertificateRefs and wellKnownCACertificates")
	case v.WellKnownCACertificates != nil && *v.WellKnownCACertificates != "":
		if *v.WellKnownCACertificates != gwv1.WellKnownCACertificatesSystem {
			return fail(gwv1.PolicyReasonInvalid, "validation.wellKnownCACertificates %s is not supported (only System)",
				quote(string(*v.WellKnownCACertificates)))
		}
		t.SystemRoots = true
	default:
		seen := map[string]bool{}
		for _, ref := range v.CACertificateRefs {
			bundle, rp := b.policyCABundle(p.Namespace, ref)
			if !rp.ok() {
				if refs.ok() {
					refs = rp
				}
				continue
			}
			if !seen[bundle.Name] {
				seen[bundle.Name] = true
				t.CABundles = append(t.CABundles, bundle)
			}
		}
		if len(t.CABundles) == 0 {
			if refs.ok() {
				refs = problem{reason: string(gwv1.BackendTLSPolicyReasonInvalidCACertificateRef),
					message: "validation has neither caCertificateRefs nor wellKnownCACertificates"}
			}
			return nil, problem{reason: string(gwv1.BackendTLSPolicyReasonNoValidCACertificate),
				message: "No caCertificateRef resolves to a CA certificate; the backends this policy targets are not connected to"}, refs
		}
	}
	if b.backendClientCert != nil {
		if !b.caps.BackendClientCertificate {
			return nil, problem{reason: string(gwv1.RouteReasonUnsupportedValue), message: fmt.Sprintf(
				"Gateway %s/%s asks in spec.tls.backend.clientCertificateRef for a client certificate, "+
					"which provider %s cannot present to backends; the backends this policy targets are not connected to",
				b.gw.Namespace, b.gw.Name, b.caps.Provider)}, refs
		}
		c := *b.backendClientCert
		t.ClientCertificate = &c
	}
	return t, problem{}, refs
}

// policyCABundle resolves one caCertificateRef of a policy in namespace ns.
func (b *builder) policyCABundle(ns string, ref gwv1.LocalObjectReference) (lb.CABundle, problem) {
	invalid := func(reason gwv1.PolicyConditionReason, format string, a ...any) (lb.CABundle, problem) {
		return lb.CABundle{}, problem{reason: string(reason), message: fmt.Sprintf(format, a...)}
	}
	name := ns + "/" + string(ref.Name)
	var data []byte
	switch {
	case ref.Group == "" && ref.Kind == "ConfigMap":
		cm := b.configMaps[key(ns, string(ref.Name))]
		if cm == nil {
			return invalid(gwv1.BackendTLSPolicyReasonInvalidCACertificateRef, "caCertificateRefs: ConfigMap %s not found", name)
		}
		if s, ok := cm.Data[caCertificateKey]; ok {
			data = []byte(s)
		} else if bin, ok := cm.BinaryData[caCertificateKey]; ok {
			data = bin
		} else {
			return invalid(gwv1.BackendTLSPolicyReasonInvalidCACertificateRef, "caCertificateRefs: ConfigMap %s has no key %s", name, caCertificateKey)
		}
	case ref.Group == "" && ref.Kind == "Secret":
		s := b.secrets[key(ns, string(ref.Name))]
		if s == nil {
			return invalid(gwv1.BackendTLSPolicyReasonInvalidCACertificateRef, "caCertificateRefs: Secret %s not found", name)
		}
		var ok bool
		if data, ok = s.Data[caCertificateKey]; !ok {
			return invalid(gwv1.BackendTLSPolicyReasonInvalidCACertificateRef, "caCertificateRefs: Secret %s has no key %s", name, caCertificateKey)
		}
		name = "secret:" + name // a ConfigMap may have the same name
	default:
		kind := string(ref.Kind)
		if ref.Group != "" {
			kind += "." + string(ref.Group)
		}
		return invalid(gwv1.BackendTLSPolicyReasonInvalidKind,
			"caCertificateRefs must name core ConfigMaps or Secrets, not %s", quote(kind))
	}
	if _, err := lb.ParseCABundle(data); err != nil {
		return invalid(gwv1.BackendTLSPolicyReasonInvalidCACertificateRef,
			"caCertificateRefs: %s does not hold PEM CA certificates in %s", name, caCertificateKey)
	}
	return lb.CABundle{Name: name, PEM: data}, problem{}
}

// resolveBackendClientCert reads the Gateway's spec.tls.backend
// clientCertificateRef: a core Secret of type kubernetes.io/tls (another
// namespace needs a ReferenceGrant) whose tls.crt and tls.key form a key
// pair. It returns the Gateway's ResolvedRefs condition, nil when the
// Gateway asks for no client certificate.
func (b *builder) resolveBackendClientCert() *metav1.Condition {
	if b.gw.Spec.TLS == nil || b.gw.Spec.TLS.Backend == nil || b.gw.Spec.TLS.Backend.ClientCertificateRef == nil {
		return nil
	}
	ref := *b.gw.Spec.TLS.Backend.ClientCertificateRef
	cond := func(reason gwv1.GatewayConditionReason, ok bool, msg string) *metav1.Condition {
		c := condition(string(gwv1.GatewayConditionResolvedRefs), string(reason), ok, msg, b.gen)
		return &c
	}
	if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
		return cond(gwv1.GatewayReasonInvalidClientCertificateRef, false,
			"spec.tls.backend.clientCertificateRef must name a core Secret")
	}
	ns := b.gw.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	name := ns + "/" + string(ref.Name)
	from := objRef{group: gwv1.GroupName, kind: "Gateway", namespace: b.gw.Namespace}
	to := objRef{group: "", kind: "Secret", namespace: ns, name: string(ref.Name)}
	if !b.granted(from, to) {
		return cond(gwv1.GatewayReasonRefNotPermitted, false,
			"spec.tls.backend.clientCertificateRef to Secret "+name+" is not permitted by any ReferenceGrant")
	}
	s := b.secrets[key(ns, string(ref.Name))]
	if s == nil {
		return cond(gwv1.GatewayReasonInvalidClientCertificateRef, false, "spec.tls.backend.clientCertificateRef: Secret "+name+" not found")
	}
	crt, keyPEM := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	if _, err := tls.X509KeyPair(crt, keyPEM); err != nil {
		return cond(gwv1.GatewayReasonInvalidClientCertificateRef, false,
			"spec.tls.backend.clientCertificateRef: Secret "+name+" does not hold a valid certificate and key in tls.crt and tls.key")
	}
	b.backendClientCert = &lb.Certificate{Name: name, CertPEM: crt, KeyPEM: keyPEM}
	return cond(gwv1.GatewayReasonResolvedRefs, true, "spec.tls.backend.clientCertificateRef resolves")
}

// policyStatuses is every used policy's ancestor entry for this Gateway.
func (b *builder) policyStatuses() map[types.NamespacedName]gwv1.PolicyAncestorStatus {
	out := make(map[types.NamespacedName]gwv1.PolicyAncestorStatus, len(b.policyUses))
	group, kind, ns := gwv1.Group(gwv1.GroupName), gwv1.Kind("Gateway"), gwv1.Namespace(b.gw.Namespace)
	for k, u := range b.policyUses {
		gen := u.policy.Generation
		accepted := condition(string(gwv1.PolicyConditionAccepted), string(gwv1.PolicyReasonAccepted), true, "Policy is accepted", gen)
		switch {
		case u.conflictedBy != "":
			accepted = condition(string(gwv1.PolicyConditionAccepted), string(gwv1.PolicyReasonConflicted), false,
				"BackendTLSPolicy "+u.conflictedBy+" targets the same Service port and takes precedence (older, or first by namespace/name)", gen)
		case !u.accepted.ok():
			accepted = condition(string(gwv1.PolicyConditionAccepted), u.accepted.reason, false, u.accepted.message, gen)
		}
		resolved := condition(string(gwv1.BackendTLSPolicyConditionResolvedRefs), string(gwv1.BackendTLSPolicyReasonResolvedRefs), true,
			"References resolved", gen)
		if !u.refs.ok() {
			resolved = condition(string(gwv1.BackendTLSPolicyConditionResolvedRefs), u.refs.reason, false, u.refs.message, gen)
		}
		conds := []metav1.Condition{accepted, resolved}
		if u.tls != nil && u.conflictedBy == "" && !b.caps.BackendTLSVerify {
			conds = append(conds, condition(ConditionBackendCertificateVerified, ReasonNotVerifiedByProvider, false, fmt.Sprintf(
				"Provider %s encrypts connections to the backends but does not verify their certificates as this policy asks "+
					"(a chain to caCertificateRefs or wellKnownCACertificates, then hostname or subjectAltNames): "+
					"a backend presenting another certificate is still connected to", b.caps.Provider), gen))
		}
		out[k] = gwv1.PolicyAncestorStatus{
			AncestorRef:    gwv1.ParentReference{Group: &group, Kind: &kind, Namespace: &ns, Name: gwv1.ObjectName(b.gw.Name)},
			ControllerName: b.controller,
			Conditions:     conds,
		}
	}
	return out
}
