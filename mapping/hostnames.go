package mapping

import (
	"cmp"
	"strings"
)

// Hostnames here are lowercase RFC 1123 names, wildcards "*.suffix" (a
// suffix match on whole labels: "*.example.com" matches "a.example.com" and
// "a.b.example.com", not "example.com"), or "" for any host.

func isWildcard(h string) bool { return strings.HasPrefix(h, "*.") }

// covers reports whether every host that inner matches is also matched by
// outer.
func covers(outer, inner string) bool {
	switch {
	case outer == "":
		return true
	case inner == "":
		return false
	case !isWildcard(outer):
		return outer == inner
	}
	suffix := outer[1:] // ".example.com"
	if isWildcard(inner) {
		return inner == outer || strings.HasSuffix(inner[1:], suffix)
	}
	return len(inner) > len(suffix) && strings.HasSuffix(inner, suffix)
}

// intersect returns the hostnames a route serves through a listener: the
// route hostnames the listener hostname allows, narrowed to the listener's
// when the listener's is the more specific. A route without hostnames takes
// the listener's. Empty means no intersection.
func intersect(listener string, route []string) []string {
	listener = strings.ToLower(listener)
	if len(route) == 0 {
		return []string{listener}
	}
	var out []string
	seen := map[string]bool{}
	add := func(h string) {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	for _, r := range route {
		r = strings.ToLower(r)
		switch {
		case covers(listener, r):
			add(r)
		case covers(r, listener):
			add(listener)
		}
	}
	return out
}

// routeHostname returns the route's own hostname behind host, a name
// intersect gave for it on some listener: the most specific of hostnames
// that covers host, or "" when the route has none (it then matches every
// host, the least specific hostname). Several may give one name (on
// listener a.example.com both "a.example.com" and "*.example.com" give
// "a.example.com"); the most specific is the one a request for host
// matches best, and precedence ranks the route by it (compareHostnames).
func routeHostname(hostnames []string, host string) string {
	best := ""
	for _, h := range hostnames {
		h = strings.ToLower(h)
		if covers(h, host) && (best == "" || compareHostnames(h, best) < 0) {
			best = h
		}
	}
	return best
}

// compareHostSpecificity orders virtual host names most specific first:
// exact names, then wildcards with more labels (then longer), then "".
// Ties break alphabetically so the order is total.
func compareHostSpecificity(a, b string) int {
	rank := func(h string) int {
		switch {
		case h == "":
			return 2
		case isWildcard(h):
			return 1
		}
		return 0
	}
	return cmp.Or(
		cmp.Compare(rank(a), rank(b)),
		-cmp.Compare(strings.Count(a, "."), strings.Count(b, ".")),
		-cmp.Compare(len(a), len(b)),
		cmp.Compare(a, b),
	)
}
