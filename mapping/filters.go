package mapping

import (
	"time"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// filterSet is what a rule's filters ask for, converted to the model.
type filterSet struct {
	request, response *lb.HeaderModifier
	redirect          *lb.Redirect
	rewrite           *lb.Rewrite
	mirrors           []lb.Mirror
	cors              *lb.CORS
	// groups are the mirrors' target groups.
	groups []lb.TargetGroup
}

// filterResult is a rule's converted filters and what was wrong with them:
// invalid makes the route not Accepted, refs is the first mirror backend
// that did not resolve (that mirror is dropped, the route stays).
type filterResult struct {
	set     filterSet
	invalid problem
	refs    problem
}

// singleUse lists the filters a rule or backendRef may carry at most once. The
// API server's validation refuses repeats already; this guards routes
// stored before that validation existed.
var singleUse = []gwv1.HTTPRouteFilterType{
	gwv1.HTTPRouteFilterRequestHeaderModifier,
	gwv1.HTTPRouteFilterResponseHeaderModifier,
	gwv1.HTTPRouteFilterRequestRedirect,
	gwv1.HTTPRouteFilterURLRewrite,
	gwv1.HTTPRouteFilterCORS,
}

// ruleFilters converts a rule's filters. Every filter is checked against
// the provider's capabilities; the first that cannot be realized makes the
// whole route invalid, since a route with a filter silently skipped would
// send traffic somewhere the user did not ask for.
func (b *builder) ruleFilters(kind routeKind, routeNamespace string, filters []gwv1.HTTPRouteFilter) filterResult {
	var res filterResult
	invalid := func(p problem) {
		if res.invalid.ok() {
			res.invalid = p
		}
	}
	count := map[gwv1.HTTPRouteFilterType]int{}
	for _, f := range filters {
		count[f.Type]++
		if !filterAllowed(kind, f.Type) {
			invalid(unsupportedValue("%s filter %s is not supported by provider %s", kind, f.Type, b.caps.Provider))
			continue
		}
		switch f.Type {
		case gwv1.HTTPRouteFilterRequestHeaderModifier:
			m, p := b.headerModifier(kind, f.Type, f.RequestHeaderModifier, b.caps.RequestHeaderModifier)
			invalid(p)
			res.set.request = m
		case gwv1.HTTPRouteFilterResponseHeaderModifier:
			m, p := b.headerModifier(kind, f.Type, f.ResponseHeaderModifier, b.caps.ResponseHeaderModifier)
			invalid(p)
			res.set.response = m
		case gwv1.HTTPRouteFilterRequestRedirect:
			r, p := b.redirect(f.RequestRedirect)
			invalid(p)
			res.set.redirect = r
		case gwv1.HTTPRouteFilterURLRewrite:
			r, p := b.rewrite(f.URLRewrite)
			invalid(p)
			res.set.rewrite = r
		case gwv1.HTTPRouteFilterRequestMirror:
			m, tg, bad, refs := b.mirror(kind, routeNamespace, f.RequestMirror)
			invalid(bad)
			// A mirror whose backend must not be connected to (quiet)
			// is dropped without a word on the route: its
			// BackendTLSPolicy's status says why.
			if res.refs.ok() && !refs.quiet {
				res.refs = refs
			}
			if bad.ok() && refs.ok() {
				res.set.mirrors = append(res.set.mirrors, m)
				res.set.groups = appendGroup(res.set.groups, tg)
			}
		case gwv1.HTTPRouteFilterCORS:
			c, p := b.cors(f.CORS)
			invalid(p)
			res.set.cors = c
		default:
			// ExtensionRef, ExternalAuth and types added later.
			invalid(unsupportedValue("%s filter %s is not supported by provider %s", kind, f.Type, b.caps.Provider))
		}
	}
	for _, t := range singleUse {
		if count[t] > 1 {
			invalid(incompatibleFilters("filter %s may appear only once in a rule", t))
		}
	}
	if count[gwv1.HTTPRouteFilterRequestRedirect] > 0 && count[gwv1.HTTPRouteFilterURLRewrite] > 0 {
		invalid(incompatibleFilters("filters RequestRedirect and URLRewrite cannot be combined in one rule"))
	}
	return res
}

// grpcFilters are the filter types a GRPCRoute may carry that Cloudgate
// realizes: its Core header modifiers and the Extended RequestMirror. The
// API has no redirect or rewrite for gRPC.
var grpcFilters = map[gwv1.HTTPRouteFilterType]bool{
	gwv1.HTTPRouteFilterRequestHeaderModifier:  true,
	gwv1.HTTPRouteFilterResponseHeaderModifier: true,
	gwv1.HTTPRouteFilterRequestMirror:          true,
}

// filterAllowed says whether a route of kind may use a filter type at all.
// An HTTPRoute's types are all checked in ruleFilters' switch.
func filterAllowed(kind routeKind, t gwv1.HTTPRouteFilterType) bool {
	return kind != kindGRPCRoute || grpcFilters[t]
}

// backendFilters converts the filters of one backendRef. The model has
// per-backend header modifiers and URL rewrites; the Gateway API makes
// every other backendRef filter Extended or implementation-specific.
func (b *builder) backendFilters(kind routeKind, filters []gwv1.HTTPRouteFilter) (request, response *lb.HeaderModifier, rewrite *lb.Rewrite, p problem) {
	note := func(q problem) {
		if p.ok() {
			p = q
		}
	}
	count := map[gwv1.HTTPRouteFilterType]int{}
	for _, f := range filters {
		count[f.Type]++
		if (f.Type == gwv1.HTTPRouteFilterRequestHeaderModifier || f.Type == gwv1.HTTPRouteFilterResponseHeaderModifier) &&
			!b.caps.BackendHeaderModifier {
			note(unsupportedValue("backendRef filter %s is not supported by provider %s", f.Type, b.caps.Provider))
			continue
		}
		switch f.Type {
		case gwv1.HTTPRouteFilterURLRewrite:
			// A GRPCRoute's backendRef filters never include it (the API
			// server refuses it), but older CRDs did not check.
			if kind == kindGRPCRoute || !b.caps.BackendURLRewrite {
				note(unsupportedValue("backendRef filter %s is not supported by provider %s", f.Type, b.caps.Provider))
				continue
			}
			r, q := b.rewrite(f.URLRewrite)
			note(q)
			rewrite = r
		case gwv1.HTTPRouteFilterRequestHeaderModifier:
			m, q := b.headerModifier(kind, f.Type, f.RequestHeaderModifier, b.caps.RequestHeaderModifier)
			note(q)
			request = m
		case gwv1.HTTPRouteFilterResponseHeaderModifier:
			m, q := b.headerModifier(kind, f.Type, f.ResponseHeaderModifier, b.caps.ResponseHeaderModifier)
			note(q)
			response = m
		default:
			note(unsupportedValue("backendRef filter %s is not supported by provider %s", f.Type, b.caps.Provider))
		}
	}
	for _, t := range singleUse {
		if count[t] > 1 {
			note(incompatibleFilters("filter %s may appear only once in a backendRef", t))
		}
	}
	return request, response, rewrite, p
}

// headerModifier converts a RequestHeaderModifier or ResponseHeaderModifier
// filter. An empty one changes nothing and becomes nil.
func (b *builder) headerModifier(kind routeKind, t gwv1.HTTPRouteFilterType, f *gwv1.HTTPHeaderFilter, supported bool) (*lb.HeaderModifier, problem) {
	if !supported {
		return nil, unsupportedValue("%s filter %s is not supported by provider %s", kind, t, b.caps.Provider)
	}
	if f == nil {
		return nil, missingConfig(t)
	}
	m := &lb.HeaderModifier{}
	for _, h := range f.Set {
		m.Set = append(m.Set, lb.Header{Name: string(h.Name), Value: h.Value})
	}
	for _, h := range f.Add {
		m.Add = append(m.Add, lb.Header{Name: string(h.Name), Value: h.Value})
	}
	m.Remove = append(m.Remove, f.Remove...)
	if len(m.Set) == 0 && len(m.Add) == 0 && len(m.Remove) == 0 {
		return nil, problem{}
	}
	return m, problem{}
}

// missingConfig reports a filter whose type names a field that is not set
// (the API server refuses this; older CRDs did not).
func missingConfig(t gwv1.HTTPRouteFilterType) problem {
	return unsupportedValue("filter %s has no configuration", t)
}

// redirectCodes are the status codes the RequestRedirect filter may ask
// for: 301 and 302 are Core, the others Extended.
var redirectCodes = map[int]bool{301: true, 302: true, 303: true, 307: true, 308: true}

// schemePorts are the ports a redirect to a scheme goes to when it names
// none (lb.Redirect.Port): naming that port changes nothing, so a provider
// without Capabilities.RedirectPort realizes it too.
var schemePorts = map[string]int32{"http": 80, "https": 443}

func (b *builder) redirect(f *gwv1.HTTPRequestRedirectFilter) (*lb.Redirect, problem) {
	if !b.caps.Redirect {
		return nil, unsupportedValue("HTTPRoute filter RequestRedirect is not supported by provider %s", b.caps.Provider)
	}
	if f == nil {
		return nil, missingConfig(gwv1.HTTPRouteFilterRequestRedirect)
	}
	r := &lb.Redirect{StatusCode: 302} // the API's default
	if f.StatusCode != nil {
		if !redirectCodes[*f.StatusCode] {
			return nil, unsupportedValue("redirect status code %d is not supported", *f.StatusCode)
		}
		r.StatusCode = *f.StatusCode
	}
	if !b.caps.RedirectStatusCodes[r.StatusCode] {
		return nil, unsupportedValue("redirect status code %d is not supported by provider %s", r.StatusCode, b.caps.Provider)
	}
	if f.Scheme != nil {
		if *f.Scheme != "http" && *f.Scheme != "https" {
			return nil, unsupportedValue("redirect scheme %q is not supported", *f.Scheme)
		}
		r.Scheme = *f.Scheme
	}
	if f.Hostname != nil {
		r.Hostname = string(*f.Hostname)
	}
	if f.Port != nil {
		r.Port = *f.Port
		if !b.caps.RedirectPort && r.Port != schemePorts[r.Scheme] {
			return nil, unsupportedValue("RequestRedirect port %d is not supported by provider %s, whose redirects keep the request's port or use the scheme's", r.Port, b.caps.Provider)
		}
	}
	if f.Path != nil {
		p, prob := pathModifier(f.Path)
		if !prob.ok() {
			return nil, prob
		}
		if p.Type == lb.RewritePrefix && !b.caps.PrefixRedirect {
			return nil, unsupportedValue("RequestRedirect path modifier ReplacePrefixMatch is not supported by provider %s", b.caps.Provider)
		}
		r.Path = p
	}
	return r, problem{}
}

func (b *builder) rewrite(f *gwv1.HTTPURLRewriteFilter) (*lb.Rewrite, problem) {
	if !b.caps.Rewrite {
		return nil, unsupportedValue("HTTPRoute filter URLRewrite is not supported by provider %s", b.caps.Provider)
	}
	if f == nil {
		return nil, missingConfig(gwv1.HTTPRouteFilterURLRewrite)
	}
	r := &lb.Rewrite{}
	if f.Hostname != nil {
		r.Hostname = string(*f.Hostname)
	}
	if f.Path != nil {
		p, prob := pathModifier(f.Path)
		if !prob.ok() {
			return nil, prob
		}
		if p.Type == lb.RewritePrefix && !b.caps.PrefixRewrite {
			return nil, unsupportedValue("URLRewrite path modifier ReplacePrefixMatch is not supported by provider %s", b.caps.Provider)
		}
		r.Path = p
	}
	if r.Hostname == "" && r.Path == nil {
		return nil, problem{}
	}
	return r, problem{}
}

// pathModifier converts a redirect's or rewrite's path. Unknown types get
// UnsupportedValue, as the API asks.
func pathModifier(m *gwv1.HTTPPathModifier) (*lb.PathRewrite, problem) {
	switch m.Type {
	case gwv1.FullPathHTTPPathModifier:
		if m.ReplaceFullPath != nil {
			return &lb.PathRewrite{Type: lb.RewriteFullPath, Value: *m.ReplaceFullPath}, problem{}
		}
	case gwv1.PrefixMatchHTTPPathModifier:
		if m.ReplacePrefixMatch != nil {
			return &lb.PathRewrite{Type: lb.RewritePrefix, Value: *m.ReplacePrefixMatch}, problem{}
		}
	default:
		return nil, unsupportedValue("path modifier type %s is not supported", m.Type)
	}
	return nil, unsupportedValue("path modifier type %s needs its value", m.Type)
}

// defaultCORSMaxAge is the API's default maxAge, for CORS filters stored
// before the CRD defaulted it.
const defaultCORSMaxAge = 5 * time.Second

// cors converts a CORS filter; its values were checked by validateCORS.
// The lists are kept in the user's order, which is the order of the
// headers' values.
func (b *builder) cors(f *gwv1.HTTPCORSFilter) (*lb.CORS, problem) {
	if !b.caps.CORS {
		return nil, unsupportedValue("HTTPRoute filter CORS is not supported by provider %s", b.caps.Provider)
	}
	if f == nil {
		return nil, missingConfig(gwv1.HTTPRouteFilterCORS)
	}
	c := &lb.CORS{MaxAge: time.Duration(f.MaxAge) * time.Second}
	if f.MaxAge == 0 {
		c.MaxAge = defaultCORSMaxAge
	}
	for _, o := range f.AllowOrigins {
		c.AllowOrigins = append(c.AllowOrigins, string(o))
	}
	for _, m := range f.AllowMethods {
		c.AllowMethods = append(c.AllowMethods, string(m))
	}
	for _, h := range f.AllowHeaders {
		c.AllowHeaders = append(c.AllowHeaders, string(h))
	}
	for _, h := range f.ExposeHeaders {
		c.ExposeHeaders = append(c.ExposeHeaders, string(h))
	}
	c.AllowCredentials = f.AllowCredentials != nil && *f.AllowCredentials
	return c, problem{}
}

// mirror converts a RequestMirror filter. bad makes the route invalid (the
// provider cannot mirror, or the percentage is out of range); refs says
// the mirror's backend did not resolve, which drops only the mirror.
func (b *builder) mirror(kind routeKind, routeNamespace string, f *gwv1.HTTPRequestMirrorFilter) (m lb.Mirror, tg lb.TargetGroup, bad, refs problem) {
	if !b.caps.Mirror {
		return m, tg, unsupportedValue("%s filter RequestMirror is not supported by provider %s", kind, b.caps.Provider), problem{}
	}
	if f == nil {
		return m, tg, missingConfig(gwv1.HTTPRouteFilterRequestMirror), problem{}
	}
	m.Percent = 100 // neither percent nor fraction: mirror everything
	switch {
	case f.Percent != nil && f.Fraction != nil:
		return m, tg, unsupportedValue("a RequestMirror filter takes percent or fraction, not both"), problem{}
	case f.Percent != nil:
		if *f.Percent < 0 || *f.Percent > 100 {
			return m, tg, unsupportedValue("mirror percent %d is not between 0 and 100", *f.Percent), problem{}
		}
		m.Percent = float64(*f.Percent)
	case f.Fraction != nil:
		den := int32(100) // the API's default denominator
		if f.Fraction.Denominator != nil {
			den = *f.Fraction.Denominator
		}
		if num := f.Fraction.Numerator; den < 1 || num < 0 || num > den {
			return m, tg, unsupportedValue("mirror fraction %d/%d is not between 0 and 1", num, den), problem{}
		}
		m.Percent = float64(f.Fraction.Numerator) * 100 / float64(den)
	}
	if m.Percent < 100 && !b.caps.MirrorPercent {
		return m, tg, unsupportedValue("mirroring a percentage of requests is not supported by provider %s", b.caps.Provider), problem{}
	}
	tg, refs = b.targetGroup(kind, routeNamespace, f.BackendRef, "mirror ")
	m.TargetGroup = tg.Name
	return m, tg, problem{}, refs
}

// ruleTimeouts converts a rule's timeouts. nil means the user set none, so
// the provider's defaults apply; a zero field ("0s") means no limit, as
// the API asks.
func (b *builder) ruleTimeouts(t *gwv1.HTTPRouteTimeouts) (*lb.Timeouts, problem) {
	if t == nil || (t.Request == nil && t.BackendRequest == nil) {
		return nil, problem{}
	}
	if t.Request != nil && !b.caps.RequestTimeout {
		return nil, unsupportedValue("timeouts.request is not supported by provider %s", b.caps.Provider)
	}
	if t.BackendRequest != nil && !b.caps.BackendTimeout {
		return nil, unsupportedValue("timeouts.backendRequest is not supported by provider %s", b.caps.Provider)
	}
	parse := func(field string, d *gwv1.Duration) (time.Duration, problem) {
		if d == nil {
			return 0, problem{}
		}
		v, err := parseDuration(string(*d))
		if err != nil {
			return 0, unsupportedValue("timeouts.%s %q is not a Gateway API duration", field, string(*d))
		}
		return v, problem{}
	}
	var out lb.Timeouts
	var p problem
	if out.Request, p = parse("request", t.Request); !p.ok() {
		return nil, p
	}
	if out.Backend, p = parse("backendRequest", t.BackendRequest); !p.ok() {
		return nil, p
	}
	// The API server refuses this too: the request timeout covers the
	// backend request, so a longer backend timeout means nothing.
	if out.Request > 0 && out.Backend > out.Request {
		return nil, unsupportedValue("timeouts.backendRequest must not be longer than timeouts.request")
	}
	return &out, problem{}
}

// checkPathRewrite enforces what a path modifier needs of the rule's
// matches: ReplacePrefixMatch a PathPrefix match in every one, or there is
// no prefix to replace; a URLRewrite's ReplaceFullPath, on a provider
// without Capabilities.FullPathRewriteOnAnyMatch, an Exact match in every
// one (a redirect's full path needs nothing of the match).
func (b *builder) checkPathRewrite(fs filterSet, matches []ruleMatch) problem {
	switch {
	case fs.redirect != nil && fs.redirect.Path != nil:
		return b.checkPath(fs.redirect.Path, false, matches)
	case fs.rewrite != nil && fs.rewrite.Path != nil:
		return b.checkPath(fs.rewrite.Path, true, matches)
	}
	return problem{}
}

// checkBackendRewrites is checkPathRewrite for backendRefs' URLRewrites.
func (b *builder) checkBackendRewrites(rewrites []*lb.Rewrite, matches []ruleMatch) problem {
	for _, r := range rewrites {
		if r.Path != nil {
			if p := b.checkPath(r.Path, true, matches); !p.ok() {
				return p
			}
		}
	}
	return problem{}
}

// checkPath checks one path modifier p, of a URLRewrite when rewrite is
// set (else of a redirect), against the rule's matches.
func (b *builder) checkPath(p *lb.PathRewrite, rewrite bool, matches []ruleMatch) problem {
	for _, rm := range matches {
		m := rm.m
		switch {
		case p.Type == lb.RewritePrefix && (m.Path == nil || m.Path.Type != lb.MatchPrefix):
			return unsupportedValue("path modifier ReplacePrefixMatch needs every match of its rule to be a PathPrefix match")
		case p.Type == lb.RewriteFullPath && rewrite && !b.caps.FullPathRewriteOnAnyMatch && (m.Path == nil || m.Path.Type != lb.MatchExact):
			return unsupportedValue("URLRewrite path modifier ReplaceFullPath is not supported by provider %s on a rule whose matches are not all Exact path matches", b.caps.Provider)
		}
	}
	return problem{}
}
