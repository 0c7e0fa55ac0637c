package mapping

import (
	"cmp"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// routeKind is a route's kind in the gateway.networking.k8s.io group.
type routeKind string

// The route kinds Cloudgate serves.
const (
	kindHTTPRoute routeKind = "HTTPRoute"
	kindGRPCRoute routeKind = "GRPCRoute"
	kindTLSRoute  routeKind = "TLSRoute"
	kindTCPRoute  routeKind = "TCPRoute"
	kindUDPRoute  routeKind = "UDPRoute"
)

// routeKinds lists every served kind in the order supportedKinds shows them.
var routeKinds = []routeKind{kindHTTPRoute, kindGRPCRoute, kindTLSRoute, kindTCPRoute, kindUDPRoute}

// routeHostnameConflict is the Accepted=False reason for a route that loses
// a listener to a route of the other kind with an intersecting hostname.
// Upstream requires the rejection (GRPCRoute hostnames, "cross serving") but
// names no reason for it; this one repeats the listener reason for the same
// situation and is what other implementations report.
const routeHostnameConflict = "HostnameConflict"

// route is an HTTPRoute, GRPCRoute, TLSRoute, TCPRoute or UDPRoute in the
// kind-neutral form that attachment, conflicts, status and the model work
// on; only rule conversion looks at the kind's own types.
type route struct {
	kind       routeKind
	key        types.NamespacedName
	generation int64
	created    metav1.Time
	parentRefs []gwv1.ParentReference
	hostnames  []string
	// values is the problem with the route's values (validate.go), which
	// keeps it out of the model whatever its rules convert to.
	values problem
	// rules converts the route's rules, one result per rule in order.
	rules func(b *builder) []ruleResult
	// order is the route's place in builder.routes, set for each Build
	// (a Cache's routes are used by one Build at a time).
	order int
	// lastOrder and lastRank are hints a Cache's route carries from the
	// Build that last used it to the next: 1 + its order then, and 1 + the
	// place of its first rule among the model's rules (0: none). Lists put
	// in their last order first sort in about one comparison per element;
	// the sorts still decide the order, so a wrong hint costs only time.
	lastOrder, lastRank int
	nextRank            int
	// names are the lb.Rule names made for the route (entry.lbRule): a
	// name depends on the route, the rule, the match and the hostname
	// only, so a Cache's route makes each once.
	names []ruleNamed
}

func routeHostnames(hs []gwv1.Hostname) []string {
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		out = append(out, string(h))
	}
	return out
}

// compareRoutes orders routes by kind, namespace and name: the order
// everything derived from them comes out in, whatever order the cache
// listed them in.
func compareRoutes(x, y *route) int {
	return cmp.Or(cmp.Compare(x.kind, y.kind), cmp.Compare(x.key.Namespace, y.key.Namespace), cmp.Compare(x.key.Name, y.key.Name))
}

// routeState is what Build learned about one route.
type routeState struct {
	*route
	// invalid is set when the route asks for something Cloudgate or the
	// provider cannot realize: it is then accepted nowhere and left out.
	invalid problem
	// refs is the first bad backend reference (ResolvedRefs=False).
	refs problem
	// refused is the reconciler's message when the cloud refused what
	// this route produced (Snapshot.Refused): the route is then accepted
	// nowhere, whatever else holds.
	refused string
	// overLimit is set when the route does not fit within the provider's
	// limits (fitRules): it is then accepted nowhere.
	overLimit problem
	// rules are the converted rules, in order (read only).
	rules []ruleResult
	// eval is the Cache's record of the route's attachment and status in
	// this Build's attachContext (nil without a Cache): read, and filled
	// in when it is new.
	eval    *routeEval
	parents []parentState
	// serve maps a listener index to the hostnames the route serves there,
	// over all of its accepted parentRefs.
	serve    listenerHosts
	statuses []gwv1.RouteParentStatus
}

// parentState is one parentRef that names this Gateway, before cross-kind
// conflicts are settled.
type parentState struct {
	ref gwv1.ParentReference
	// attach is the attachment problem, if any; hosts then is nil.
	attach problem
	// hosts maps every listener the parentRef attaches to (valid or not) to
	// the hostnames the route has there.
	hosts listenerHosts
}

// listenerHosts maps listener indexes (in the Build's listener list) to
// hostnames. A route meets a few listeners: a list in listener order,
// searched, costs less than a map, and thousands of routes make one each
// Build.
type listenerHosts []listenerHostnames

type listenerHostnames struct {
	listener int
	hosts    []string
}

