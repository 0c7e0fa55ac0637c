package urlmapplane

import (
	"cmp"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// This file picks what answers a request from one URL map: a pure function
// of the compiled map and the request, so that the documentation's
// examples are table tests (match_test.go).
//
// Sources, by the page that states each rule:
//   - URL maps overview (https://cloud.google.com/load-balancing/docs/url-map-concepts):
//     a host rule sends the hosts it lists to one path matcher; a request
//     whose host no host rule lists goes to the URL map's default service;
//     a path matcher's default service serves the paths its rules do not.
//   - The regionUrlMaps REST reference
//     (https://cloud.google.com/compute/docs/reference/rest/v1/regionUrlMaps),
//     field by field: hostRules[].hosts ("*" matches any string of
//     [a-z0-9-.]*, first character only, followed by "-" or "."; hosts may
//     carry ":port"); pathMatchers[].pathRules[].paths ("*" only at the end
//     after a "/"; longest path first, whatever the order); routeRules
//     ("evaluated in order of priority, from the lowest to highest number.
//     The first rule that matches the request is applied"; matchRules are
//     ORed, the predicates of one matchRule ANDed); matchRules[].prefixMatch,
//     fullPathMatch, regexMatch, pathTemplateMatch, ignoreCase;
//     headerMatches[] (exact, prefix, suffix, regex, present, range with an
//     exclusive end, invertMatch; ":authority" and ":method" name the host
//     and the method); queryParameterMatches[] (the parameter must exist;
//     exact, regex, present).
//   - Traffic management overview for regional external Application Load
//     Balancers (https://cloud.google.com/load-balancing/docs/https/traffic-management-regional):
//     route rules, rule matches and rule actions are the URL map's part of
//     traffic management; regular expressions are RE2.
//
// Where the pages say nothing the plane takes Envoy's behaviour (the
// regional Application Load Balancer is built on it), and says so:
// regular expressions must match the whole value; among wildcard hosts
// the longest wins, and "*" comes last; several values of one header are
// matched joined with ",".

// urlMap is one URL map, compiled: regexes and templates parsed, rules
// sorted, links resolved to refs.
type urlMap struct {
	name     string
	def      target
	headers  *computepb.HttpHeaderAction
	hosts    []hostRule
	matchers map[string]*pathMatcher
}

type hostRule struct {
	pattern string // lowercase, as written
	matcher string
}

type pathMatcher struct {
	name      string
	def       target
	headers   *computepb.HttpHeaderAction
	pathRules []pathRule // longest first
	routes    []routeRule
}

type pathRule struct {
	path   string // without the trailing "*"
	prefix bool
	target target
}

type routeRule struct {
	priority    int32
	description string
	matches     []matchRule
	target      target
	headers     *computepb.HttpHeaderAction
}

// matchRule is one HttpRouteRuleMatch with its regexes compiled.
type matchRule struct {
	src      *computepb.HttpRouteRuleMatch
	regex    *regexp.Regexp // regexMatch, anchored
	template *pathTemplate
	headers  []headerMatch
	query    []queryMatch
	// err is why the rule cannot match (a regex that does not compile).
	err error
}

type headerMatch struct {
	src   *computepb.HttpHeaderMatch
	regex *regexp.Regexp
}

type queryMatch struct {
	src   *computepb.HttpQueryParameterMatch
	regex *regexp.Regexp
}

// target is what a rule, a path matcher or the map sends to: a backend
// service, a route action, a redirect.
type target struct {
	service  string // a backend service ref, or ""
	action   *computepb.HttpRouteAction
	redirect *computepb.HttpRedirectAction
}

func (t target) empty() bool { return t.service == "" && t.action == nil && t.redirect == nil }

// anchored compiles an RE2 expression that must match the whole value.
func anchored(expr string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + expr + `)$`)
}

