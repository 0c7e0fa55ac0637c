package mapping

import (
	"crypto/tls"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// listenerState is what Build learned about one Gateway listener.
type listenerState struct {
	spec     gwv1.Listener
	hostname string
	protocol lb.Protocol
	// terminate is set on HTTPS listeners and on TLS listeners in mode
	// Terminate: they need certificates.
	terminate bool
	accepted  problem // set: Accepted=False with this reason
	conflict  problem // set: Conflicted=True with this reason
	// overlapTLS is set when another listener on the port terminates TLS
	// for an overlapping hostname (OverlappingTLSConfig=True).
	overlapTLS bool
	refs       problem // set: ResolvedRefs=False with this reason
	kinds      []gwv1.RouteGroupKind
	certs      []lb.Certificate
	// clientValidation is the client certificate validation of an HTTPS
	// listener's port (spec.tls.frontend), nil for none.
	clientValidation *lb.ClientValidation
	attached         int32
	// set is the ListenerSet the listener comes from, nil for the
	// Gateway's own.
	set *listenerSet
}

// valid listeners take routes: accepted and distinct from the others.
func (l *listenerState) valid() bool { return l.accepted.ok() && l.conflict.ok() }

// programmable listeners go into the model: valid, and those that
// terminate TLS need at least one usable certificate.
func (l *listenerState) programmable() bool {
	return l.valid() && (!l.terminate || len(l.certs) > 0)
}

// stream says whether the listener carries Streams (TCP, UDP, TLS) rather
// than VirtualHosts.
func (l *listenerState) stream() bool { return isStreamProtocol(l.protocol) }

func isStreamProtocol(p lb.Protocol) bool {
	return p == lb.ProtocolTCP || p == lb.ProtocolUDP || p == lb.ProtocolTLS
}

func (b *builder) evaluateListeners() []*listenerState {
	out := make([]*listenerState, 0, len(b.gw.Spec.Listeners))
	for _, spec := range b.gw.Spec.Listeners {
		out = append(out, b.evaluateListener(spec, nil))
	}
	if b.caps.TLSIgnoresServerName {
		refuseMixedTLSModes(out, b.caps.Provider)
	}
	markConflicts(out, b.caps.TCPUDPSharedPort)
	// The allowed ListenerSets' listeners come after the Gateway's own,
	// in the precedence the API gives them (listenersets.go).
	out = b.appendSetListeners(out)
	b.fitCertificates(out)
	markOverlappingTLS(out)
	return out
}

// evaluateListener judges one listener on its own, the Gateway's (set
// nil) or a ListenerSet's; conflicts with the others come after.
func (b *builder) evaluateListener(spec gwv1.Listener, set *listenerSet) *listenerState {
	l := &listenerState{spec: spec, set: set}
	l.protocol, l.terminate, l.accepted = b.listenerProtocol(spec)
	// TCP and UDP have no hostnames: upstream says a listener's hostname
	// is ignored for protocols that do not match on one.
	if spec.Hostname != nil && spec.Protocol != gwv1.TCPProtocolType && spec.Protocol != gwv1.UDPProtocolType {
		l.hostname = strings.ToLower(string(*spec.Hostname))
		if p := hostnameProblem(l.hostname, true); p != "" && l.accepted.ok() {
			l.accepted = problem{reason: string(gwv1.ListenerReasonUnsupportedValue), message: "hostname: " + p}
		}
	}
	// Listener filters (v1.7, experimental) run before routing, as
	// ExternalAuth does: serving the listener without them would skip
	// what they enforce.
	if spec.Filters != nil && len(spec.Filters.Requests) > 0 && l.accepted.ok() {
		l.accepted = problem{reason: string(gwv1.ListenerReasonUnsupportedValue),
			message: fmt.Sprintf("listener filters are not supported by provider %s", b.caps.Provider)}
	}
	if l.accepted.ok() {
		var kindProblem problem
		l.kinds, kindProblem = b.supportedKinds(spec, l.protocol)
		if l.terminate {
			l.certs, l.refs = b.listenerCerts(spec, b.certificateOwner(set))
		}
		// The Gateway's frontend validation applies to listeners
		// "handling HTTPS traffic": HTTPS ones, not TLS in mode
		// Terminate. It is per port, so a ListenerSet's HTTPS listener
		// gets its port's too.
		if l.protocol == lb.ProtocolHTTPS {
			var accepted, refs problem
			l.clientValidation, accepted, refs = b.clientValidation(spec)
			if !accepted.ok() {
				l.accepted = accepted
			}
			if l.refs.ok() {
				l.refs = refs
			}
		}
		if l.refs.ok() {
			l.refs = kindProblem
		}
	}
	return l
}

// listenerProtocol maps the listener's protocol and says whether it
// terminates TLS, or says why it cannot be served.
func (b *builder) listenerProtocol(spec gwv1.Listener) (lb.Protocol, bool, problem) {
	unsupported := func(msg string) (lb.Protocol, bool, problem) {
		return "", false, problem{reason: string(gwv1.ListenerReasonUnsupportedProtocol), message: msg}
	}
	if spec.Port < 1 || spec.Port > 65535 {
		return "", false, problem{reason: string(gwv1.ListenerReasonUnsupportedValue), message: "port must be between 1 and 65535"}
	}
	// The API server defaults tls.mode to Terminate.
	mode := gwv1.TLSModeTerminate
	if spec.TLS != nil && spec.TLS.Mode != nil {
		mode = *spec.TLS.Mode
	}
	var p lb.Protocol
	terminate := false
	switch spec.Protocol {
	case gwv1.HTTPProtocolType:
		p = lb.ProtocolHTTP
	case gwv1.HTTPSProtocolType:
		if mode != gwv1.TLSModeTerminate {
			return unsupported("HTTPS listeners support only TLS mode Terminate")
		}
		p, terminate = lb.ProtocolHTTPS, true
	case gwv1.TLSProtocolType:
		p = lb.ProtocolTLS
		switch mode {
		case gwv1.TLSModePassthrough:
		case gwv1.TLSModeTerminate:
			// UnsupportedValue rather than UnsupportedProtocol: the protocol
			// is served, the mode is not (what the TLSRoute conformance
			// tests expect of a provider without termination).
			if b.caps.Protocols[p] && !b.caps.TLSTerminate {
				return "", false, problem{reason: string(gwv1.ListenerReasonUnsupportedValue),
					message: fmt.Sprintf("TLS mode Terminate is not supported by provider %s", b.caps.Provider)}
			}
			terminate = true
		default:
			return "", false, problem{reason: string(gwv1.ListenerReasonUnsupportedValue),
				message: fmt.Sprintf("TLS mode %s is not supported", mode)}
		}
	case gwv1.TCPProtocolType:
		p = lb.ProtocolTCP
	case gwv1.UDPProtocolType:
		p = lb.ProtocolUDP
	default:
		return unsupported(fmt.Sprintf("protocol %s is not supported: Cloudgate serves HTTP, HTTPS, TLS, TCP and UDP listeners", spec.Protocol))
	}
	if !b.caps.Protocols[p] {
		return unsupported(fmt.Sprintf("protocol %s is not supported by provider %s", p, b.caps.Provider))
	}
	return p, terminate, problem{}
}

// supportedKinds returns the route kinds the listener takes, and a
// problem when allowedRoutes.kinds asks for others. HTTP and HTTPS
// listeners take HTTPRoutes, and GRPCRoutes where the provider carries
// gRPC on that protocol. Upstream would have a listener that cannot speak
// HTTP/2 refuse GRPCRoutes by being not Accepted at all; leaving GRPCRoute
// out of supportedKinds keeps its HTTPRoutes served and still tells users,
// through InvalidRouteKinds when they ask for GRPCRoute explicitly.
// TLS, TCP and UDP listeners take only TLSRoutes, TCPRoutes and UDPRoutes:
// the TLSRoute conformance tests want a TLS listener that lists TCPRoute
// to report InvalidRouteKinds.
func (b *builder) supportedKinds(spec gwv1.Listener, p lb.Protocol) ([]gwv1.RouteGroupKind, problem) {
	var available map[routeKind]bool
	switch p {
	case lb.ProtocolTLS:
		available = map[routeKind]bool{kindTLSRoute: true}
	case lb.ProtocolTCP:
		available = map[routeKind]bool{kindTCPRoute: true}
	case lb.ProtocolUDP:
		available = map[routeKind]bool{kindUDPRoute: true}
	default:
		available = map[routeKind]bool{kindHTTPRoute: true, kindGRPCRoute: b.caps.GRPC[p]}
	}
	wanted := map[routeKind]bool{}
	var bad problem
	if spec.AllowedRoutes == nil || len(spec.AllowedRoutes.Kinds) == 0 {
		wanted = available
	}
	if spec.AllowedRoutes != nil {
		for _, k := range spec.AllowedRoutes.Kinds {
			kind := routeKind(k.Kind)
			inGroup := k.Group == nil || *k.Group == gwv1.GroupName
			switch {
			case inGroup && available[kind]:
				wanted[kind] = true
			case inGroup && kind == kindGRPCRoute && (p == lb.ProtocolHTTP || p == lb.ProtocolHTTPS):
				bad = problem{reason: string(gwv1.ListenerReasonInvalidRouteKinds),
					message: fmt.Sprintf("allowedRoutes.kinds names GRPCRoute, which provider %s cannot carry on %s listeners", b.caps.Provider, p)}
			default:
				bad = problem{reason: string(gwv1.ListenerReasonInvalidRouteKinds),
					message: fmt.Sprintf("allowedRoutes.kinds names kinds that %s listeners do not take", spec.Protocol)}
			}
		}
	}
	// In a fixed order, whatever order allowedRoutes lists them in.
	var kinds []gwv1.RouteGroupKind
	for _, k := range routeKinds {
		if wanted[k] && available[k] {
			group := gwv1.Group(gwv1.GroupName)
			kinds = append(kinds, gwv1.RouteGroupKind{Group: &group, Kind: gwv1.Kind(k)})
		}
	}
	return kinds, bad
}

// allows says whether the listener takes routes of kind.
func (l *listenerState) allows(kind routeKind) bool {
	for _, k := range l.kinds {
		if routeKind(k.Kind) == kind {
			return true
		}
	}
	return false
}

// listenerCerts resolves the certificateRefs of a listener that terminates
// TLS (HTTPS, or TLS in mode Terminate). Any bad reference makes
// ResolvedRefs False; the good ones are still served.
//
// The parameters' certificate references (aws.certificateARNs,
// gcp.sslCertificates) follow, when the provider serves their kind
// (Capabilities.CertificateRefs); a listener with them needs no
// certificateRefs (the API lets tls.options stand in). References of a
// kind the provider cannot serve make ResolvedRefs False, naming the
// field and the provider: they are left out, never sent to the cloud.
func (b *builder) listenerCerts(spec gwv1.Listener, owner objRef) ([]lb.Certificate, problem) {
	var certs []lb.Certificate
	var first problem
	note := func(p problem) {
		if first.ok() {
			first = p
		}
	}
	seen := map[string]bool{}
	add := func(c lb.Certificate) {
		if !seen[c.Name] {
			seen[c.Name] = true
			certs = append(certs, c)
		}
	}
	var refs []gwv1.SecretObjectReference
	if spec.TLS != nil {
		refs = spec.TLS.CertificateRefs
	}
	for _, ref := range refs {
		c, p := b.certificate(ref, owner)
		if !p.ok() {
			note(p)
			continue
		}
		add(c)
	}
	fromParams := false
	var unusable []string
	for _, r := range b.certRefs {
		if !b.caps.CertificateRefs[r.kind] {
			unusable = append(unusable, r.field)
			continue
		}
		for _, id := range r.ids {
			add(lb.Certificate{Name: id, Ref: &lb.CertificateRef{Kind: r.kind, ID: id}})
		}
		fromParams = true
	}
	if len(unusable) > 0 {
		note(problem{reason: string(gwv1.ListenerReasonInvalidCertificateRef), message: fmt.Sprintf(
			"certificates from the parameters' %s are not supported by provider %s", strings.Join(unusable, " and "), b.caps.Provider)})
	}
	if len(refs) == 0 && !fromParams && first.ok() {
		return nil, problem{reason: string(gwv1.ListenerReasonInvalidCertificateRef),
			message: fmt.Sprintf("%s listener that terminates TLS needs tls.certificateRefs", spec.Protocol)}
	}
	return certs, first
}

// owner is the Gateway or ListenerSet the listener is written in: a
// reference without a namespace is to its namespace, and one to another
// namespace needs a ReferenceGrant from its kind.
func (b *builder) certificate(ref gwv1.SecretObjectReference, owner objRef) (lb.Certificate, problem) {
	invalid := func(msg string) (lb.Certificate, problem) {
		return lb.Certificate{}, problem{reason: string(gwv1.ListenerReasonInvalidCertificateRef), message: msg}
	}
	if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
		return invalid("certificateRefs must name core Secrets")
	}
	ns := owner.namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	name := ns + "/" + string(ref.Name)
	to := objRef{group: "", kind: "Secret", namespace: ns, name: string(ref.Name)}
	if !b.granted(owner, to) {
		return lb.Certificate{}, problem{reason: string(gwv1.ListenerReasonRefNotPermitted),
			message: "certificateRef to Secret " + name + " is not permitted by any ReferenceGrant"}
	}
	s := b.secrets[key(ns, string(ref.Name))]
	switch {
	case s == nil:
		return invalid("Secret " + name + " not found")
	case s.Type != corev1.SecretTypeTLS:
		return invalid("Secret " + name + " is not of type kubernetes.io/tls")
	}
	crt, keyPEM := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	// Parsed here so a broken Secret is reported on the listener instead of
	// failing in the cloud; X509KeyPair reads no clock, expiry is not judged.
	if _, err := tls.X509KeyPair(crt, keyPEM); err != nil {
		return invalid("Secret " + name + " does not hold a valid certificate and key in tls.crt and tls.key")
	}
	return lb.Certificate{Name: name, CertPEM: crt, KeyPEM: keyPEM}, problem{}
}