// on returns the hostnames of listener i (nil when it has none).
func (lh listenerHosts) on(i int) []string {
	for _, e := range lh {
		if e.listener == i {
			return e.hosts
		}
	}
	return nil
}

// merge adds hosts to those of listener i, keeping the list in listener
// order. The first hosts of a listener are taken as they are, clipped, so
// that a later merge copies them rather than append to a list someone
// else holds.
func (lh *listenerHosts) merge(i int, hosts []string) {
	for k := range *lh {
		if e := &(*lh)[k]; e.listener == i {
			e.hosts = mergeHosts(e.hosts, hosts)
			return
		}
	}
	at, _ := slices.BinarySearchFunc(*lh, i, func(e listenerHostnames, i int) int { return cmp.Compare(e.listener, i) })
	*lh = slices.Insert(*lh, at, listenerHostnames{listener: i, hosts: slices.Clip(hosts)})
}

// evaluateRoutes converts and attaches every route, settles conflicts
// between HTTPRoutes and GRPCRoutes, and computes each route's status.
func (b *builder) evaluateRoutes(listeners []*listenerState, gatewayAccepted bool) []*routeState {
	if b.cache != nil {
		b.cache.setAttach(b.attachContext(listeners, gatewayAccepted))
	}
	out := make([]*routeState, 0, len(b.routes))
	for _, r := range b.routes {
		out = append(out, b.evaluateRoute(r, listeners))
	}
	b.settleRoutes(out, listeners, gatewayAccepted)
	if gatewayAccepted {
		b.fitRules(out, listeners)
	}
	return out
}

// settleRoutes settles conflicts between HTTPRoutes and GRPCRoutes and
// computes every route's status, the listeners it serves on and the
// listeners' attachedRoutes, from scratch: fitRules calls it again once it
// has left routes out.
func (b *builder) settleRoutes(routes []*routeState, listeners []*listenerState, gatewayAccepted bool) {
	for _, l := range listeners {
		l.attached = 0
	}
	var lost map[*routeState]map[int]bool
	if gatewayAccepted {
		lost = crossKindConflicts(routes)
	}
	for _, rs := range routes {
		ev := rs.eval
		if ev != nil && lost[rs] != nil {
			// Conflicts are between routes: not cached.
			ev = nil
		}
		if ev != nil && ev.settled && ev.overLimit == rs.overLimit {
			rs.serve, rs.statuses = ev.serve, ev.statuses
			for _, i := range ev.counted {
				listeners[i].attached++
			}
			continue
		}
		rs.serve = nil
		rs.statuses = nil
		counted := rs.settle(listeners, gatewayAccepted, lost[rs], b.controller)
		if rs.kind == kindTLSRoute && b.caps.TLSIgnoresServerName {
			rs.serverNameNotEnforced(b.caps.Provider)
		}
		if ev != nil {
			ev.settled, ev.overLimit = true, rs.overLimit
			ev.serve, ev.statuses, ev.counted = rs.serve, rs.statuses, slices.Clone(counted)
		}
	}
}

// ConditionServerNameEnforced is Cloudgate's condition on a TLSRoute's
// parent status where the provider forwards a TLS listener's connections
// whatever their server name (lb.Capabilities.TLSIgnoresServerName): the
// route is served, and its hostnames (and the listener's) choose only
// where it attaches, not which connections reach it. Users relying on SNI
// to keep other names out learn it here rather than from their traffic.
const ConditionServerNameEnforced = "cloudgate.dev/ServerNameEnforced"

// ReasonNotEnforcedByProvider is its reason.
const ReasonNotEnforcedByProvider = "NotEnforcedByProvider"

// serverNameNotEnforced adds ConditionServerNameEnforced=False to each
// parent status that accepted the route.
func (rs *routeState) serverNameNotEnforced(provider string) {
	for i := range rs.statuses {
		st := &rs.statuses[i]
		if !meta.IsStatusConditionTrue(st.Conditions, string(gwv1.RouteConditionAccepted)) {
			continue
		}
		st.Conditions = append(st.Conditions, condition(ConditionServerNameEnforced, ReasonNotEnforcedByProvider, false, fmt.Sprintf(
			"provider %s forwards every connection of a TLS listener to one destination whatever its server name (SNI): "+
				"connections asking for names outside this route's hostnames reach its backends too", provider), rs.generation))
	}
}

