package mapping

import (
	"cmp"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// forwardResult is a rule's backendRefs resolved.
type forwardResult struct {
	// backends is the weighted forward, nil when nothing valid is left to
	// forward to (the rule then answers 500).
	backends []lb.WeightedBackend
	groups   []lb.TargetGroup
	// invalid makes the route not Accepted (a backendRef filter the
	// provider lacks); refs is the first reference that did not resolve.
	invalid problem
	refs    problem
	// rewrites are the backendRefs' URLRewrites, checked against the
	// rule's matches as a rule's own is (checkPathRewrite).
	rewrites []*lb.Rewrite
}

// forward resolves a rule's backendRefs into a weighted forward. An invalid
// reference keeps its share of traffic as a backend without target group
// (HTTP 500); with nothing valid to forward to the result has no backends.
func (b *builder) forward(kind routeKind, routeNamespace string, refs []gwv1.HTTPBackendRef) forwardResult {
	var res forwardResult
	add := func(w lb.WeightedBackend) {
		// Two references to one Service port with the same filters are one
		// backend with their weights summed; different filters keep them
		// apart, since each share must get its own modifiers.
		for i := range res.backends {
			x := &res.backends[i]
			if x.TargetGroup == w.TargetGroup && reflect.DeepEqual(x.RequestHeaders, w.RequestHeaders) &&
				reflect.DeepEqual(x.ResponseHeaders, w.ResponseHeaders) && reflect.DeepEqual(x.Rewrite, w.Rewrite) {
				x.Weight += w.Weight
				return
			}
		}
		res.backends = append(res.backends, w)
	}
	for _, ref := range refs {
		weight := int32(1)
		if ref.Weight != nil {
			weight = *ref.Weight
		}
		request, response, rewrite, bad := b.backendFilters(kind, ref.Filters)
		if res.invalid.ok() {
			res.invalid = bad
		}
		if rewrite != nil {
			res.rewrites = append(res.rewrites, rewrite)
		}
		tg, p := b.targetGroup(kind, routeNamespace, ref.BackendObjectReference, "")
		if !p.ok() && res.refs.ok() && !p.quiet {
			res.refs = p
		}
		if weight <= 0 {
			continue
		}
		if !p.ok() {
			// Filters of a backend that answers 500 have nothing to modify.
			add(lb.WeightedBackend{Weight: weight})
			continue
		}
		res.groups = appendGroup(res.groups, tg)
		add(lb.WeightedBackend{TargetGroup: tg.Name, Weight: weight, RequestHeaders: request, ResponseHeaders: response, Rewrite: rewrite})
	}

	valid := slices.ContainsFunc(res.backends, func(w lb.WeightedBackend) bool { return w.TargetGroup != "" })
	invalidShare := slices.ContainsFunc(res.backends, func(w lb.WeightedBackend) bool { return w.TargetGroup == "" })
	// No backendRefs, all weights 0, or every reference invalid: nothing
	// to forward to. And when the provider cannot split traffic to a 500
	// answer, failing all of the rule's traffic is the safe reading of "the
	// invalid share gets 500" (it never sends traffic a user meant to fail
	// to a backend).
	if !valid || invalidShare && !b.caps.InvalidBackendShare {
		res.backends, res.groups = nil, nil
	}
	return res
}

// appendGroup adds tg to groups unless a group of that name is there.
func appendGroup(groups []lb.TargetGroup, tg lb.TargetGroup) []lb.TargetGroup {
	if slices.ContainsFunc(groups, func(g lb.TargetGroup) bool { return g.Name == tg.Name }) {
		return groups
	}
	return append(groups, tg)
}

// targetGroup resolves one backend reference of a route of kind to a
// Service port and its ready endpoints. what prefixes "backendRef" in
// messages ("mirror " for a RequestMirror's backend).
func (b *builder) targetGroup(kind routeKind, routeNamespace string, ref gwv1.BackendObjectReference, what string) (lb.TargetGroup, problem) {
	fail := func(reason gwv1.RouteConditionReason, msg string) (lb.TargetGroup, problem) {
		return lb.TargetGroup{}, problem{reason: string(reason), message: msg}
	}
	if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Service") {
		return fail(gwv1.RouteReasonInvalidKind, what+"backendRefs must name core Services")
	}
	ns := routeNamespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	name := ns + "/" + string(ref.Name)
	from := objRef{group: gwv1.GroupName, kind: string(kind), namespace: routeNamespace}
	to := objRef{group: "", kind: "Service", namespace: ns, name: string(ref.Name)}
	if !b.granted(from, to) {
		return fail(gwv1.RouteReasonRefNotPermitted, what+"backendRef to Service "+name+" is not permitted by any ReferenceGrant")
	}
	svc := b.service(key(ns, string(ref.Name)))
	if svc == nil {
		return fail(gwv1.RouteReasonBackendNotFound, "Service "+name+" not found")
	}
	if ref.Port == nil {
		return fail(gwv1.RouteReasonBackendNotFound, what+"backendRef to Service "+name+" needs a port")
	}
	// A Service may list one port number twice, for TCP and for UDP (DNS
	// on 53): a UDPRoute takes the UDP entry, every other route the TCP
	// one, and the first entry of the number is the fallback (whose
	// protocol streamBackendProtocol then judges).
	transport := corev1.ProtocolTCP
	if kind == kindUDPRoute {
		transport = corev1.ProtocolUDP
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.Port != *ref.Port {
			continue
		}
		if sp == nil {
			sp = p
		}
		if p.Protocol == transport || p.Protocol == "" && transport == corev1.ProtocolTCP {
			sp = p
			break
		}
	}
	if sp == nil {
		return fail(gwv1.RouteReasonBackendNotFound, fmt.Sprintf("Service %s has no port %d", name, *ref.Port))
	}
	tgName := fmt.Sprintf("%s:%d", name, *ref.Port)
	// A BackendTLSPolicy applies to HTTPRoute, GRPCRoute and TLSRoute
	// backends (the API's Extended support); one that cannot be applied
	// keeps the backend from being connected to at all, since sending in
	// the clear what the user asked to encrypt is worse than a 500.
	var tls *lb.BackendTLS
	if kind != kindTCPRoute && kind != kindUDPRoute {
		var targeted bool
		if tls, targeted = b.backendTLS(svc, sp); targeted && tls == nil {
			return lb.TargetGroup{}, problem{reason: "BackendTLSPolicyNotApplied", quiet: true}
		}
	}
	if kind.stream() {
		proto, p := b.streamBackendProtocol(kind, name, sp)
		if !p.ok() {
			return lb.TargetGroup{}, p
		}
		// Its own group, named by protocol, so a Service port that
		// HTTPRoutes also use keeps its HTTP group apart.
		return lb.TargetGroup{
			Name:     tgName + "/" + strings.ToLower(string(proto)),
			Protocol: proto,
			Targets:  b.targets(key(ns, svc.Name), sp.Name),
			TLS:      tls,
		}, problem{}
	}
	proto, known := backendProtocol(sp.AppProtocol, tls != nil)
	if kind == kindGRPCRoute {
		proto, known = grpcBackendProtocol(sp.AppProtocol, tls != nil)
		// Its own group: the HTTPRoutes' group of the same port may speak
		// HTTP/1.1, and providers may health-check gRPC groups differently.
		tgName += "/grpc"
	}
	switch {
	case !known && kind == kindGRPCRoute:
		return fail(gwv1.RouteReasonUnsupportedProtocol, fmt.Sprintf(
			"Service %s port %d has appProtocol %s; GRPCRoute backends must speak HTTP/2 "+
				"(appProtocol unset, http, grpc or kubernetes.io/h2c; https with a BackendTLSPolicy)", name, *ref.Port, *sp.AppProtocol))
	case !known:
		return fail(gwv1.RouteReasonUnsupportedProtocol, fmt.Sprintf(
			"Service %s port %d has appProtocol %s; only HTTP, kubernetes.io/ws and kubernetes.io/h2c backends are supported "+
				"(https, kubernetes.io/wss: with a BackendTLSPolicy)",
			name, *ref.Port, *sp.AppProtocol))
	case proto != lb.ProtocolHTTP && !b.caps.BackendProtocols[proto] && kind == kindGRPCRoute:
		return fail(gwv1.RouteReasonUnsupportedProtocol, fmt.Sprintf(
			"Service %s port %d: GRPCRoute backends need H2C, which provider %s does not support", name, *ref.Port, b.caps.Provider))
	case proto != lb.ProtocolHTTP && !b.caps.BackendProtocols[proto]:
		return fail(gwv1.RouteReasonUnsupportedProtocol, fmt.Sprintf(
			"Service %s port %d has appProtocol %s, which provider %s does not support", name, *ref.Port, *sp.AppProtocol, b.caps.Provider))
	}
	return lb.TargetGroup{
		Name:     tgName,
		Protocol: proto,
		Targets:  b.targets(key(ns, svc.Name), sp.Name),
		TLS:      tls,
	}, problem{}
}

