package mapping

import (
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// convertMatch turns one HTTPRouteMatch into an lb.Match, or says why the
// provider cannot realize it.
func (b *builder) convertMatch(m gwv1.HTTPRouteMatch) (lb.Match, problem) {
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
			// validateHTTPMatch has compiled the expression.
			path.Type = lb.MatchRegex
		default:
			return out, unsupportedValue("path match type %s is not supported", t)
		}
	}
	if !b.caps.PathMatch[path.Type] {
		return out, unsupportedValue("path match type %s is not supported by provider %s", path.Type, provider)
	}
	out.Path = &path

	headers, p := b.headerMatches(m.Headers)
	if !p.ok() {
		return out, p
	}
	out.Headers = headers

	seenQuery := map[string]bool{}
	for _, q := range m.QueryParams {
		name := string(q.Name)
		if seenQuery[name] {
			continue
		}
		seenQuery[name] = true
		t, p := b.valueMatchType(q.Type == nil || *q.Type == gwv1.QueryParamMatchExact,
			q.Type != nil && *q.Type == gwv1.QueryParamMatchRegularExpression, "query parameter", b.caps.QueryMatch)
		if !p.ok() {
			return out, p
		}
		out.Query = append(out.Query, lb.QueryMatch{Name: name, Type: t, Value: q.Value})
	}

	if m.Method != nil {
		if !b.caps.MethodMatch {
			return out, unsupportedValue("method matching is not supported by provider %s", provider)
		}
		out.Method = string(*m.Method)
	}
	return out, problem{}
}

// headerMatches converts header matches of either route kind (GRPCRoute's
// are carried in the HTTPRoute type, which has the same fields).
func (b *builder) headerMatches(hs []gwv1.HTTPHeaderMatch) ([]lb.HeaderMatch, problem) {
	var out []lb.HeaderMatch
	seen := map[string]bool{}
	for _, h := range hs {
		// Upstream: with equivalent (case-insensitive) names only the first
		// entry counts.
		name := strings.ToLower(string(h.Name))
		if seen[name] {
			continue
		}
		seen[name] = true
		t, p := b.valueMatchType(h.Type == nil || *h.Type == gwv1.HeaderMatchExact,
			h.Type != nil && *h.Type == gwv1.HeaderMatchRegularExpression, "header", b.caps.HeaderMatch)
		if !p.ok() {
			return nil, p
		}
		out = append(out, lb.HeaderMatch{Name: string(h.Name), Type: t, Value: h.Value})
	}
	return out, problem{}
}

// valueMatchType maps a header or query match type and checks it.
func (b *builder) valueMatchType(exact, regex bool, what string, supported map[lb.MatchType]bool) (lb.MatchType, problem) {
	var t lb.MatchType
	switch {
	case exact:
		t = lb.MatchExact
	case regex:
		// validateHTTPMatch has compiled the expression.
		t = lb.MatchRegex
	default:
		return "", unsupportedValue("%s match type is not supported", what)
	}
	if !supported[t] {
		return "", unsupportedValue("%s match type %s is not supported by provider %s", what, t, b.caps.Provider)
	}
	return t, problem{}
}
