package mapping

import (
	"fmt"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
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

// ruleState is one converted route rule: a Match per HTTPRouteMatch and the
// action they share.
type ruleState struct {
	matches []lb.Match
	action  lb.Action
	groups  []lb.TargetGroup
}

func (b *builder) evaluateRoutes(listeners []*listenerState, gatewayAccepted bool) []*routeState {
	var out []*routeState
	for _, route := range b.routes {
		rs := &routeState{route: route, key: key(route.Namespace, route.Name), serve: map[int][]string{}}
		rs.invalid = b.convertMatches(rs)
		for i := range route.Spec.Rules {
			action, groups, p := b.ruleAction(route, &route.Spec.Rules[i])
			if rs.refs.ok() {
				rs.refs = p
			}
			if i < len(rs.rules) {
				rs.rules[i].action, rs.rules[i].groups = action, groups
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

// convertMatches turns every rule's matches into lb.Matches and checks that
// Cloudgate and the provider can realize the rule. The first thing that
// cannot be realized is returned as an UnsupportedValue problem.
func (b *builder) convertMatches(rs *routeState) problem {
	unsupported := func(format string, a ...any) problem {
		return problem{reason: string(gwv1.RouteReasonUnsupportedValue), message: fmt.Sprintf(format, a...)}
	}
	provider := b.caps.Provider
	rs.rules = make([]ruleState, len(rs.route.Spec.Rules))
	var first problem
	note := func(p problem) {
		if first.ok() {
			first = p
		}
	}
	for i := range rs.route.Spec.Rules {
		rule := &rs.route.Spec.Rules[i]
		for _, f := range rule.Filters {
			note(unsupported("HTTPRoute filter %s is not supported by provider %s", f.Type, provider))
		}
		for _, br := range rule.BackendRefs {
			for _, f := range br.Filters {
				note(unsupported("backendRef filter %s is not supported by provider %s", f.Type, provider))
			}
		}
		switch {
		case rule.Timeouts != nil:
			note(unsupported("rule timeouts are not supported by provider %s", provider))
		case rule.Retry != nil:
			note(unsupported("rule retry is not supported by provider %s", provider))
		case rule.SessionPersistence != nil:
			note(unsupported("session persistence is not supported by provider %s", provider))
		}
		matches := rule.Matches
		if len(matches) == 0 {
			matches = []gwv1.HTTPRouteMatch{{}}
		}
		for _, m := range matches {
			lm, p := b.convertMatch(m, unsupported)
			if !p.ok() {
				note(p)
				continue
			}
			rs.rules[i].matches = append(rs.rules[i].matches, lm)
		}
	}
	return first
}

func (b *builder) convertMatch(m gwv1.HTTPRouteMatch, unsupported func(string, ...any) problem) (lb.Match, problem) {
	provider := b.caps.Provider
	var out lb.Match

	path := lb.PathMatch{Type: lb.MatchPrefix, Value: "/"}
	if m.Path != nil {
		if m.Path.Value != nil {
			path.Value = *m.Path.Value
		}
		t := gwv1.PathMatchPathPrefix
		if m.Path.Type != nil {
			t = *m.Path.Type
		}
		switch t {
		case gwv1.PathMatchExact:
			path.Type = lb.MatchExact
		case gwv1.PathMatchPathPrefix:
			path.Type = lb.MatchPrefix
		case gwv1.PathMatchRegularExpression:
			path.Type = lb.MatchRegex
			if _, err := regexp.Compile(path.Value); err != nil {
				return out, unsupported("path regular expression %q is not valid RE2 syntax", path.Value)
			}
		default:
			return out, unsupported("path match type %s is not supported", t)
		}
	}
	if !b.caps.PathMatch[path.Type] {
		return out, unsupported("path match type %s is not supported by provider %s", path.Type, provider)
	}
	out.Path = &path

	seenHeader := map[string]bool{}
	for _, h := range m.Headers {
		// Upstream: with equivalent (case-insensitive) names only the first
		// entry counts.
		name := strings.ToLower(string(h.Name))
		if seenHeader[name] {
			continue
		}
		seenHeader[name] = true
		t, p := b.valueMatchType(h.Type == nil || *h.Type == gwv1.HeaderMatchExact,
			h.Type != nil && *h.Type == gwv1.HeaderMatchRegularExpression, h.Value, "header", b.caps.HeaderMatch, unsupported)
		if !p.ok() {
			return out, p
		}
		out.Headers = append(out.Headers, lb.HeaderMatch{Name: string(h.Name), Type: t, Value: h.Value})
	}

	seenQuery := map[string]bool{}
	for _, q := range m.QueryParams {
		name := string(q.Name)
		if seenQuery[name] {
			continue
		}
		seenQuery[name] = true
		t, p := b.valueMatchType(q.Type == nil || *q.Type == gwv1.QueryParamMatchExact,
			q.Type != nil && *q.Type == gwv1.QueryParamMatchRegularExpression, q.Value, "query parameter", b.caps.QueryMatch, unsupported)
		if !p.ok() {
			return out, p
		}
		out.Query = append(out.Query, lb.QueryMatch{Name: name, Type: t, Value: q.Value})
	}

	if m.Method != nil {
		if !b.caps.MethodMatch {
			return out, unsupported("method matching is not supported by provider %s", provider)
		}
		out.Method = string(*m.Method)
	}
	return out, problem{}
}

// valueMatchType maps a header or query match type and checks it.
func (b *builder) valueMatchType(exact, regex bool, value, what string, supported map[lb.MatchType]bool, unsupported func(string, ...any) problem) (lb.MatchType, problem) {
	var t lb.MatchType
	switch {
	case exact:
		t = lb.MatchExact
	case regex:
		t = lb.MatchRegex
		if _, err := regexp.Compile(value); err != nil {
			return "", unsupported("%s regular expression %q is not valid RE2 syntax", what, value)
		}
	default:
		return "", unsupported("%s match type is not supported", what)
	}
	if !supported[t] {
		return "", unsupported("%s match type %s is not supported by provider %s", what, t, b.caps.Provider)
	}
	return t, problem{}
}