// evaluateRoute converts a route's rules and works out where each of its
// parentRefs would attach it.
func (b *builder) evaluateRoute(r *route, listeners []*listenerState) *routeState {
	rs := b.states.new()
	rs.route, rs.invalid = r, r.values
	if msg, ok := b.refused[r.ref()]; ok {
		// Bounded like every message: the reconciler's text is static but
		// not written for a condition.
		rs.refused = boundedList([]string{refusedPrefix + msg}, "", maxMessageBytes)
	}
	// The results are a Cache's, shared by every Build that hits: read,
	// never written.
	rs.rules = b.ruleResults(r)
	for _, res := range rs.rules {
		if rs.invalid.ok() {
			rs.invalid = res.invalid
		}
		if rs.refs.ok() {
			rs.refs = res.refs
		}
	}
	if b.cache != nil {
		rs.eval = b.cache.evalOf(r, rs.refused)
	}
	if ev := rs.eval; ev != nil && ev.attached {
		rs.parents = ev.parents
		return rs
	}
	// A route names a few parents: a list to search costs less than a map.
	// With one parentRef (nearly every route) there is nothing to compare.
	var seen []string
	for _, ref := range r.parentRefs {
		set, ok := b.parentOf(r.key.Namespace, ref)
		if !ok {
			continue
		}
		// The same parentRef written twice gets one status entry.
		if len(r.parentRefs) > 1 {
			id := parentRefID(ref)
			if slices.Contains(seen, id) {
				continue
			}
			seen = append(seen, id)
		}
		hosts, p := b.attach(r, ref, set, listeners)
		rs.parents = append(rs.parents, parentState{ref: ref, attach: p, hosts: hosts})
	}
	if ev := rs.eval; ev != nil {
		ev.attached, ev.parents = true, rs.parents
	}
	return rs
}

// candidate says whether the route is accepted on its parentRefs unless a
// conflict takes listeners from it.
func (rs *routeState) candidate() bool {
	return rs.invalid.ok() && rs.refused == "" && rs.overLimit.ok()
}

// ref is the route's name in Snapshot.Refused and Result.Sources.
func (r *route) ref() RouteRef {
	return RouteRef{Kind: string(r.kind), Namespace: r.key.Namespace, Name: r.key.Name}
}

// crossKindConflicts applies the GRPCRoute API's rule for routes of both
// kinds on one listener: when an HTTPRoute and a GRPCRoute have
// intersecting hostnames there, exactly one is accepted, the older one
// (then the first by namespace/name). A request cannot say which kind it
// is meant for, so serving both would split one hostname's traffic between
// two configurations. It returns, per losing route, the listeners it lost.
// Losers are decided in age order, so a route that lost blocks no one.
func crossKindConflicts(routes []*routeState) map[*routeState]map[int]bool {
	// Only HTTPRoutes and GRPCRoutes conflict, and only with each other.
	var http, grpc bool
	for _, rs := range routes {
		http = http || rs.kind == kindHTTPRoute
		grpc = grpc || rs.kind == kindGRPCRoute
	}
	if !http || !grpc {
		return nil
	}
	order := slices.Clone(routes)
	slices.SortStableFunc(order, func(x, y *routeState) int {
		return cmp.Or(olderFirst(x.route, y.route), cmp.Compare(x.kind, y.kind))
	})
	// Claims (the hostnames of a route that won a listener) by listener
	// and kind: a route is checked against the other kind's claims only,
	// so that thousands of routes of one kind cost no search each.
	taken := map[int]map[routeKind][][]string{}
	lost := map[*routeState]map[int]bool{}
	for _, rs := range order {
		if !rs.candidate() {
			continue
		}
		// Hostnames per listener over all attaching parentRefs: the route
		// wins or loses a listener as a whole.
		var mine listenerHosts
		for _, ps := range rs.parents {
			for _, lh := range ps.hosts {
				mine.merge(lh.listener, lh.hosts)
			}
		}
		for _, lh := range mine {
			i, hosts := lh.listener, lh.hosts
			conflict := false
			for kind, claims := range taken[i] {
				if kind != rs.kind && slices.ContainsFunc(claims, func(c []string) bool { return overlap(c, hosts) }) {
					conflict = true
					break
				}
			}
			if conflict {
				if lost[rs] == nil {
					lost[rs] = map[int]bool{}
				}
				lost[rs][i] = true
				continue
			}
			if taken[i] == nil {
				taken[i] = map[routeKind][][]string{}
			}
			taken[i][rs.kind] = append(taken[i][rs.kind], hosts)
		}
	}
	return lost
}

// overlap says whether some request host matches a hostname of each list.
// Hostname patterns are nested or disjoint, so two overlap exactly when one
// covers the other.
func overlap(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if covers(x, y) || covers(y, x) {
				return true
			}
		}
	}
	return false
}

