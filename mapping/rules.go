package mapping

import (
	"fmt"
	"slices"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// ruleState is one converted route rule: a Match per route match and the
// action they share.
type ruleState struct {
	matches []ruleMatch
	action  lb.Action
	// groups are every target group the action uses: forward and mirrors.
	groups []lb.TargetGroup
}

// ruleMatch is one converted route match. service and method are the
// lengths of a GRPCRoute match's service and method, which GRPCRoute
// precedence ranks by; the lb.Match no longer shows them.
type ruleMatch struct {
	m               lb.Match
	service, method int
}

// ruleResult is a converted rule and what was wrong with it: invalid makes
// the route not Accepted (UnsupportedValue or IncompatibleFilters), refs is
// the first reference that did not resolve (ResolvedRefs=False).
type ruleResult struct {
	state   ruleState
	invalid problem
	refs    problem
}

// invalidate and unresolved record the first problem of their kind.
func (r *ruleResult) invalidate(p problem) {
	if r.invalid.ok() {
		r.invalid = p
	}
}

func (r *ruleResult) unresolved(p problem) {
	if r.refs.ok() {
		r.refs = p
	}
}

// ruleSpec is the part of a rule of either kind that turns into an action.
// A GRPCRoute's filters and backendRefs are carried in the HTTPRoute types,
// which hold every field of theirs; the kind decides which filter types
// are allowed (filterAllowed).
type ruleSpec struct {
	filters            []gwv1.HTTPRouteFilter
	backendRefs        []gwv1.HTTPBackendRef
	timeouts           *gwv1.HTTPRouteTimeouts
	retry              *gwv1.HTTPRouteRetry
	sessionPersistence *gwv1.SessionPersistence
	// id names the route rule ("namespace/route/rule-i"), which a
	// generated session cookie name derives from.
	id string
}

func httpRoute(r *gwv1.HTTPRoute) *route {
	// The conversion keeps only what it reads, never r: r points into the
	// reconciler's list of every route, and a Cache keeps routes for as
	// long as they do not change, so capturing r would keep one whole
	// list alive per Build that converted something.
	namespace, name, rules := r.Namespace, r.Name, r.Spec.Rules
	return &route{
		kind:       kindHTTPRoute,
		key:        key(r.Namespace, r.Name),
		generation: r.Generation,
		created:    r.CreationTimestamp,
		parentRefs: r.Spec.ParentRefs,
		hostnames:  routeHostnames(r.Spec.Hostnames),
		values:     validateHTTPRoute(r),
		rules: func(b *builder) []ruleResult {
			out := make([]ruleResult, len(rules))
			for i := range rules {
				out[i] = b.convertHTTPRule(namespace, fmt.Sprintf("%s/%s/rule-%d", namespace, name, i), &rules[i])
			}
			return out
		},
	}
}

// convertHTTPRule turns one HTTPRouteRule into matches and an action, and
// checks that Cloudgate and the provider can realize all of it. A rule's
// name (HTTPRouteNamedRouteRule) needs nothing here: lb rule ids stay
// positional so that naming a rule later does not rename its cloud rule.
func (b *builder) convertHTTPRule(routeNamespace, id string, rule *gwv1.HTTPRouteRule) ruleResult {
	var res ruleResult
	matches := rule.Matches
	if len(matches) == 0 {
		matches = []gwv1.HTTPRouteMatch{{}}
	}
	for _, m := range matches {
		lm, p := b.convertMatch(m)
		if !p.ok() {
			res.invalidate(p)
			continue
		}
		res.state.matches = append(res.state.matches, ruleMatch{m: lm})
	}
	b.ruleAction(kindHTTPRoute, routeNamespace, ruleSpec{
		filters:     rule.Filters,
		backendRefs: rule.BackendRefs,
		timeouts:    rule.Timeouts,
		retry:       rule.Retry,
		//lint:ignore SA1019 deprecated in v1.7 (for XBackend) but still served, and realized (sessions.go)
		sessionPersistence: rule.SessionPersistence,
		id:                 id,
	}, &res)
	return res
}

// ruleAction converts a rule's filters, timeouts, retry and backendRefs
// into the action its matches share, for either kind of route.
func (b *builder) ruleAction(kind routeKind, routeNamespace string, spec ruleSpec, res *ruleResult) {
	filters := b.ruleFilters(kind, routeNamespace, spec.filters)
	res.invalidate(filters.invalid)
	res.unresolved(filters.refs)
	res.invalidate(b.checkPathRewrite(filters.set, res.state.matches))
	timeouts, p := b.ruleTimeouts(spec.timeouts)
	res.invalidate(p)
	retry, p := b.ruleRetry(spec.retry)
	res.invalidate(p)
	session, p := b.ruleSession(spec.id, spec.sessionPersistence)
	res.invalidate(p)

	fw := b.forward(kind, routeNamespace, spec.backendRefs)
	res.invalidate(fw.invalid)
	res.unresolved(fw.refs)
	if session != nil && len(fw.backends) > 0 {
		res.invalidate(b.persist(session, &fw))
	}
	res.invalidate(b.checkBackendRewrites(fw.rewrites, res.state.matches))

	fs := filters.set
	act := lb.Action{
		RequestHeaders:  fs.request,
		ResponseHeaders: fs.response,
		Rewrite:         fs.rewrite,
		Mirrors:         fs.mirrors,
		Timeouts:        timeouts,
		CORS:            fs.cors,
	}
	switch {
	case fs.redirect != nil:
		// The API server refuses a redirect next to backendRefs: which of
		// the two the user meant cannot be known.
		if len(spec.backendRefs) > 0 {
			res.invalidate(unsupportedValue("a rule with a RequestRedirect filter cannot have backendRefs"))
		}
		act.Redirect = fs.redirect
		res.state.groups = fs.groups
	case len(fw.backends) > 0:
		act.Forward = fw.backends
		act.Retry = retry
		if slices.ContainsFunc(fw.backends, func(w lb.WeightedBackend) bool { return w.TargetGroup == "" }) {
			// The share of invalid backends answers what the whole rule
			// would (failure), when that is not the model's default 500.
			if code := failure(kind).FixedResponse.StatusCode; code != 500 {
				act.InvalidBackendStatus = code
			}
		}
		act.SessionPersistence = session
		res.state.groups = append(fw.groups, fs.groups...)
	default:
		// Nothing valid to forward to (no backendRefs, as in a rule with
		// only header modifiers, or none valid): the API asks for an
		// error (HTTP 500, gRPC UNAVAILABLE). Only the response modifier
		// and CORS (which lets a page's script read the error, and
		// answers its preflights) still have something to act on;
		// mirroring requests whose answer is a fixed error would load a
		// backend for traffic the user's configuration fails.
		act = failure(kind)
		act.ResponseHeaders = fs.response
		act.CORS = fs.cors
		if !b.caps.FixedResponse {
			res.invalidate(unsupportedValue("a rule with no valid backend answers %d, but provider %s cannot answer with a fixed response",
				act.FixedResponse.StatusCode, b.caps.Provider))
		}
	}
	res.state.action = act
	// Forward and mirror may name the same Service port.
	res.state.groups = dedupGroups(res.state.groups)
	b.ruleLimits(spec, res)
}

// failure answers a rule whose traffic has nowhere valid to go: HTTP 500
// for an HTTPRoute; 503 for a GRPCRoute, since the API asks for gRPC
// status UNAVAILABLE and gRPC clients read an HTTP 503 as exactly that
// (the gRPC spec's HTTP-to-status mapping), which every provider can
// answer without speaking gRPC itself.
func failure(kind routeKind) lb.Action {
	code := 500
	if kind == kindGRPCRoute {
		code = 503
	}
	return lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: code}}
}

func dedupGroups(groups []lb.TargetGroup) []lb.TargetGroup {
	var out []lb.TargetGroup
	for _, g := range groups {
		out = appendGroup(out, g)
	}
	return out
}
