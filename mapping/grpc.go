package mapping

import (
	"fmt"
	"regexp"
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// A gRPC call is an HTTP/2 POST to "/<package.Service>/<Method>", so
// GRPCRoute method matches become path matches and everything else
// (attachment, headers, filters, backends) is shared with HTTPRoute.

func grpcRoute(r *gwv1.GRPCRoute) *route {
	// Only what the conversion reads, never r (see httpRoute).
	namespace, name, rules := r.Namespace, r.Name, r.Spec.Rules
	return &route{
		kind:       kindGRPCRoute,
		key:        key(r.Namespace, r.Name),
		generation: r.Generation,
		created:    r.CreationTimestamp,
		parentRefs: r.Spec.ParentRefs,
		hostnames:  routeHostnames(r.Spec.Hostnames),
		values:     validateGRPCRoute(r),
		rules: func(b *builder) []ruleResult {
			out := make([]ruleResult, len(rules))
			for i := range rules {
				out[i] = b.convertGRPCRule(namespace, fmt.Sprintf("%s/%s/grpc/rule-%d", namespace, name, i), &rules[i])
			}
			return out
		},
	}
}

// convertGRPCRule turns one GRPCRouteRule into matches and an action. Its
// name (GRPCRouteNamedRouteRule) needs nothing, as for HTTPRoute.
func (b *builder) convertGRPCRule(routeNamespace, id string, rule *gwv1.GRPCRouteRule) ruleResult {
	var res ruleResult
	matches := rule.Matches
	if len(matches) == 0 {
		matches = []gwv1.GRPCRouteMatch{{}}
	}
	for _, m := range matches {
		rm, p := b.convertGRPCMatch(m)
		if !p.ok() {
			res.invalidate(p)
			continue
		}
		res.state.matches = append(res.state.matches, rm)
	}
	refs := make([]gwv1.HTTPBackendRef, 0, len(rule.BackendRefs))
	for _, r := range rule.BackendRefs {
		refs = append(refs, gwv1.HTTPBackendRef{BackendRef: r.BackendRef, Filters: httpFilters(r.Filters)})
	}
	b.ruleAction(kindGRPCRoute, routeNamespace, ruleSpec{
		filters:     httpFilters(rule.Filters),
		backendRefs: refs,
		//lint:ignore SA1019 deprecated in v1.7 (for XBackend) but still served, and realized (sessions.go)
		sessionPersistence: rule.SessionPersistence,
		id:                 id,
	}, &res)
	return res
}

// httpFilters carries GRPCRoute filters in the HTTPRoute filter type: the
// types they share have the same names and configuration structs.
func httpFilters(fs []gwv1.GRPCRouteFilter) []gwv1.HTTPRouteFilter {
	out := make([]gwv1.HTTPRouteFilter, 0, len(fs))
	for _, f := range fs {
		out = append(out, gwv1.HTTPRouteFilter{
			Type:                   gwv1.HTTPRouteFilterType(f.Type),
			RequestHeaderModifier:  f.RequestHeaderModifier,
			ResponseHeaderModifier: f.ResponseHeaderModifier,
			RequestMirror:          f.RequestMirror,
			ExtensionRef:           f.ExtensionRef,
		})
	}
	return out
}

// convertGRPCMatch turns one GRPCRouteMatch into an lb.Match, keeping the
// service and method lengths that rank it.
func (b *builder) convertGRPCMatch(m gwv1.GRPCRouteMatch) (ruleMatch, problem) {
	var out ruleMatch
	path := lb.PathMatch{Type: lb.MatchPrefix, Value: "/"}
	if m.Method != nil {
		var p problem
		path, out.service, out.method, p = grpcMethodPath(m.Method)
		if !p.ok() {
			return out, p
		}
	}
	if !b.caps.PathMatch[path.Type] {
		// Only service-only (Prefix) and method-only or regular
		// expression matches (Regex) can get here with a provider that
		// has Exact: those are implementation-specific upstream.
		return out, unsupportedValue("this gRPC method match needs path match type %s, which provider %s does not support",
			path.Type, b.caps.Provider)
	}
	out.m.Path = &path

	headers, p := b.headerMatches(grpcHeaderMatches(m.Headers))
	if !p.ok() {
		return out, p
	}
	out.m.Headers = headers
	return out, problem{}
}

// grpcMethodPath maps a method match to the path of the calls it matches,
// and returns the service and method lengths. An empty service or method
// matches any, as the API says.
func grpcMethodPath(mm *gwv1.GRPCMethodMatch) (lb.PathMatch, int, int, problem) {
	var service, method string
	if mm.Service != nil {
		service = *mm.Service
	}
	if mm.Method != nil {
		method = *mm.Method
	}
	fail := func(format string, a ...any) (lb.PathMatch, int, int, problem) {
		return lb.PathMatch{}, 0, 0, unsupportedValue(format, a...)
	}
	if service == "" && method == "" {
		return fail("a gRPC method match needs a service or a method")
	}
	t := gwv1.GRPCMethodMatchExact
	if mm.Type != nil {
		t = *mm.Type
	}
	var path lb.PathMatch
	switch t {
	case gwv1.GRPCMethodMatchExact:
		// The API server checks the characters; a "/" would make the
		// path match something other than one service or method.
		if strings.Contains(service, "/") || strings.Contains(method, "/") {
			return fail("an exact gRPC service or method cannot contain \"/\"")
		}
		switch {
		case method == "":
			// Prefix matches whole segments: "/pkg.Svc/" takes every
			// method of pkg.Svc and not those of pkg.SvcV2.
			path = lb.PathMatch{Type: lb.MatchPrefix, Value: "/" + service + "/"}
		case service == "":
			path = lb.PathMatch{Type: lb.MatchRegex, Value: "/[^/]+/" + regexp.QuoteMeta(method)}
		default:
			path = lb.PathMatch{Type: lb.MatchExact, Value: "/" + service + "/" + method}
		}
	case gwv1.GRPCMethodMatchRegularExpression:
		// validateGRPCMethod has compiled each part and the whole.
		path = lb.PathMatch{Type: lb.MatchRegex, Value: grpcRegexPath(service, method)}
	default:
		return fail("gRPC method match type %s is not supported", t)
	}
	return path, len(service), len(method), problem{}
}

// grpcRegexPath is the path regex of a RegularExpression method match. Each
// part goes in a group of its own, so that neither can change what the
// other matches (validateGRPCMethod has checked that each compiles alone);
// an empty part matches any one segment.
func grpcRegexPath(service, method string) string {
	part := func(re string) string {
		if re == "" {
			return "[^/]+"
		}
		return "(?:" + re + ")"
	}
	return "/" + part(service) + "/" + part(method)
}