// refuseMixedTLSModes refuses, as ProtocolConflict, the TLS listeners of
// a port that has both a Passthrough and a Terminate one, for a provider
// whose TLS listeners cannot tell connections apart by server name: one
// port is one listener that either terminates or does not. This is what
// the Gateway API asks of an implementation without TLSRouteModeMixed
// (Accepted=False, no supported kinds), which such a provider does not
// claim.
func refuseMixedTLSModes(ls []*listenerState, provider string) {
	modes := map[int32]map[bool]bool{}
	for _, l := range ls {
		if l.accepted.ok() && l.protocol == lb.ProtocolTLS {
			if modes[l.spec.Port] == nil {
				modes[l.spec.Port] = map[bool]bool{}
			}
			modes[l.spec.Port][l.terminate] = true
		}
	}
	for _, l := range ls {
		if l.accepted.ok() && l.protocol == lb.ProtocolTLS && len(modes[l.spec.Port]) == 2 {
			l.accepted = problem{reason: string(gwv1.ListenerReasonProtocolConflict), message: fmt.Sprintf(
				"TLS listeners in modes Passthrough and Terminate share this port, and provider %s's TLS listeners cannot tell connections apart by server name: a port either terminates TLS or passes it through", provider)}
			l.kinds = nil
		}
	}
}

