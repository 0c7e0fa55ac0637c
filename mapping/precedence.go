package mapping

import (
	"cmp"

	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// entry is one route match placed on one VirtualHost for one effective
// hostname: the unit that precedence orders and that becomes an lb.Rule.
type entry struct {
	host  string // effective hostname, "" for any
	route *gwv1.HTTPRoute
	key   types.NamespacedName
	rule  int
	match int
	m     lb.Match
	act   lb.Action
	// groups are the target groups act forwards to.
	groups []lb.TargetGroup
}

// comparePrecedence orders entries as the HTTPRoute API requires, most
// important first:
//
//  1. hostname: more characters in an exact (non-wildcard) hostname, then
//     more characters in the hostname;
//  2. path: Exact, then RegularExpression (implementation-specific; longer
//     pattern first), then the longest PathPrefix;
//  3. a method match;
//  4. more header matches;
//  5. more query parameter matches;
//  6. the older route (creationTimestamp), then route namespace/name;
//  7. rule order, then match order within the route.
func comparePrecedence(a, b *entry) int {
	exactLen := func(h string) int {
		if isWildcard(h) {
			return 0
		}
		return len(h)
	}
	if c := cmp.Or(
		-cmp.Compare(exactLen(a.host), exactLen(b.host)),
		-cmp.Compare(len(a.host), len(b.host)),
		cmp.Compare(pathRank(a.m.Path), pathRank(b.m.Path)),
		-cmp.Compare(pathLen(a.m.Path), pathLen(b.m.Path)),
		-cmp.Compare(boolInt(a.m.Method != ""), boolInt(b.m.Method != "")),
		-cmp.Compare(len(a.m.Headers), len(b.m.Headers)),
		-cmp.Compare(len(a.m.Query), len(b.m.Query)),
	); c != 0 {
		return c
	}
	ta, tb := a.route.CreationTimestamp.Time, b.route.CreationTimestamp.Time
	if c := ta.Compare(tb); c != 0 {
		return c
	}
	return cmp.Or(
		cmp.Compare(a.key.Namespace, b.key.Namespace),
		cmp.Compare(a.key.Name, b.key.Name),
		cmp.Compare(a.rule, b.rule),
		cmp.Compare(a.match, b.match),
		// Same match on two hostnames of one VirtualHost: keep it total.
		cmp.Compare(a.host, b.host),
	)
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
