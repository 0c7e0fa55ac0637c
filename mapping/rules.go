package mapping

import (
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// ruleState is one converted route rule: a Match per HTTPRouteMatch and the
// action they share.
type ruleState struct {
	matches []lb.Match
	action  lb.Action
	// groups are every target group the action uses: forward and mirrors.
	groups []lb.TargetGroup
}

// ruleResult is a converted rule and what was wrong with it: invalid makes
// the route not Accepted (UnsupportedValue or IncompatibleFilters), refs is
// the first reference that did not resolve (ResolvedRefs=False).
type ruleResult struct {
	state   ruleState
	invalid problem
	refs    problem
}

// convertRule turns one HTTPRouteRule into matches and an action, and
// checks that Cloudgate and the provider can realize all of it. A rule's
// name (HTTPRouteNamedRouteRule) needs nothing here: lb rule ids stay
// positional so that naming a rule later does not rename its cloud rule.
func (b *builder) convertRule(routeNamespace string, rule *gwv1.HTTPRouteRule) ruleResult {
	var res ruleResult
	invalid := func(p problem) {
		if res.invalid.ok() {
			res.invalid = p
		}
	}
	refs := func(p problem) {
		if res.refs.ok() {
			res.refs = p
		}
	}

	matches := rule.Matches
	if len(matches) == 0 {
		matches = []gwv1.HTTPRouteMatch{{}}
	}
	for _, m := range matches {
		lm, p := b.convertMatch(m)
		if !p.ok() {
			invalid(p)
			continue
		}
		res.state.matches = append(res.state.matches, lm)
	}

	filters := b.ruleFilters(routeNamespace, rule.Filters)
	invalid(filters.invalid)
	refs(filters.refs)
	invalid(checkPrefixRewrite(filters.set, res.state.matches))
	timeouts, p := b.ruleTimeouts(rule.Timeouts)
	invalid(p)
	if rule.Retry != nil {
		invalid(unsupportedValue("rule retry is not supported by provider %s", b.caps.Provider))
	}
	if rule.SessionPersistence != nil {
		invalid(unsupportedValue("session persistence is not supported by provider %s", b.caps.Provider))
	}

	fw := b.forward(routeNamespace, rule.BackendRefs)
	invalid(fw.invalid)
	refs(fw.refs)

	fs := filters.set
	act := lb.Action{
		RequestHeaders:  fs.request,
		ResponseHeaders: fs.response,
		Rewrite:         fs.rewrite,
		Mirrors:         fs.mirrors,
		Timeouts:        timeouts,
	}
	switch {
	case fs.redirect != nil:
		// The API server refuses a redirect next to backendRefs: which of
		// the two the user meant cannot be known.
		if len(rule.BackendRefs) > 0 {
			invalid(unsupportedValue("a rule with a RequestRedirect filter cannot have backendRefs"))
		}
		act.Redirect = fs.redirect
		res.state.groups = fs.groups
	case len(fw.backends) > 0:
		act.Forward = fw.backends
		res.state.groups = append(fw.groups, fs.groups...)
	default:
		// Nothing valid to forward to (no backendRefs, as in a rule with
		// only header modifiers, or none valid): the API asks for 500.
		// Only the response modifier still has something to act on;
		// mirroring requests whose answer is a fixed error would load a
		// backend for traffic the user's configuration fails.
		act = fixed500()
		act.ResponseHeaders = fs.response
	}
	res.state.action = act
	// Forward and mirror may name the same Service port.
	res.state.groups = dedupGroups(res.state.groups)
	return res
}

func dedupGroups(groups []lb.TargetGroup) []lb.TargetGroup {
	var out []lb.TargetGroup
	for _, g := range groups {
		out = appendGroup(out, g)
	}
	return out
}