// markConflicts applies the distinctness rules to accepted listeners (an
// unsupported listener is not served, so it conflicts with nothing): on one
// port all must speak the same protocol, and with the same protocol their
// hostnames must differ. Every indistinct listener is conflicted; none wins.
//
// Upstream leaves it to implementations whether TCP and UDP (or HTTPS and
// TLS) listeners may share a port number ("compatible" listeners); the lb
// model has one Listener, of one protocol, per port, so they conflict
// (ProtocolConflict), except that a TCP and a UDP listener share one when
// the provider says it can (sharedTCPUDP, Capabilities.TCPUDPSharedPort):
// the model then has both. TLS listeners in modes Passthrough and Terminate do
// share a port: certificates are per Stream. TCP and UDP listeners are told
// apart by port alone, so two on one port conflict whatever their
// hostnames; that is reported as ProtocolConflict too, since HostnameConflict
// would name a field these protocols ignore.
func markConflicts(ls []*listenerState, sharedTCPUDP bool) {
	byPort := map[int32][]*listenerState{}
	for _, l := range ls {
		if l.accepted.ok() {
			byPort[l.spec.Port] = append(byPort[l.spec.Port], l)
		}
	}
	for _, group := range byPort {
		protocols := map[lb.Protocol]bool{}
		hosts := map[string]int{}
		for _, l := range group {
			protocols[l.protocol] = true
			hosts[l.hostname]++
		}
		if sharedTCPUDP && len(protocols) == 2 && protocols[lb.ProtocolTCP] && protocols[lb.ProtocolUDP] {
			// Two ports in one: each protocol's listeners are told apart
			// as if alone on it.
			perProtocol := map[lb.Protocol]int{}
			for _, l := range group {
				perProtocol[l.protocol]++
			}
			for _, l := range group {
				if perProtocol[l.protocol] > 1 {
					l.conflict = problem{reason: string(gwv1.ListenerReasonProtocolConflict),
						message: fmt.Sprintf("another %s listener uses the same port", l.protocol)}
				}
			}
			continue
		}
		for _, l := range group {
			switch {
			case len(protocols) > 1:
				l.conflict = problem{reason: string(gwv1.ListenerReasonProtocolConflict),
					message: "another listener on the same port uses a different protocol"}
			case (l.protocol == lb.ProtocolTCP || l.protocol == lb.ProtocolUDP) && len(group) > 1:
				l.conflict = problem{reason: string(gwv1.ListenerReasonProtocolConflict),
					message: fmt.Sprintf("another %s listener uses the same port", l.protocol)}
			case hosts[l.hostname] > 1:
				l.conflict = problem{reason: string(gwv1.ListenerReasonHostnameConflict),
					message: "another listener on the same port and protocol has the same hostname"}
			}
		}
	}
}

