package mapping

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// routeState is what Build learned about one HTTPRoute.
type routeState struct {
	route *gwv1.HTTPRoute
	key   types.NamespacedName
	// invalid is set when the route asks for something Cloudgate or the
	// provider cannot realize: it is then accepted nowhere and left out.
	invalid problem
	// refs is the first bad backend reference (ResolvedRefs=False).
	refs  problem
	rules []ruleState
	// serve maps a listener index to the hostnames the route serves there,
	// over all of its accepted parentRefs.
	serve   map[int][]string
	parents []gwv1.RouteParentStatus
}

func (b *builder) evaluateRoutes(listeners []*listenerState, gatewayAccepted bool) []*routeState {
	var out []*routeState
	for _, route := range b.routes {
		rs := &routeState{route: route, key: key(route.Namespace, route.Name), serve: map[int][]string{}}
		rs.rules = make([]ruleState, len(route.Spec.Rules))
		for i := range route.Spec.Rules {
			r := b.convertRule(route.Namespace, &route.Spec.Rules[i])
			rs.rules[i] = r.state
			if rs.invalid.ok() {
				rs.invalid = r.invalid
			}
			if rs.refs.ok() {
				rs.refs = r.refs
			}
		}
		hostnames := make([]string, 0, len(route.Spec.Hostnames))
		for _, h := range route.Spec.Hostnames {
			hostnames = append(hostnames, string(h))
		}

		gen := route.Generation
		resolved := condition(string(gwv1.RouteConditionResolvedRefs), string(gwv1.RouteReasonResolvedRefs), true, "All references are resolved", gen)
		if !rs.refs.ok() {
			resolved = condition(string(gwv1.RouteConditionResolvedRefs), rs.refs.reason, false, rs.refs.message, gen)
		}
		counted := map[int]bool{}
		seen := map[string]bool{}
		for _, ref := range route.Spec.ParentRefs {
			if !b.namesGateway(route.Namespace, ref) {
				continue
			}
			// The same parentRef written twice gets one status entry.
			id := parentRefID(ref)
			if seen[id] {
				continue
			}
			seen[id] = true

			count, serve, p := b.attach(route, ref, listeners, hostnames)
			var accepted metav1.Condition
			switch {
			case !gatewayAccepted:
				accepted = condition(string(gwv1.RouteConditionAccepted), string(gwv1.RouteReasonPending), false, "The parent Gateway is not accepted", gen)
			case !p.ok():
				accepted = condition(string(gwv1.RouteConditionAccepted), p.reason, false, p.message, gen)
			case !rs.invalid.ok():
				accepted = condition(string(gwv1.RouteConditionAccepted), rs.invalid.reason, false, rs.invalid.message, gen)
			default:
				accepted = condition(string(gwv1.RouteConditionAccepted), string(gwv1.RouteReasonAccepted), true, "Route is accepted", gen)
				for _, i := range count {
					counted[i] = true
				}
				for i, hosts := range serve {
					rs.serve[i] = mergeHosts(rs.serve[i], hosts)
				}
			}
			rs.parents = append(rs.parents, gwv1.RouteParentStatus{
				ParentRef:      ref,
				ControllerName: b.controller,
				Conditions:     []metav1.Condition{accepted, resolved},
			})
		}
		// A route counts once on each listener it is attached to, however
		// many of its parentRefs select that listener.
		for i := range counted {
			listeners[i].attached++
		}
		out = append(out, rs)
	}
	return out
}

func mergeHosts(have, add []string) []string {
	for _, h := range add {
		if !contains(have, h) {
			have = append(have, h)
		}
	}
	return have
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// namesGateway says whether a parentRef names this builder's Gateway.
func (b *builder) namesGateway(routeNamespace string, ref gwv1.ParentReference) bool {
	if ref.Group != nil && *ref.Group != gwv1.GroupName {
		return false
	}
	if ref.Kind != nil && *ref.Kind != "Gateway" {
		return false
	}
	ns := routeNamespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	return ns == b.gw.Namespace && string(ref.Name) == b.gw.Name
}

func parentRefID(ref gwv1.ParentReference) string {
	id := string(ref.Name)
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

// attach decides whether a parentRef attaches the route. count lists the
// listeners whose attachedRoutes it adds to (selected, allowed, hostnames
// intersect, whether or not the listener is valid, as upstream asks); serve
// maps the valid ones among them to the hostnames served there.
func (b *builder) attach(route *gwv1.HTTPRoute, ref gwv1.ParentReference, listeners []*listenerState, hostnames []string) (count []int, serve map[int][]string, p problem) {
	var selected, allowed []int
	for i, l := range listeners {
		if ref.SectionName != nil && *ref.SectionName != l.spec.Name {
			continue
		}
		if ref.Port != nil && *ref.Port != l.spec.Port {
			continue
		}
		selected = append(selected, i)
		if l.allowsHTTPRoute() && b.namespaceAllowed(l, route.Namespace) {
			allowed = append(allowed, i)
		}
	}
	if len(selected) == 0 {
		return nil, nil, problem{reason: string(gwv1.RouteReasonNoMatchingParent),
			message: "No listener matches the parentRef's sectionName and port"}
	}
	if len(allowed) == 0 {
		return nil, nil, problem{reason: string(gwv1.RouteReasonNotAllowedByListeners),
			message: "No listener the parentRef selects allows this route's namespace and kind"}
	}
	serve = map[int][]string{}
	for _, i := range allowed {
		hosts := intersect(listeners[i].hostname, hostnames)
		if len(hosts) == 0 {
			continue
		}
		count = append(count, i)
		if listeners[i].valid() {
			serve[i] = hosts
		}
	}
	if len(count) == 0 {
		return nil, nil, problem{reason: string(gwv1.RouteReasonNoMatchingListenerHostname),
			message: "No listener hostname matches the route's hostnames"}
	}
	if len(serve) == 0 {
		return nil, nil, problem{reason: string(gwv1.RouteReasonNoMatchingParent),
			message: "No valid listener matches the parentRef"}
	}
	return count, serve, problem{}
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
		return ns == b.gw.Namespace
	case gwv1.NamespacesFromSelector:
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
	return false // None, or a value this version does not know
}
