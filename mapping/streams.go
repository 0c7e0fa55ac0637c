package mapping

import (
	"cmp"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// TLSRoutes, TCPRoutes and UDPRoutes carry connections, not requests: each
// has one rule without matches, which becomes an lb.Stream. Attachment,
// ReferenceGrants, backends and status go through the same kind-neutral
// code as HTTPRoute; only the rule conversion here and the assembly of a
// listener's Streams (streams) are their own.

// stream says whether routes of the kind become Streams.
func (k routeKind) stream() bool {
	return k == kindTLSRoute || k == kindTCPRoute || k == kindUDPRoute
}

func tcpRoute(r *gwv1.TCPRoute) *route {
	rules := make([][]gwv1.BackendRef, 0, len(r.Spec.Rules))
	for _, rule := range r.Spec.Rules {
		rules = append(rules, rule.BackendRefs)
	}
	rt := streamRoute(kindTCPRoute, r.Namespace, r.Name, r.Generation, r.CreationTimestamp, r.Spec.ParentRefs, nil, rules)
	var e valueErrors
	validateStreamWeights(&e, rules)
	rt.values = e.problem()
	return rt
}

func udpRoute(r *gwv1.UDPRoute) *route {
	rules := make([][]gwv1.BackendRef, 0, len(r.Spec.Rules))
	for _, rule := range r.Spec.Rules {
		rules = append(rules, rule.BackendRefs)
	}
	rt := streamRoute(kindUDPRoute, r.Namespace, r.Name, r.Generation, r.CreationTimestamp, r.Spec.ParentRefs, nil, rules)
	var e valueErrors
	validateStreamWeights(&e, rules)
	rt.values = e.problem()
	return rt
}

func tlsRoute(r *gwv1.TLSRoute) *route {
	rules := make([][]gwv1.BackendRef, 0, len(r.Spec.Rules))
	for _, rule := range r.Spec.Rules {
		rules = append(rules, rule.BackendRefs)
	}
	rt := streamRoute(kindTLSRoute, r.Namespace, r.Name, r.Generation, r.CreationTimestamp, r.Spec.ParentRefs,
		routeHostnames(r.Spec.Hostnames), rules)
	// Hostnames become SNI patterns; weights split connections.
	var e valueErrors
	validateHostnames(&e, r.Spec.Hostnames)
	validateStreamWeights(&e, rules)
	rt.values = e.problem()
	return rt
}

// validateStreamWeights checks the weights of a stream route's backendRefs,
// which the CRD bounds less tightly than objects written through older
// versions may be.
func validateStreamWeights(e *valueErrors, rules [][]gwv1.BackendRef) {
	for i, refs := range rules {
		for j, r := range refs {
			validateWeight(e, fmt.Sprintf("spec.rules[%d].backendRefs[%d]", i, j), r.Weight)
		}
	}
}

// streamRoute builds the kind-neutral route of a TLSRoute, TCPRoute or
// UDPRoute from what the three share: parentRefs, hostnames (TLSRoute
// only) and the backendRefs of each rule.
func streamRoute(kind routeKind, namespace, name string, generation int64, created metav1.Time,
	parents []gwv1.ParentReference, hostnames []string, rules [][]gwv1.BackendRef) *route {
	return &route{
		kind:       kind,
		key:        key(namespace, name),
		generation: generation,
		created:    created,
		parentRefs: parents,
		hostnames:  hostnames,
		rules: func(b *builder) []ruleResult {
			return b.convertStreamRules(kind, namespace, rules)
		},
	}
}

// convertStreamRules resolves the backendRefs of a stream route's rules.
// v1 allows exactly one rule, but objects written through the v1alpha2
// API (which allows 16) read back as v1 with all of theirs. Rules without
// matches cannot share a listener's connections by anything but weight,
// which the user did not write, so a route with several is not accepted
// rather than served by a guess.
func (b *builder) convertStreamRules(kind routeKind, routeNamespace string, rules [][]gwv1.BackendRef) []ruleResult {
	out := make([]ruleResult, len(rules))
	for i, refs := range rules {
		if i > 0 {
			out[i].invalidate(unsupportedValue("a %s may have only one rule", kind))
		}
		// The HTTP form carries every field of a BackendRef; no filters
		// means none to check.
		httpRefs := make([]gwv1.HTTPBackendRef, 0, len(refs))
		for _, r := range refs {
			httpRefs = append(httpRefs, gwv1.HTTPBackendRef{BackendRef: r})
		}
		fw := b.forward(kind, routeNamespace, httpRefs)
		out[i].invalidate(fw.invalid)
		out[i].unresolved(fw.refs)
		out[i].invalidate(b.targetGroupLimit(fw.backends))
		// No backends (none valid, or an invalid share the provider
		// cannot split off) leaves a Stream that closes every connection,
		// as the API asks.
		out[i].state.action.Forward = fw.backends
		out[i].state.groups = fw.groups
	}
	return out
}

// streamBackendProtocol is the target group protocol for a stream
// route's backend: UDP for UDPRoutes, TCP for TCPRoutes and TLSRoutes
// (passthrough and terminated TLS both forward a byte stream). The Service
// port must speak that transport: a UDPRoute to a TCP port would send
// datagrams nothing listens for. appProtocol does not matter at layer 4.
func (b *builder) streamBackendProtocol(kind routeKind, name string, sp *corev1.ServicePort) (lb.Protocol, problem) {
	want, transport := lb.ProtocolTCP, corev1.ProtocolTCP
	if kind == kindUDPRoute {
		want, transport = lb.ProtocolUDP, corev1.ProtocolUDP
	}
	have := sp.Protocol
	if have == "" {
		have = corev1.ProtocolTCP // the API server's default
	}
	if have != transport {
		return "", problem{reason: string(gwv1.RouteReasonUnsupportedProtocol), message: fmt.Sprintf(
			"Service %s port %d has protocol %s; %s backends need %s", name, sp.Port, have, kind, transport)}
	}
	if !b.caps.BackendProtocols[want] {
		return "", problem{reason: string(gwv1.RouteReasonUnsupportedProtocol), message: fmt.Sprintf(
			"%s backends need %s target groups, which provider %s does not support", kind, want, b.caps.Provider)}
	}
	return want, problem{}
}

// olderFirst orders routes by age, then by "{namespace}/{name}": the
// "oldest wins" order upstream prescribes for conflicts.
func olderFirst(x, y *route) int {
	return cmp.Or(x.created.Time.Compare(y.created.Time), compareRouteNames(x, y))
}

// compareRouteNames is upstream's last tie-break, "alphabetical order
// (namespace/name)": it compares the string "{namespace}/{name}", so
// "foo-bar/r" ('-' sorts before '/') comes before "foo/r", which comparing
// namespaces first would put the other way.
//
// It compares without building the two strings: it runs once per pair of
// entries a sort compares, thousands of times per Build.
func compareRouteNames(x, y *route) int {
	xn, yn := x.key.Namespace, y.key.Namespace
	if xn == yn {
		return cmp.Compare(x.key.Name, y.key.Name)
	}
	n := min(len(xn), len(yn))
	if c := cmp.Compare(xn[:n], yn[:n]); c != 0 {
		return c
	}
	// One namespace is a prefix of the other: the shorter one goes on
	// with the '/', the longer with its next byte. A namespace is a DNS
	// label and holds no '/', so the two differ there.
	if len(xn) < len(yn) {
		return cmp.Compare('/', yn[n])
	}
	return cmp.Compare(xn[n], '/')
}

// streams assembles the Streams of one port's lb.Listener from the Gateway
// listeners on it (idx, most specific hostname first) and the routes they
// serve, and collects the target groups used and the routes behind each
// Stream and group.
//
// TCP and UDP: a listener has one port to itself (markConflicts), and the
// oldest route attached to it takes every connection. Upstream's TCPRoute
// and UDPRoute conformance wants every such route Accepted and counted in
// attachedRoutes while only the oldest receives traffic, so the others
// stay accepted but get no Stream.
//
// TLS: a Stream per hostname a route serves on a listener, carrying that
// listener's certificates when it terminates TLS (so Passthrough and
// Terminate listeners share a port). Streams are ordered most specific
// hostname first; a hostname a more specific listener on the port covers
// is dropped (listener isolation, as for VirtualHosts), and when two
// routes serve the same hostname only one keeps it (a second Stream of
// that hostname could never be chosen): the one whose own hostname behind
// it is the more specific (compareHostnames; on listener abc.example.com
// a route for abc.example.com over one for *.example.com, as
// GatewayRouteHostnameIntersectionPrecedence asks), then the older.
func streams(listeners []*listenerState, idx []int, routes []*routeState, groups map[string]lb.TargetGroup, src *sources) []lb.Stream {
	type candidate struct {
		rs   *routeState
		host string
		// routeHost is the route's own hostname behind host.
		routeHost string
		certs     []lb.Certificate
	}
	var cands []candidate
	for v, li := range idx {
		l := listeners[li]
		var attached []candidate
		for _, rs := range routes {
			for _, host := range rs.serve.on(li) {
				if l.protocol == lb.ProtocolTLS && shadowed(listeners, idx[:v], host) {
					continue
				}
				attached = append(attached, candidate{rs: rs, host: host, routeHost: routeHostname(rs.hostnames, host), certs: l.certs})
			}
		}
		if l.protocol != lb.ProtocolTLS && len(attached) > 0 {
			oldest := slices.MinFunc(attached, func(x, y candidate) int { return olderFirst(x.rs.route, y.rs.route) })
			attached = []candidate{oldest}
		}
		cands = append(cands, attached...)
	}
	slices.SortStableFunc(cands, func(x, y candidate) int {
		return cmp.Or(compareHostSpecificity(x.host, y.host), compareHostnames(x.routeHost, y.routeHost),
			olderFirst(x.rs.route, y.rs.route))
	})
	var out []lb.Stream
	seenHost := map[string]bool{}
	for _, c := range cands {
		if seenHost[c.host] {
			continue
		}
		seenHost[c.host] = true
		st := lb.Stream{
			Name:         fmt.Sprintf("%s/%s/rule-0", c.rs.key.Namespace, c.rs.key.Name),
			Hostname:     c.host,
			Certificates: c.certs,
		}
		if c.host != "" {
			st.Name += "/" + c.host
		}
		src.add(st.Name, c.rs.route)
		if len(c.rs.rules) > 0 {
			st.Backends = c.rs.rules[0].state.action.Forward
			gs := c.rs.rules[0].state.groups
			if l := listeners[idx[0]]; l.protocol == lb.ProtocolTLS && len(c.certs) == 0 {
				st.Backends, gs = passthroughGroups(st.Backends, gs)
			}
			for _, g := range gs {
				groups[g.Name] = g
				src.add(g.Name, c.rs.route)
			}
		}
		out = append(out, st)
	}
	return out
}

// passthroughGroups replaces, for a TLS passthrough Stream, every target
// group that carries a BackendTLSPolicy's TLS with a copy without it named
// "<group>/passthrough": the client's own TLS goes through untouched, and
// wrapping it in the load balancer's would reach no backend that expects
// it (the API applies the policy to TLSRoutes in mode Terminate).
func passthroughGroups(backends []lb.WeightedBackend, groups []lb.TargetGroup) ([]lb.WeightedBackend, []lb.TargetGroup) {
	if !slices.ContainsFunc(groups, func(g lb.TargetGroup) bool { return g.TLS != nil }) {
		return backends, groups
	}
	renamed := map[string]string{}
	outGroups := make([]lb.TargetGroup, 0, len(groups))
	for _, g := range groups {
		if g.TLS != nil {
			renamed[g.Name] = g.Name + "/passthrough"
			g.Name, g.TLS = g.Name+"/passthrough", nil
		}
		outGroups = append(outGroups, g)
	}
	outBackends := slices.Clone(backends)
	for i := range outBackends {
		if n, ok := renamed[outBackends[i].TargetGroup]; ok {
			outBackends[i].TargetGroup = n
		}
	}
	return outBackends, outGroups
}
