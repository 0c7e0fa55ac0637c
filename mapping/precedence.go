package mapping

import (
	"cmp"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// entry is one route match placed on one VirtualHost for one effective
// hostname: the unit that precedence orders and that becomes an lb.Rule.
type entry struct {
	host string // effective hostname (listener/route intersection), "" for any
	// routeHost is the route's own spec.hostnames entry that gives host
	// (routeHostname), "" when the route has none.
	routeHost string
	route     *route
	rule      int
	match     int
	// rm is the match and state its rule (the action and the target
	// groups it forwards to), read from the route's converted rules: a
	// Build places thousands, so they point rather than copy.
	rm    *ruleMatch
	state *ruleState
}

// comparePrecedence orders entries as the route APIs require, most
// important first. Both kinds rank by hostname first (compareHostnames):
// the effective hostname, then, where two intersect a listener to the
// same name, the route's own hostname behind it, as the v1.7 APIs ask
// (GatewayRouteHostnameIntersectionPrecedence: on listener
// abc.example.com a newer route for abc.example.com comes before an older
// one for *.example.com, on *.example.com a route for *.example.com
// before one for *.com, and a route without hostnames after both).
// Then, for HTTPRoutes:
//
//   - path: Exact, then RegularExpression (implementation-specific; longer
//     pattern first), then the longest PathPrefix;
//   - a method match;
//   - more header matches;
//   - more query parameter matches;
//
// and for GRPCRoutes: more characters in the service, then in the method
// (a regular expression counts its pattern), then more header matches.
// Then the older route (creationTimestamp), the route's "{namespace}/{name}"
// as one string (compareRouteNames), rule order and match order within the
// route.
//
// Entries of the two kinds never share a hostname: crossKindConflicts
// keeps one kind per intersecting hostname on a listener, as the GRPCRoute
// API asks ("merging MUST not be done"). Their relative order is thus
// free; HTTPRoutes first keeps the order total.
func comparePrecedence(a, b *entry) int {
	if c := cmp.Or(compareHostnames(a.host, b.host), compareHostnames(a.routeHost, b.routeHost)); c != 0 {
		return c
	}
	if a.route.kind != b.route.kind {
		if a.route.kind == kindHTTPRoute {
			return -1
		}
		return 1
	}
	x, y := a.rm, b.rm
	var c int
	if a.route.kind == kindGRPCRoute {
		c = cmp.Or(
			-cmp.Compare(x.service, y.service),
			-cmp.Compare(x.method, y.method),
			-cmp.Compare(len(x.m.Headers), len(y.m.Headers)),
		)
	} else {
		c = cmp.Or(
			cmp.Compare(pathRank(x.m.Path), pathRank(y.m.Path)),
			-cmp.Compare(pathLen(x.m.Path), pathLen(y.m.Path)),
			-cmp.Compare(boolInt(x.m.Method != ""), boolInt(y.m.Method != "")),
			-cmp.Compare(len(x.m.Headers), len(y.m.Headers)),
			-cmp.Compare(len(x.m.Query), len(y.m.Query)),
		)
	}
	if c != 0 {
		return c
	}
	if c := a.route.created.Time.Compare(b.route.created.Time); c != 0 {
		return c
	}
	return cmp.Or(
		compareRouteNames(a.route, b.route),
		cmp.Compare(a.rule, b.rule),
		cmp.Compare(a.match, b.match),
		// Same match on two hostnames of one VirtualHost: keep it total.
		cmp.Compare(a.host, b.host),
	)
}

// compareHostnames orders two hostnames by the route APIs' precedence,
// most specific first: more characters in a non-wildcard hostname (a
// wildcard has none), then more characters in the hostname ("" has none).
// Names it finds equal are equally specific: equal, or never both matching
// one request.
func compareHostnames(a, b string) int {
	exactLen := func(h string) int {
		if isWildcard(h) {
			return 0
		}
		return len(h)
	}
	return cmp.Or(-cmp.Compare(exactLen(a), exactLen(b)), -cmp.Compare(len(a), len(b)))
}

func pathRank(p *lb.PathMatch) int {
	if p == nil {
		return 3
	}
	switch p.Type {
	case lb.MatchExact:
		return 0
	case lb.MatchRegex:
		return 1
	case lb.MatchPrefix:
		return 2
	}
	return 3
}

func pathLen(p *lb.PathMatch) int {
	if p == nil {
		return 0
	}
	return len(p.Value)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
