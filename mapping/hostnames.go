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
