package mapping

import (
	"cmp"
	"fmt"
	"slices"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// The provider's limits (lb.Capabilities' Max fields, 0 for none). What
// does not fit is refused on the object that asks for it and everything
// else is served: a model never goes over a limit, so the cloud never
// refuses a whole load balancer for one tenant's route.
//
//   - Per rule (condition values, target groups, mirrors): the route whose
//     rule goes over is Accepted=False/UnsupportedValue, as for a feature
//     the provider lacks.
//   - Rules per listener: when the rules on one port go over, routes are
//     taken in the precedence the route APIs give routes against each
//     other in conflicts (oldest first, then first by "{namespace}/{name}"),
//     and each is served if its rules fit next to those taken before it,
//     so that a new route never pushes out one that was served, and a
//     small route still fits after a large one did not. The others are
//     Accepted=False/UnsupportedValue, naming the port, the limit and the
//     provider.
//   - Certificates per listener: Gateway listeners on one port that
//     terminate TLS keep their certificates in spec.listeners order; one
//     whose certificates do not fit next to those before it is
//     Accepted=False/UnsupportedValue (ListenersNotValid on the Gateway).

// ruleLimits checks one converted rule against the per-rule limits.
func (b *builder) ruleLimits(spec ruleSpec, res *ruleResult) {
	c := b.caps
	if limit := c.MaxConditionValuesPerRule; limit > 0 {
		for _, rm := range res.state.matches {
			if n := conditionValues(rm.m); n > limit {
				res.invalidate(unsupportedValue("a match compares %d values (path, method, headers and query parameters); "+
					"provider %s takes at most %d per rule", n, c.Provider, limit))
				break
			}
		}
	}
	if c.Mirror && c.MaxMirrorsPerRule > 0 {
		n := 0
		for _, f := range spec.filters {
			if f.Type == gwv1.HTTPRouteFilterRequestMirror {
				n++
			}
		}
		if n > c.MaxMirrorsPerRule {
			res.invalidate(unsupportedValue("a rule has %d RequestMirror filters; provider %s mirrors to at most %d per rule",
				n, c.Provider, c.MaxMirrorsPerRule))
		}
	}
	res.invalidate(b.targetGroupLimit(res.state.action.Forward))
}

// conditionValues counts what MaxConditionValuesPerRule bounds.
func conditionValues(m lb.Match) int {
	n := len(m.Headers) + len(m.Query)
	if m.Path != nil {
		n++
	}
	if m.Method != "" {
		n++
	}
	return n
}

// targetGroupLimit checks the distinct target groups of a forward (a rule's
// or a Stream's) against MaxTargetGroupsPerAction.
func (b *builder) targetGroupLimit(forward []lb.WeightedBackend) problem {
	limit := b.caps.MaxTargetGroupsPerAction
	if limit == 0 {
		return problem{}
	}
	var names []string
	for _, w := range forward {
		if w.TargetGroup != "" && !slices.Contains(names, w.TargetGroup) {
			names = append(names, w.TargetGroup)
		}
	}
	if len(names) <= limit {
		return problem{}
	}
	return unsupportedValue("a rule forwards to %d Service ports; provider %s forwards to at most %d per rule",
		len(names), b.caps.Provider, limit)
}

// fitCertificates applies MaxCertificatesPerListener to the valid listeners
// that terminate TLS, port by port, in spec.listeners order.
func (b *builder) fitCertificates(ls []*listenerState) {
	limit := b.caps.MaxCertificatesPerListener
	if limit == 0 {
		return
	}
	held := map[int32]map[string]bool{}
	for _, l := range ls {
		if !l.valid() || !l.terminate || len(l.certs) == 0 {
			continue
		}
		have := held[l.spec.Port]
		if have == nil {
			have = map[string]bool{}
			held[l.spec.Port] = have
		}
		var added []string
		for _, c := range l.certs {
			if !have[c.Name] && !slices.Contains(added, c.Name) {
				added = append(added, c.Name)
			}
		}
		if len(have)+len(added) > limit {
			l.accepted = problem{reason: string(gwv1.ListenerReasonUnsupportedValue), message: fmt.Sprintf(
				"its certificates do not fit: provider %s serves at most %d certificates on one port, "+
					"and the listeners before it on port %d hold %d", b.caps.Provider, limit, l.spec.Port, len(have))}
			continue
		}
		for _, n := range added {
			have[n] = true
		}
	}
}

// fittedModel is a model and its Result.Sources.
type fittedModel struct {
	lb      *lb.LoadBalancer
	sources map[string][]RouteRef
}

// fitRules applies MaxRulesPerListener: while some port of the model has
// more rules than the limit, the routes that do not fit there next to older
// ones are left out (overLimit) and the routes settled again, which may give a route
// that lost a hostname to one left out its listeners back, hence the loop.
// It ends, since every round leaves out at least one more route.
func (b *builder) fitRules(routes []*routeState, listeners []*listenerState) {
	limit := b.caps.MaxRulesPerListener
	if limit == 0 {
		return
	}
	byRef := map[RouteRef]*routeState{}
	for _, rs := range routes {
		byRef[rs.ref()] = rs
	}
	left := map[*routeState]bool{}
	for {
		m, src := b.model(listeners, routes)
		out := map[*routeState]bool{}
		for _, ml := range m.Listeners {
			perRoute := map[*routeState]int{}
			total := 0
			for _, vh := range ml.VirtualHosts {
				for _, r := range vh.Rules {
					// A rule's name comes from one route.
					rs := byRef[src[r.Name][0]]
					if !out[rs] {
						perRoute[rs]++
						total++
					}
				}
			}
			if total <= limit {
				continue
			}
			order := make([]*routeState, 0, len(perRoute))
			for rs := range perRoute {
				order = append(order, rs)
			}
			// Oldest first (olderFirst, with the kind last so that the
			// order is total): each route is served if it fits next to
			// those before it, so a route is refused only for lack of
			// room that routes of higher precedence take, and a small
			// newer route still fits where a large one did not.
			slices.SortFunc(order, func(x, y *routeState) int {
				return cmp.Or(olderFirst(x.route, y.route), cmp.Compare(x.kind, y.kind))
			})
			kept := 0
			for _, rs := range order {
				if kept+perRoute[rs] <= limit {
					kept += perRoute[rs]
					continue
				}
				out[rs] = true
				rs.overLimit = unsupportedValue("the route does not fit: provider %s takes at most %d rules on one port, "+
					"and the routes that take precedence (older, or first by namespace/name) leave no room on port %d",
					b.caps.Provider, limit, ml.Port)
			}
		}
		if len(out) == 0 {
			// Nothing changes between here and the end of the Build.
			b.fitted = &fittedModel{lb: m, sources: src}
			return
		}
		// Two routes with one key (which an API server never holds) share
		// rule names, so the rules of one are counted against the other:
		// stop when a round leaves out no route not already left out.
		progress := false
		for rs := range out {
			if !left[rs] {
				left[rs], progress = true, true
			}
		}
		if !progress {
			return
		}
		b.settleRoutes(routes, listeners, true)
	}
}