// markOverlappingTLS applies the OverlappingTLSConfig rule: listeners on one
// port that terminate TLS (HTTPS, TLS in mode Terminate) with overlapping
// hostnames ("*.example.com" and "foo.example.com", two equal ones, or one
// without hostname, which overlaps every other) all get the condition, as
// upstream requires. A client that coalesces connections may then send a
// request for one listener over a connection set up with the other's
// certificate. Only hostnames are compared (reason OverlappingHostnames);
// upstream lets implementations skip OverlappingCertificates, which would
// need every certificate's SANs parsed. Listeners that are not accepted
// are served by nobody and overlap nothing.
func markOverlappingTLS(ls []*listenerState) {
	for i, a := range ls {
		for _, b := range ls[i+1:] {
			if a.terminate && b.terminate && a.accepted.ok() && b.accepted.ok() && a.spec.Port == b.spec.Port &&
				(covers(a.hostname, b.hostname) || covers(b.hostname, a.hostname)) {
				a.overlapTLS, b.overlapTLS = true, true
			}
		}
	}
}

func (l *listenerState) status(gen int64, gatewayAccepted bool) gwv1.ListenerStatus {
	st := gwv1.ListenerStatus{
		Name:           l.spec.Name,
		SupportedKinds: l.kinds,
		AttachedRoutes: l.attached,
	}
	if st.SupportedKinds == nil {
		st.SupportedKinds = []gwv1.RouteGroupKind{}
	}
	accepted := condition(string(gwv1.ListenerConditionAccepted), string(gwv1.ListenerReasonAccepted), true, "Listener is accepted", gen)
	if !l.accepted.ok() {
		accepted = condition(string(gwv1.ListenerConditionAccepted), l.accepted.reason, false, l.accepted.message, gen)
	}
	conflicted := condition(string(gwv1.ListenerConditionConflicted), string(gwv1.ListenerReasonNoConflicts), false, "Listener has no conflicts", gen)
	if !l.conflict.ok() {
		conflicted = condition(string(gwv1.ListenerConditionConflicted), l.conflict.reason, true, l.conflict.message, gen)
	}
	resolved := condition(string(gwv1.ListenerConditionResolvedRefs), string(gwv1.ListenerReasonResolvedRefs), true, "All references are resolved", gen)
	if !l.refs.ok() {
		resolved = condition(string(gwv1.ListenerConditionResolvedRefs), l.refs.reason, false, l.refs.message, gen)
	}
	programmed := condition(string(gwv1.ListenerConditionProgrammed), string(gwv1.ListenerReasonProgrammed), true, "Listener is ready to program", gen)
	switch {
	case !gatewayAccepted:
		programmed = condition(string(gwv1.ListenerConditionProgrammed), string(gwv1.ListenerReasonInvalid), false, "Gateway is not accepted", gen)
	case !l.valid():
		programmed = condition(string(gwv1.ListenerConditionProgrammed), string(gwv1.ListenerReasonInvalid), false, "Listener is not valid", gen)
	case !l.programmable():
		programmed = condition(string(gwv1.ListenerConditionProgrammed), string(gwv1.ListenerReasonInvalid), false, "Listener terminates TLS but has no usable certificate", gen)
	}
	st.Conditions = []metav1.Condition{accepted, conflicted, programmed, resolved}
	// A negative-polarity condition: present only when True.
	if l.overlapTLS {
		st.Conditions = append(st.Conditions, condition(string(gwv1.ListenerConditionOverlappingTLSConfig),
			string(gwv1.ListenerReasonOverlappingHostnames), true,
			"Another listener on this port terminates TLS for an overlapping hostname", gen))
	}
	return st
}