// backendProtocol maps a Service port's appProtocol to how the load
// balancer talks to it, and says whether Cloudgate knows it at all. Plain
// HTTP/1.1 is what every provider speaks to backends, so it needs no
// capability; WebSocket is an HTTP/1.1 upgrade and rides an HTTP target
// group (the model's contract); H2C needs the provider to list it.
// With a BackendTLSPolicy (tls), whose TLS wraps the group's protocol,
// https and kubernetes.io/wss are HTTP too; without one they are unknown,
// as is anything else.
func backendProtocol(appProtocol *string, tls bool) (lb.Protocol, bool) {
	if appProtocol == nil {
		return lb.ProtocolHTTP, true
	}
	switch strings.ToLower(*appProtocol) {
	case "http", "kubernetes.io/ws":
		return lb.ProtocolHTTP, true
	case "https", "kubernetes.io/wss":
		return lb.ProtocolHTTP, tls
	case "kubernetes.io/h2c":
		return lb.ProtocolH2C, true
	}
	return "", false
}

// grpcBackendProtocol is backendProtocol for GRPCRoute backends: gRPC
// needs HTTP/2, so every cleartext HTTP appProtocol (and none, as the API
// lets an implementation infer the protocol from the route's kind) gets an
// H2C target group (HTTP/2 over TLS with a BackendTLSPolicy, which also
// takes https). kubernetes.io/ws promises an HTTP/1.1 server, so it is
// unknown.
func grpcBackendProtocol(appProtocol *string, tls bool) (lb.Protocol, bool) {
	if appProtocol == nil {
		return lb.ProtocolH2C, true
	}
	switch strings.ToLower(*appProtocol) {
	case "http", "grpc", "kubernetes.io/h2c":
		return lb.ProtocolH2C, true
	case "https":
		return lb.ProtocolH2C, tls
	}
	return "", false
}