// settle computes the route's parent statuses, the listeners it serves on
// and its attachedRoutes counts, now that lost lists the listeners a route
// of the other kind took from it.
//
// It returns the listeners the route is attached to.
func (rs *routeState) settle(listeners []*listenerState, gatewayAccepted bool, lost map[int]bool, controller gwv1.GatewayController) []int {
	gen := rs.generation
	resolved := condition(string(gwv1.RouteConditionResolvedRefs), string(gwv1.RouteReasonResolvedRefs), true, "All references are resolved", gen)
	if !rs.refs.ok() {
		resolved = condition(string(gwv1.RouteConditionResolvedRefs), rs.refs.reason, false, rs.refs.message, gen)
	}
	// The listeners the route is attached to: few, so a list (on the
	// stack for up to four).
	counted := make([]int, 0, 4)
	for _, ps := range rs.parents {
		valid := false
		for _, lh := range ps.hosts {
			if !lost[lh.listener] {
				valid = valid || listeners[lh.listener].valid()
			}
		}
		var accepted metav1.Condition
		switch {
		case !gatewayAccepted:
			accepted = condition(string(gwv1.RouteConditionAccepted), string(gwv1.RouteReasonPending), false, "The parent Gateway is not accepted", gen)
		case rs.refused != "":
			accepted = condition(string(gwv1.RouteConditionAccepted), string(gwv1.RouteReasonUnsupportedValue), false, rs.refused, gen)
		case !ps.attach.ok():
			accepted = condition(string(gwv1.RouteConditionAccepted), ps.attach.reason, false, ps.attach.message, gen)
		case !rs.invalid.ok():
			accepted = condition(string(gwv1.RouteConditionAccepted), rs.invalid.reason, false, rs.invalid.message, gen)
		case !rs.overLimit.ok():
			accepted = condition(string(gwv1.RouteConditionAccepted), rs.overLimit.reason, false, rs.overLimit.message, gen)
		case !valid:
			// attach found a valid listener, so conflicts took them all.
			other := kindGRPCRoute
			if rs.kind == kindGRPCRoute {
				other = kindHTTPRoute
			}
			accepted = condition(string(gwv1.RouteConditionAccepted), routeHostnameConflict, false,
				fmt.Sprintf("A %s that takes precedence (older, or first by namespace/name) serves an intersecting hostname "+
					"on the listeners this parentRef selects", other), gen)
		default:
			accepted = condition(string(gwv1.RouteConditionAccepted), string(gwv1.RouteReasonAccepted), true, "Route is accepted", gen)
			for _, lh := range ps.hosts {
				i := lh.listener
				if lost[i] {
					continue
				}
				if !slices.Contains(counted, i) {
					counted = append(counted, i)
				}
				if listeners[i].valid() {
					rs.serve.merge(i, lh.hosts)
				}
			}
		}
		rs.statuses = append(rs.statuses, gwv1.RouteParentStatus{
			ParentRef:      ps.ref,
			ControllerName: controller,
			Conditions:     []metav1.Condition{accepted, resolved},
		})
	}
	// A route counts once on each listener it is attached to, however many
	// of its parentRefs select that listener.
	for _, i := range counted {
		listeners[i].attached++
	}
	return counted
}

func mergeHosts(have, add []string) []string {
	for _, h := range add {
		if !slices.Contains(have, h) {
			have = append(have, h)
		}
	}
	return have
}

func parentRefID(ref gwv1.ParentReference) string {
	id := string(ref.Name)
	if ref.Kind != nil && *ref.Kind != "Gateway" {
		id = string(*ref.Kind) + ":" + id
	}
	if ref.Namespace != nil {
		id = string(*ref.Namespace) + "/" + id
	}
	if ref.SectionName != nil {
		id += "#" + string(*ref.SectionName)
	}
	if ref.Port != nil {
		id += fmt.Sprintf(":%d", *ref.Port)
	}
	return id
}