// compileURLMap compiles um; refs turns links into refs. A part that
// cannot compile (a bad regex) leaves its rule unable to match and is
// returned in the problems, so that one bad rule never takes the map down.
func compileURLMap(um *computepb.UrlMap, refs func(string) string) (*urlMap, []error) {
	var problems []error
	tgt := func(service string, action *computepb.HttpRouteAction, redirect *computepb.HttpRedirectAction) target {
		t := target{action: action, redirect: redirect}
		if service != "" {
			t.service = refs(service)
		}
		return t
	}
	out := &urlMap{
		name:     um.GetName(),
		def:      tgt(um.GetDefaultService(), um.GetDefaultRouteAction(), um.GetDefaultUrlRedirect()),
		headers:  um.GetHeaderAction(),
		matchers: map[string]*pathMatcher{},
	}
	for _, hr := range um.GetHostRules() {
		for _, h := range hr.GetHosts() {
			out.hosts = append(out.hosts, hostRule{pattern: strings.ToLower(h), matcher: hr.GetPathMatcher()})
		}
	}
	for _, pm := range um.GetPathMatchers() {
		m := &pathMatcher{
			name:    pm.GetName(),
			def:     tgt(pm.GetDefaultService(), pm.GetDefaultRouteAction(), pm.GetDefaultUrlRedirect()),
			headers: pm.GetHeaderAction(),
		}
		for _, pr := range pm.GetPathRules() {
			t := tgt(pr.GetService(), pr.GetRouteAction(), pr.GetUrlRedirect())
			for _, p := range pr.GetPaths() {
				rule := pathRule{path: p, target: t}
				if strings.HasSuffix(p, "/*") {
					rule.path, rule.prefix = strings.TrimSuffix(p, "*"), true
				}
				m.pathRules = append(m.pathRules, rule)
			}
		}
		// Longest path first; at equal length an exact path before a
		// prefix ("/a/" before "/a/*").
		slices.SortStableFunc(m.pathRules, func(a, b pathRule) int {
			if c := cmp.Compare(len(b.path), len(a.path)); c != 0 {
				return c
			}
			switch {
			case a.prefix == b.prefix:
				return 0
			case !a.prefix:
				return -1
			}
			return 1
		})
		for _, rr := range pm.GetRouteRules() {
			r := routeRule{
				priority:    rr.GetPriority(),
				description: rr.GetDescription(),
				target:      tgt(rr.GetService(), rr.GetRouteAction(), rr.GetUrlRedirect()),
				headers:     rr.GetHeaderAction(),
			}
			for _, mr := range rr.GetMatchRules() {
				c := compileMatchRule(mr)
				if c.err != nil {
					problems = append(problems, fmt.Errorf("URL map %s, path matcher %s, route rule %d: %w", um.GetName(), pm.GetName(), rr.GetPriority(), c.err))
				}
				r.matches = append(r.matches, c)
			}
			m.routes = append(m.routes, r)
		}
		slices.SortStableFunc(m.routes, func(a, b routeRule) int { return cmp.Compare(a.priority, b.priority) })
		out.matchers[m.name] = m
	}
	return out, problems
}

func compileMatchRule(mr *computepb.HttpRouteRuleMatch) matchRule {
	c := matchRule{src: mr}
	var err error
	if mr.RegexMatch != nil {
		if c.regex, err = anchored(mr.GetRegexMatch()); err != nil {
			c.err = fmt.Errorf("regexMatch %q: %w", mr.GetRegexMatch(), err)
		}
	}
	if mr.PathTemplateMatch != nil {
		if c.template, err = parsePathTemplate(mr.GetPathTemplateMatch()); err != nil {
			c.err = err
		}
	}
	for _, h := range mr.GetHeaderMatches() {
		hm := headerMatch{src: h}
		if h.RegexMatch != nil {
			if hm.regex, err = anchored(h.GetRegexMatch()); err != nil {
				c.err = fmt.Errorf("header %s regexMatch %q: %w", h.GetHeaderName(), h.GetRegexMatch(), err)
			}
		}
		c.headers = append(c.headers, hm)
	}
	for _, q := range mr.GetQueryParameterMatches() {
		qm := queryMatch{src: q}
		if q.RegexMatch != nil {
			if qm.regex, err = anchored(q.GetRegexMatch()); err != nil {
				c.err = fmt.Errorf("query parameter %s regexMatch %q: %w", q.GetName(), q.GetRegexMatch(), err)
			}
		}
		c.query = append(c.query, qm)
	}
	return c
}