// targets lists the ready endpoints of a Service port from its
// EndpointSlices, matched by port name as kube-proxy does. This also works
// for headless Services with hand-made EndpointSlices.
func (b *builder) targets(svc types.NamespacedName, portName string) []lb.Target {
	var out []lb.Target
	for _, es := range b.endpointSlices(svc) {
		if es.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		var port *int32
		for _, p := range es.Ports {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			if name == portName && p.Port != nil {
				port = p.Port
				break
			}
		}
		// The API server checks ports and addresses of EndpointSlices, but
		// a hand-made slice stored otherwise must not hand a provider a
		// target it refuses for the whole target group.
		if port == nil || *port < 1 || *port > 65535 {
			continue
		}
		for _, ep := range es.Endpoints {
			// Ready unset means ready (EndpointSlice API contract).
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			zone, node := "", ""
			if ep.Zone != nil {
				zone = *ep.Zone
			}
			if ep.NodeName != nil {
				node = *ep.NodeName
			}
			for _, ip := range ep.Addresses {
				if a, err := netip.ParseAddr(ip); err == nil {
					out = append(out, lb.Target{IP: a.String(), Port: *port, Zone: zone, Node: node})
				}
			}
		}
	}
	// The same address may sit in two slices while they are being updated,
	// and then the two may report different zones (one written before the
	// node had its zone label). IP:port is what a target is, so it is kept
	// once, with the first zone in this order: a known zone before none,
	// then by name (and likewise its node). That choice depends on the zones only, never on the
	// order of the slices.
	unknown := func(z string) int {
		if z == "" {
			return 1
		}
		return 0
	}
	slices.SortFunc(out, func(x, y lb.Target) int {
		return cmp.Or(cmp.Compare(x.IP, y.IP), cmp.Compare(x.Port, y.Port),
			cmp.Compare(unknown(x.Zone), unknown(y.Zone)), cmp.Compare(x.Zone, y.Zone),
			cmp.Compare(unknown(x.Node), unknown(y.Node)), cmp.Compare(x.Node, y.Node))
	})
	return slices.CompactFunc(out, func(x, y lb.Target) bool { return x.IP == y.IP && x.Port == y.Port })
}