// attach decides whether a parentRef attaches the route. A parentRef to
// the Gateway selects among the Gateway's own listeners, one to a
// ListenerSet (set) among that ListenerSet's. hosts maps the
// listeners whose attachedRoutes it adds to (selected, allowing the route's
// kind and namespace, hostnames intersecting, whether or not the listener
// is valid, as upstream asks) to the hostnames the route has there; at
// least one of them is valid.
func (b *builder) attach(r *route, ref gwv1.ParentReference, set *listenerSet, listeners []*listenerState) (listenerHosts, problem) {
	if set != nil && !set.allowed {
		return nil, problem{reason: string(gwv1.RouteReasonNoMatchingParent),
			message: "The ListenerSet is not allowed by its parent Gateway's allowedListeners"}
	}
	// On the stack for Gateways of up to 16 listeners.
	selected, allowed := make([]int, 0, 16), make([]int, 0, 16)
	for i, l := range listeners {
		if l.set != set {
			continue
		}
		if ref.SectionName != nil && *ref.SectionName != l.spec.Name {
			continue
		}
		if ref.Port != nil && *ref.Port != l.spec.Port {
			continue
		}
		selected = append(selected, i)
		if l.allows(r.kind) && b.namespaceAllowed(l, r.key.Namespace) {
			allowed = append(allowed, i)
		}
	}
	if len(selected) == 0 {
		return nil, problem{reason: string(gwv1.RouteReasonNoMatchingParent),
			message: "No listener matches the parentRef's sectionName and port"}
	}
	if len(allowed) == 0 {
		return nil, problem{reason: string(gwv1.RouteReasonNotAllowedByListeners),
			message: "No listener the parentRef selects allows this route's namespace and kind"}
	}
	var out listenerHosts
	valid := false
	for _, i := range allowed {
		hosts := intersect(listeners[i].hostname, r.hostnames)
		if len(hosts) == 0 {
			continue
		}
		// allowed is in listener order, so out is too.
		out = append(out, listenerHostnames{listener: i, hosts: hosts})
		valid = valid || listeners[i].valid()
	}
	if len(out) == 0 {
		return nil, problem{reason: string(gwv1.RouteReasonNoMatchingListenerHostname),
			message: "No listener hostname matches the route's hostnames"}
	}
	if !valid {
		return nil, problem{reason: string(gwv1.RouteReasonNoMatchingParent),
			message: "No valid listener matches the parentRef"}
	}
	return out, problem{}
}

// namespaceSelected reports whether namespace ns matches sel (an
// allowedRoutes or allowedListeners selector); an unknown namespace, a
// missing or an invalid selector select nothing.
func (b *builder) namespaceSelected(ns string, sel *metav1.LabelSelector) bool {
	n := b.namespaces[ns]
	if sel == nil || n == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set(n.Labels))
}

// namespaceAllowed applies a listener's allowedRoutes.namespaces.
func (b *builder) namespaceAllowed(l *listenerState, ns string) bool {
	from := gwv1.NamespacesFromSame
	var sel *metav1.LabelSelector
	if ar := l.spec.AllowedRoutes; ar != nil && ar.Namespaces != nil {
		if ar.Namespaces.From != nil {
			from = *ar.Namespaces.From
		}
		sel = ar.Namespaces.Selector
	}
	switch from {
	case gwv1.NamespacesFromAll:
		return true
	case gwv1.NamespacesFromSame:
		// A ListenerSet's listener: the ListenerSet's namespace.
		return ns == l.namespace(b.gw)
	case gwv1.NamespacesFromSelector:
		return b.namespaceSelected(ns, sel)
	}
	return false // None, or a value this version does not know
}

// byHint returns xs with those whose hint (1-based, 0 for none) is set in
// hint order, then the others as they came: the order the last Build
// sorted them in, for a sort to start from (sortHinted). hinted is how
// many come first by their hint.
func byHint[T any](xs []T, hint func(T) int) (out []T, hinted int) {
	most := 0
	for _, x := range xs {
		most = max(most, hint(x))
	}
	if most == 0 {
		return xs, 0
	}
	slots := make([]T, most)
	taken := make([]bool, most)
	out = make([]T, 0, len(xs))
	var rest []T
	for _, x := range xs {
		// A snapshot may hold one route twice: the second goes with the
		// new ones.
		h := hint(x)
		if h == 0 || taken[h-1] {
			rest = append(rest, x)
			continue
		}
		slots[h-1], taken[h-1] = x, true
	}
	for i, x := range slots {
		if taken[i] {
			out = append(out, x)
		}
	}
	return append(out, rest...), len(out)
}

// sortHinted sorts xs, whose first hinted elements are likely in order
// already (byHint): when they are, only the others are sorted and merged
// in, in about one comparison per element. The result is the sort's, as
// cmp is a total order; it may be a new slice.
func sortHinted[T any](xs []T, hinted int, cmp func(T, T) int) []T {
	if hinted == 0 || !slices.IsSortedFunc(xs[:hinted], cmp) {
		slices.SortFunc(xs, cmp)
		return xs
	}
	a, b := xs[:hinted], xs[hinted:]
	slices.SortFunc(b, cmp)
	if len(b) == 0 || cmp(a[len(a)-1], b[0]) <= 0 {
		return xs
	}
	out := make([]T, 0, len(xs))
	for len(a) > 0 && len(b) > 0 {
		if cmp(a[0], b[0]) <= 0 {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}