// httpsRedirects says whether any redirect of the map sets httpsRedirect.
func (um *urlMap) httpsRedirects() bool {
	if um == nil {
		return false
	}
	targets := []target{um.def}
	for _, pm := range um.matchers {
		targets = append(targets, pm.def)
		for _, pr := range pm.pathRules {
			targets = append(targets, pr.target)
		}
		for _, rr := range pm.routes {
			targets = append(targets, rr.target)
		}
	}
	for _, t := range targets {
		if t.redirect.GetHttpsRedirect() {
			return true
		}
	}
	return false
}

// decision is what answers one request.
type decision struct {
	target target
	// headers are the header actions to apply after the chosen weighted
	// backend service's own, in the documented order: the route rule's,
	// the path matcher's, the URL map's.
	headers []*computepb.HttpHeaderAction
	// matched is the part of the path the rule matched, for
	// pathPrefixRewrite and prefixRedirect; vars are a path template's
	// captures, for pathTemplateRewrite.
	matched string
	vars    map[string]string
	// rule names what matched, for logs and tests: "default", the path
	// matcher's name, "pm/priority 10", "pm/path /a/*".
	rule string
}

// requestView is what matching reads of a request.
type requestView struct {
	host   string // the Host header, port included if sent
	method string
	path   string // escaped path, no query
	query  url.Values
	header http.Header
	scheme string
}

func viewOf(r *http.Request, scheme string) requestView {
	return requestView{host: r.Host, method: r.Method, path: r.URL.EscapedPath(), query: r.URL.Query(), header: r.Header, scheme: scheme}
}

// route decides what answers req.
func (um *urlMap) route(req requestView) decision {
	pm := um.pathMatcherFor(req.host)
	if pm == nil {
		return decision{target: um.def, headers: compact(um.headers), matched: "/", rule: "default"}
	}
	heads := func(rule *computepb.HttpHeaderAction) []*computepb.HttpHeaderAction {
		return compact(rule, pm.headers, um.headers)
	}
	for _, rr := range pm.routes {
		if d, ok := rr.match(req); ok {
			d.target, d.headers = rr.target, heads(rr.headers)
			d.rule = fmt.Sprintf("%s/priority %d", pm.name, rr.priority)
			return d
		}
	}
	for _, pr := range pm.pathRules {
		if pr.prefix && strings.HasPrefix(req.path, pr.path) || !pr.prefix && req.path == pr.path {
			star := ""
			if pr.prefix {
				star = "*"
			}
			return decision{target: pr.target, headers: heads(nil), matched: pr.path, rule: pm.name + "/path " + pr.path + star}
		}
	}
	if pm.def.empty() {
		// A path matcher without a default of its own: the map's.
		return decision{target: um.def, headers: heads(nil), matched: "/", rule: pm.name}
	}
	return decision{target: pm.def, headers: heads(nil), matched: "/", rule: pm.name}
}

func compact(hs ...*computepb.HttpHeaderAction) []*computepb.HttpHeaderAction {
	var out []*computepb.HttpHeaderAction
	for _, h := range hs {
		if h != nil {
			out = append(out, h)
		}
	}
	return out
}

// pathMatcherFor is the path matcher of the most specific host rule that
// lists host: an exact host, then the longest wildcard, then "*".
func (um *urlMap) pathMatcherFor(host string) *pathMatcher {
	host = strings.ToLower(host)
	bare := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		bare = h
	}
	best, bestRank := "", -1
	for _, hr := range um.hosts {
		against := bare
		if strings.Contains(strings.TrimPrefix(hr.pattern, "["), ":") && !strings.HasSuffix(hr.pattern, "]") {
			against = host // a pattern with a port compares with one
		}
		rank := hostRank(hr.pattern, against)
		if rank > bestRank {
			best, bestRank = hr.matcher, rank
		}
	}
	if bestRank < 0 {
		return nil
	}
	return um.matchers[best]
}

// hostRank is how specifically pattern takes host: -1 not at all, 0 for
// "*", 1+len for a wildcard, a rank above every wildcard for an exact
// host.
func hostRank(pattern, host string) int {
	switch {
	case pattern == "*":
		return 0
	case strings.HasPrefix(pattern, "*"):
		suffix := pattern[1:]
		rest, ok := strings.CutSuffix(host, suffix)
		if !ok || strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz0123456789-.") != "" {
			return -1
		}
		return 1 + len(suffix)
	case pattern == host:
		return 1 << 20
	}
	return -1
}

