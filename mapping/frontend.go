package mapping

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// caCertificateKey is the ConfigMap key the Gateway API names for a CA
// bundle.
const caCertificateKey = "ca.crt"

// frontendValidation returns the client certificate validation in effect
// on port for HTTPS listeners, and the field it comes from (for messages):
// the per-port entry for the port when there is one (even one without
// validation, which turns the default off there), else the default.
func (b *builder) frontendValidation(port gwv1.PortNumber) (*gwv1.FrontendTLSValidation, string) {
	if b.gw.Spec.TLS == nil || b.gw.Spec.TLS.Frontend == nil {
		return nil, ""
	}
	f := b.gw.Spec.TLS.Frontend
	for _, pp := range f.PerPort {
		if pp.Port == port {
			return pp.TLS.Validation, fmt.Sprintf("spec.tls.frontend.perPort (port %d)", port)
		}
	}
	return f.Default.Validation, "spec.tls.frontend.default"
}

// clientValidation resolves the client certificate validation of an HTTPS
// listener (nil when none applies). accepted is set when the listener
// cannot be served: its provider lacks the feature or the mode, or no
// caCertificateRef resolves (NoValidCACertificate, as the API asks).
// refs is the first reference that does not resolve (ResolvedRefs=False);
// the listener is still served with the others, which only lets fewer
// clients in.
func (b *builder) clientValidation(spec gwv1.Listener) (cv *lb.ClientValidation, accepted, refs problem) {
	v, field := b.frontendValidation(spec.Port)
	if v == nil {
		return nil, problem{}, problem{}
	}
	unsupported := func(format string, a ...any) (*lb.ClientValidation, problem, problem) {
		return nil, problem{reason: string(gwv1.ListenerReasonUnsupportedValue), message: fmt.Sprintf(format, a...)}, problem{}
	}
	// The API server defaults the mode; a Gateway built by hand may lack it.
	mode := lb.ClientValidationAllowValidOnly
	switch v.Mode {
	case "", gwv1.AllowValidOnly:
	case gwv1.AllowInsecureFallback:
		mode = lb.ClientValidationAllowInsecureFallback
	default:
		return unsupported("%s: validation mode %s is not supported", field, quote(string(v.Mode)))
	}
	// Serving the listener without validation would let in the clients
	// the user meant to keep out: it is not served at all.
	if !b.caps.ClientValidation {
		return unsupported("%s: client certificate validation is not supported by provider %s", field, b.caps.Provider)
	}
	if mode == lb.ClientValidationAllowInsecureFallback && !b.caps.ClientValidationInsecureFallback {
		return unsupported("%s: validation mode AllowInsecureFallback is not supported by provider %s", field, b.caps.Provider)
	}
	cv = &lb.ClientValidation{Mode: mode}
	seen := map[string]bool{}
	for _, ref := range v.CACertificateRefs {
		bundle, p := b.caBundle(ref, field)
		if !p.ok() {
			if refs.ok() {
				refs = p
			}
			continue
		}
		if !seen[bundle.Name] {
			seen[bundle.Name] = true
			cv.CABundles = append(cv.CABundles, bundle)
		}
	}
	if len(cv.CABundles) == 0 {
		if refs.ok() { // no references at all: the API requires one
			refs = problem{reason: string(gwv1.ListenerReasonInvalidCACertificateRef), message: field + ": validation has no caCertificateRefs"}
		}
		return nil, problem{reason: string(gwv1.ListenerReasonNoValidCACertificate),
			message: field + ": no caCertificateRef resolves to a CA certificate"}, refs
	}
	return cv, problem{}, refs
}

// caBundle resolves one caCertificateRef: a core ConfigMap (in another
// namespace only with a ReferenceGrant) whose ca.crt holds PEM CA
// certificates. ClusterTrustBundles (Extended, a feature of its own) are
// not read: they are an unsupported kind.
func (b *builder) caBundle(ref gwv1.ObjectReference, field string) (lb.CABundle, problem) {
	invalid := func(reason gwv1.ListenerConditionReason, msg string) (lb.CABundle, problem) {
		return lb.CABundle{}, problem{reason: string(reason), message: field + ": " + msg}
	}
	if ref.Group != "" || ref.Kind != "ConfigMap" {
		kind := string(ref.Kind)
		if ref.Group != "" {
			kind += "." + string(ref.Group)
		}
		return invalid(gwv1.ListenerReasonInvalidCACertificateKind,
			fmt.Sprintf("caCertificateRefs must name core ConfigMaps, not %s", quote(kind)))
	}
	ns := b.gw.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	name := ns + "/" + string(ref.Name)
	from := objRef{group: gwv1.GroupName, kind: "Gateway", namespace: b.gw.Namespace}
	to := objRef{group: "", kind: "ConfigMap", namespace: ns, name: string(ref.Name)}
	if !b.granted(from, to) {
		return invalid(gwv1.ListenerReasonRefNotPermitted,
			"caCertificateRef to ConfigMap "+name+" is not permitted by any ReferenceGrant")
	}
	cm := b.configMaps[key(ns, string(ref.Name))]
	if cm == nil {
		return invalid(gwv1.ListenerReasonInvalidCACertificateRef, "ConfigMap "+name+" not found")
	}
	data, ok := cm.Data[caCertificateKey]
	if !ok {
		var bin []byte
		bin, ok = cm.BinaryData[caCertificateKey]
		data = string(bin)
	}
	if !ok {
		return invalid(gwv1.ListenerReasonInvalidCACertificateRef, "ConfigMap "+name+" has no key "+caCertificateKey)
	}
	// Parsed by the model's own rule, so that the bundle is refused here,
	// on the listener, and never by a data plane.
	if _, err := lb.ParseCABundle([]byte(data)); err != nil {
		return invalid(gwv1.ListenerReasonInvalidCACertificateRef,
			"ConfigMap "+name+" does not hold PEM CA certificates in "+caCertificateKey)
	}
	return lb.CABundle{Name: name, PEM: []byte(data)}, problem{}
}

// insecureFrontendCondition is the Gateway's InsecureFrontendValidationMode
// condition when some listener that is served lets clients in without a
// valid certificate (mode AllowInsecureFallback), naming them; nil
// otherwise, and the reconciler then removes the condition, as the API asks
// once the mode is back to AllowValidOnly.
func insecureFrontendCondition(listeners []*listenerState, gen int64) *metav1.Condition {
	var names []string
	for _, l := range listeners {
		if l.valid() && l.clientValidation != nil && l.clientValidation.Mode == lb.ClientValidationAllowInsecureFallback {
			names = append(names, l.label())
		}
	}
	if len(names) == 0 {
		return nil
	}
	c := condition(string(gwv1.GatewayConditionInsecureFrontendValidationMode), string(gwv1.GatewayReasonConfigurationChanged), true,
		"Listeners let clients in without a valid certificate (AllowInsecureFallback): "+
			boundedList(names, ", ", maxMessageBytes), gen)
	return &c
}