// match says whether any of the rule's match rules takes req. A rule
// without match rules takes every request (the reference does not say;
// the URL map API refuses none).
func (rr routeRule) match(req requestView) (decision, bool) {
	if len(rr.matches) == 0 {
		return decision{matched: "/"}, true
	}
	for _, m := range rr.matches {
		if d, ok := m.match(req); ok {
			return d, true
		}
	}
	return decision{}, false
}

func (m matchRule) match(req requestView) (decision, bool) {
	if m.err != nil {
		return decision{}, false
	}
	d, ok := m.matchPath(req.path)
	if !ok {
		return decision{}, false
	}
	for _, h := range m.headers {
		if !h.match(req) {
			return decision{}, false
		}
	}
	for _, q := range m.query {
		if !q.match(req.query) {
			return decision{}, false
		}
	}
	return d, true
}

func (m matchRule) matchPath(path string) (decision, bool) {
	src := m.src
	fold := func(s string) string {
		if src.GetIgnoreCase() {
			return strings.ToLower(s)
		}
		return s
	}
	switch {
	case src.PrefixMatch != nil:
		p := src.GetPrefixMatch()
		return decision{matched: p}, strings.HasPrefix(fold(path), fold(p))
	case src.FullPathMatch != nil:
		return decision{matched: path}, fold(path) == fold(src.GetFullPathMatch())
	case m.regex != nil:
		return decision{matched: path}, m.regex.MatchString(path)
	case m.template != nil:
		vars, ok := m.template.match(path)
		return decision{matched: path, vars: vars}, ok
	}
	// No path predicate: the API requires one; taking every path is the
	// lenient reading.
	return decision{matched: "/"}, true
}

// headerValue is the request's value of a header, the pseudo-headers
// included, and whether it has one.
func headerValue(req requestView, name string) (string, bool) {
	switch strings.ToLower(name) {
	case ":authority", "host":
		return req.host, true
	case ":method":
		return req.method, true
	case ":path":
		if len(req.query) > 0 {
			return req.path + "?" + req.query.Encode(), true
		}
		return req.path, true
	case ":scheme":
		return req.scheme, true
	}
	vs, ok := req.header[http.CanonicalHeaderKey(name)]
	if !ok {
		return "", false
	}
	return strings.Join(vs, ","), true
}

func (h headerMatch) match(req requestView) bool {
	src := h.src
	v, present := headerValue(req, src.GetHeaderName())
	var ok bool
	switch {
	case src.PresentMatch != nil:
		ok = present == src.GetPresentMatch()
	case !present:
		ok = false
	case src.ExactMatch != nil:
		ok = v == src.GetExactMatch()
	case src.PrefixMatch != nil:
		ok = strings.HasPrefix(v, src.GetPrefixMatch())
	case src.SuffixMatch != nil:
		ok = strings.HasSuffix(v, src.GetSuffixMatch())
	case h.regex != nil:
		ok = h.regex.MatchString(v)
	case src.RangeMatch != nil:
		n, err := strconv.ParseInt(v, 10, 64)
		ok = err == nil && n >= src.GetRangeMatch().GetRangeStart() && n < src.GetRangeMatch().GetRangeEnd()
	default:
		// No criterion: the header's presence.
		ok = present
	}
	// invertMatch: "considered a match if the preceding match criteria
	// are NOT met", an absent header included.
	return ok != src.GetInvertMatch()
}

func (q queryMatch) match(query url.Values) bool {
	src := q.src
	vs, present := query[src.GetName()]
	if !present {
		// "The query parameter must exist in the request, in the
		// absence of which the request match fails."
		return false
	}
	v := ""
	if len(vs) > 0 {
		v = vs[0]
	}
	switch {
	case src.PresentMatch != nil:
		return src.GetPresentMatch()
	case src.ExactMatch != nil:
		return v == src.GetExactMatch()
	case q.regex != nil:
		return q.regex.MatchString(v)
	}
	return true
}
