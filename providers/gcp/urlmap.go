package gcp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// A listener's routing is one URL map: one host rule and path matcher per
// host, a route rule per model rule. The URL map is per listener, not per
// Gateway: a URL map sees no port, and a request must never reach another
// listener's routes.
//
// Hosts: each VirtualHost's hostname ("*" for the catch-all), and the
// hostnames its rules match on beyond it, unless a VirtualHost listed
// before (more specific) covers them: those requests belong to that one.
// GCP picks the most specific host rule, as the model's VirtualHosts are
// picked; each path matcher holds the rules of its VirtualHost that apply
// to its host, in precedence order.

// Priorities: route rules of a path matcher run in priority order (lowest
// first). A rule keeps its priority while it stays in order; new ones go
// between, priorityStep apart where there is room.
const (
	priorityStep = 100
	maxPriority  = math.MaxInt32
)

// sinkAbort is the route action that answers status by itself: a
// fault-injection abort of every request (percent of them) on the way to
// the empty sink backend service. GCP has no fixed-response action, and
// an abort is answered before a backend is chosen.
func (c *converter) sinkAbort(status int, percent float64) *computepb.HttpRouteAction {
	return &computepb.HttpRouteAction{
		WeightedBackendServices: []*computepb.WeightedBackendService{{
			BackendService: ptr(c.loc.regional("backendServices", c.sinkName())),
			Weight:         ptr(uint32(1)),
		}},
		FaultInjectionPolicy: abort(status, percent),
	}
}

func abort(status int, percent float64) *computepb.HttpFaultInjection {
	return &computepb.HttpFaultInjection{Abort: &computepb.HttpFaultAbort{HttpStatus: ptr(uint32(status)), Percentage: ptr(percent)}}
}

// covers reports whether the hostname pattern p (exact, "*.suffix", or ""
// for any) takes every request to the pattern h.
func covers(p, h string) bool {
	switch {
	case p == "" || p == h:
		return true
	case strings.HasPrefix(p, "*."):
		return strings.HasSuffix(h, p[1:])
	}
	return false
}

func urlMapHost(h string) string {
	if h == "" {
		return "*"
	}
	return h
}

// pathMatcherName is stable for a host, so that a path matcher keeps its
// name (and its rules their priorities) while hosts come and go.
func pathMatcherName(host string) string {
	h := sha256.Sum256([]byte(host))
	return "pm-" + hex.EncodeToString(h[:])[:16]
}

func (c *converter) urlMap(l lb.Listener) *computepb.UrlMap {
	c.checkRedirects(l)
	umName := name(c.m.Owner, tagURLMap, l.Name)
	um := &computepb.UrlMap{
		Name:               ptr(umName),
		Description:        c.desc(l.Name),
		DefaultRouteAction: c.sinkAbort(404, 100),
	}
	for i, vh := range l.VirtualHosts {
		hosts := []string{vh.Hostname}
		for _, r := range vh.Rules {
			h := r.Match.Hostname
			if h == "" || h == vh.Hostname || containsStr(hosts, h) || coveredBefore(l.VirtualHosts[:i], h) {
				continue
			}
			hosts = append(hosts, h)
		}
		for _, h := range hosts {
			pm := &computepb.PathMatcher{
				Name:               ptr(pathMatcherName(h)),
				DefaultRouteAction: c.sinkAbort(404, 100),
			}
			var names []string
			var rules []lb.Rule
			for _, r := range vh.Rules {
				if covers(r.Match.Hostname, h) {
					names = append(names, r.Name)
					if splitsPrefix(r) {
						names = append(names, priorityKey(r.Name, 1))
					}
					rules = append(rules, r)
				}
			}
			prios := assignPriorities(names, c.prev[umName][pm.GetName()])
			j := 0
			for _, r := range rules {
				rr := c.routeRule(r, prios[j])
				j++
				if rr == nil {
					if splitsPrefix(r) {
						j++
					}
					continue
				}
				if splitsPrefix(r) {
					pm.RouteRules = append(pm.RouteRules, splitPrefixRule(rr, prios[j])...)
					j++
					continue
				}
				pm.RouteRules = append(pm.RouteRules, rr)
			}
			um.PathMatchers = append(um.PathMatchers, pm)
			um.HostRules = append(um.HostRules, &computepb.HostRule{Hosts: []string{urlMapHost(h)}, PathMatcher: pm.Name})
		}
	}
	httpsListenerRedirects(l, um)
	return um
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func coveredBefore(vhs []lb.VirtualHost, h string) bool {
	for _, vh := range vhs {
		if covers(vh.Hostname, h) {
			return true
		}
	}
	return false
}

// assignPriorities gives names (in precedence order) strictly increasing
// priorities, keeping each one's previous priority while it stays in
// order, and renumbering all only when a new rule finds no room.
func assignPriorities(names []string, prev map[string]int32) []int32 {
	out := make([]int64, len(names))
	// Priorities start above 0, so that a rule can always go first.
	last := int64(0)
	for i, n := range names {
		out[i] = -1
		if p, ok := prev[n]; ok && int64(p) > last {
			out[i], last = int64(p), int64(p)
		}
	}
	// Fill each run of new (or moved) rules between its kept neighbours.
	for i := 0; i < len(out); {
		if out[i] >= 0 {
			i++
			continue
		}
		j := i
		for j < len(out) && out[j] < 0 {
			j++
		}
		lo := int64(0)
		if i > 0 {
			lo = out[i-1]
		}
		hi := int64(maxPriority) + 1
		if j < len(out) {
			hi = out[j]
		}
		n := int64(j - i)
		step := min(int64(priorityStep), (hi-lo)/(n+1))
		if step < 1 {
			return renumber(len(names))
		}
		for k := i; k < j; k++ {
			out[k] = lo + step*int64(k-i+1)
		}
		i = j
	}
	res := make([]int32, len(out))
	for i, p := range out {
		res[i] = int32(p)
	}
	return res
}

func renumber(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32((i + 1) * priorityStep)
	}
	return out
}

// priorities are the observed URL maps' rule priorities, by URL map,
// path matcher and rule name (the route rule's description).
func priorities(have *state) map[string]map[string]map[string]int32 {
	out := map[string]map[string]map[string]int32{}
	if have == nil {
		return out
	}
	for _, um := range have.URLMaps {
		pms := map[string]map[string]int32{}
		for _, pm := range um.GetPathMatchers() {
			rules := map[string]int32{}
			seen := map[string]int{}
			for _, rr := range pm.GetRouteRules() {
				if rr.Description != nil {
					n := rr.GetDescription()
					rules[priorityKey(n, seen[n])] = rr.GetPriority()
					seen[n]++
				}
			}
			pms[pm.GetName()] = rules
		}
		out[um.GetName()] = pms
	}
	return out
}

// priorityKey names the k-th route rule (from 0) that carries one model
// rule in a path matcher, for keeping priorities: a rule split in two
// (splitPrefixRule) has two route rules with its name as description.
func priorityKey(rule string, k int) string {
	if k == 0 {
		return rule
	}
	return rule + "\x00" + strconv.Itoa(k)
}

// splitsPrefix says whether the rule replaces the prefix its PathPrefix
// match matched (a ReplacePrefixMatch rewrite or redirect) below "/": it
// then needs two route rules (splitPrefixRule).
func splitsPrefix(r lb.Rule) bool {
	m := r.Match.Path
	if m == nil || m.Type != lb.MatchPrefix || strings.TrimRight(m.Value, "/") == "" {
		return false
	}
	a := r.Action
	return (a.Rewrite != nil && a.Rewrite.Path != nil && a.Rewrite.Path.Type == lb.RewritePrefix) ||
		(a.Redirect != nil && a.Redirect.Path != nil && a.Redirect.Path.Type == lb.RewritePrefix)
}

// prefixReplacement is what replaces the prefix match's matched part:
// the replacement as written, except below the prefix "/", whose one
// match rule matches "/" itself, so the replacement must end in "/" for
// "/x" to become "/manual/x" and not "/manualx".
func prefixReplacement(match, replacement string) string {
	if strings.TrimRight(match, "/") == "" {
		return strings.TrimRight(replacement, "/") + "/"
	}
	return replacement
}

// splitPrefixRule splits the route rule of a prefix-replacing rule in two.
// The Gateway API's prefix "/docs" is two GCP match rules, the full path
// "/docs" and the prefix "/docs/" (matchRules), and GCP replaces what the
// match rule matched ("pathPrefixRewrite: ... the matching portion of the
// request's path is replaced by pathPrefixRewrite"; prefixRedirect
// likewise). One replacement cannot serve both: "/manual" turns
// "/docs/x" into "/manualx", "/manual/" turns "/docs" into "/manual/".
// So the full path gets the replacement as written, the prefix the
// replacement with one trailing slash, each in a route rule of its own;
// "/docs/x" becomes "/manual/x" and "/docs" "/manual", as the API asks.
// The second takes the next priority: nothing can match between them.
func splitPrefixRule(rr *computepb.HttpRouteRule, next int32) []*computepb.HttpRouteRule {
	if len(rr.MatchRules) != 2 {
		return []*computepb.HttpRouteRule{rr}
	}
	full := proto.Clone(rr).(*computepb.HttpRouteRule)
	prefix := proto.Clone(rr).(*computepb.HttpRouteRule)
	full.MatchRules = full.MatchRules[:1]
	prefix.MatchRules = prefix.MatchRules[1:]
	prefix.Priority = ptr(next)
	withSlash := func(v *string) {
		if v != nil {
			*v = strings.TrimRight(*v, "/") + "/"
		}
	}
	if full.RouteAction != nil && full.RouteAction.UrlRewrite != nil && full.RouteAction.UrlRewrite.PathPrefixRewrite != nil {
		if *full.RouteAction.UrlRewrite.PathPrefixRewrite == "" {
			full.RouteAction.UrlRewrite.PathPrefixRewrite = ptr("/")
		}
		withSlash(prefix.RouteAction.UrlRewrite.PathPrefixRewrite)
	}
	if full.UrlRedirect != nil && full.UrlRedirect.PrefixRedirect != nil {
		if *full.UrlRedirect.PrefixRedirect == "" {
			full.UrlRedirect.PrefixRedirect = ptr("/")
		}
		withSlash(prefix.UrlRedirect.PrefixRedirect)
	}
	return []*computepb.HttpRouteRule{full, prefix}
}

// maxRuleDescription is a route rule description's limit. A model rule
// name is at most a route's namespace, name and indexes, well within it.
const maxRuleDescription = 1024

// routeRule is one model rule as a route rule: its description is the
// rule's name, by which later plans find it.
func (c *converter) routeRule(r lb.Rule, priority int32) *computepb.HttpRouteRule {
	if len(r.Name) > maxRuleDescription {
		c.refusals.add(r.Name, fmt.Sprintf("a rule name longer than %d characters", maxRuleDescription))
		return nil
	}
	rr := &computepb.HttpRouteRule{Description: ptr(r.Name), Priority: ptr(priority), MatchRules: c.matchRules(r)}
	a := r.Action
	rr.HeaderAction = headerAction(a.RequestHeaders, a.ResponseHeaders)
	switch {
	case a.Redirect != nil:
		rr.UrlRedirect = c.redirect(r)
	case a.FixedResponse != nil:
		rr.RouteAction = c.sinkAbort(a.FixedResponse.StatusCode, 100)
	default:
		rr.RouteAction = c.forward(r)
	}
	if a.CORS != nil {
		// Capabilities leaves CORS out (a corsPolicy takes origin regexes
		// only on INTERNAL_SELF_MANAGED load balancers, and cannot keep a
		// disallowed origin's preflight from the backend), so mapping
		// never sends one: refused rather than dropped if it ever does.
		c.refusals.add(r.Name, "a CORS policy (a URL map's corsPolicy takes no origin wildcards on managed load balancers and forwards a disallowed origin's preflight to the backend)")
	}
	if rr.RouteAction != nil {
		c.modifiers(r, rr.RouteAction)
	} else if a.Rewrite != nil || len(a.Mirrors) > 0 || a.Timeouts != nil || a.Retry != nil {
		c.refusals.add(r.Name, "a rewrite, mirror, timeout or retry on a redirect")
	}
	// A Set of Host on the request is the forwarded host: a URL rewrite.
	if a.RequestHeaders != nil && rr.HeaderAction != nil {
		for _, h := range a.RequestHeaders.Set {
			if strings.EqualFold(h.Name, "host") {
				if rr.RouteAction == nil {
					c.refusals.add(r.Name, "a Host header set on a redirect")
					break
				}
				if rr.RouteAction.UrlRewrite == nil {
					rr.RouteAction.UrlRewrite = &computepb.UrlRewrite{}
				}
				rr.RouteAction.UrlRewrite.HostRewrite = ptr(h.Value)
			}
		}
		rr.HeaderAction.RequestHeadersToAdd = dropHost(rr.HeaderAction.RequestHeadersToAdd)
		if isEmptyHeaderAction(rr.HeaderAction) {
			rr.HeaderAction = nil
		}
	}
	return rr
}

func dropHost(hs []*computepb.HttpHeaderOption) []*computepb.HttpHeaderOption {
	var out []*computepb.HttpHeaderOption
	for _, h := range hs {
		if !strings.EqualFold(h.GetHeaderName(), "host") {
			out = append(out, h)
		}
	}
	return out
}

func isEmptyHeaderAction(h *computepb.HttpHeaderAction) bool {
	return len(h.RequestHeadersToAdd) == 0 && len(h.RequestHeadersToRemove) == 0 &&
		len(h.ResponseHeadersToAdd) == 0 && len(h.ResponseHeadersToRemove) == 0
}

// matchRules are the rule's match as GCP's (ORed) match rules. A prefix
// matches whole segments: "/foo" is the path "/foo" itself or a prefix
// "/foo/", two match rules with the same headers and query.
func (c *converter) matchRules(r lb.Rule) []*computepb.HttpRouteRuleMatch {
	m := r.Match
	base := func() *computepb.HttpRouteRuleMatch {
		mr := &computepb.HttpRouteRuleMatch{}
		for _, h := range m.Headers {
			hm := &computepb.HttpHeaderMatch{HeaderName: ptr(h.Name)}
			switch h.Type {
			case lb.MatchExact:
				hm.ExactMatch = ptr(h.Value)
			case lb.MatchRegex:
				hm.RegexMatch = ptr(h.Value)
			default:
				c.refusals.add(r.Name, fmt.Sprintf("a %s header match", h.Type))
			}
			mr.HeaderMatches = append(mr.HeaderMatches, hm)
		}
		for _, q := range m.Query {
			qm := &computepb.HttpQueryParameterMatch{Name: ptr(q.Name)}
			switch q.Type {
			case lb.MatchExact:
				qm.ExactMatch = ptr(q.Value)
			case lb.MatchRegex:
				qm.RegexMatch = ptr(q.Value)
			default:
				c.refusals.add(r.Name, fmt.Sprintf("a %s query match", q.Type))
			}
			mr.QueryParameterMatches = append(mr.QueryParameterMatches, qm)
		}
		return mr
	}
	if m.Method != "" {
		c.refusals.add(r.Name, "a method match")
	}
	if m.Path == nil {
		mr := base()
		mr.PrefixMatch = ptr("/")
		return []*computepb.HttpRouteRuleMatch{mr}
	}
	switch m.Path.Type {
	case lb.MatchExact:
		mr := base()
		mr.FullPathMatch = ptr(m.Path.Value)
		return []*computepb.HttpRouteRuleMatch{mr}
	case lb.MatchRegex:
		mr := base()
		mr.RegexMatch = ptr(m.Path.Value)
		return []*computepb.HttpRouteRuleMatch{mr}
	case lb.MatchPrefix:
		p := strings.TrimRight(m.Path.Value, "/")
		if p == "" {
			mr := base()
			mr.PrefixMatch = ptr("/")
			return []*computepb.HttpRouteRuleMatch{mr}
		}
		full, prefix := base(), base()
		full.FullPathMatch = ptr(p)
		prefix.PrefixMatch = ptr(p + "/")
		return []*computepb.HttpRouteRuleMatch{full, prefix}
	}
	c.refusals.add(r.Name, fmt.Sprintf("a %s path match", m.Path.Type))
	return nil
}

// maxWeight is GCP's largest backend weight; the model's weights (up to
// 1,000,000) are scaled down to it, keeping every non-zero share.
const maxWeight = 1000

// forward is a Forward action: weighted backend services, and the share of
// invalid backends answered 500 by a fault-injection abort at that share's
// percentage, which GCP applies before it picks a backend.
func (c *converter) forward(r lb.Rule) *computepb.HttpRouteAction {
	var total, invalid, top int64
	for _, b := range r.Action.Forward {
		total += int64(b.Weight)
		if b.TargetGroup == "" {
			invalid += int64(b.Weight)
		}
		top = max(top, int64(b.Weight))
	}
	status := r.Action.InvalidBackendStatus
	if status == 0 {
		status = 500
	}
	if total == 0 || invalid == total {
		// Nothing valid to send to: the Gateway API answers 500 (503, read
		// as UNAVAILABLE, for gRPC: GCP maps an abort's status to gRPC's).
		return c.sinkAbort(status, 100)
	}
	ra := &computepb.HttpRouteAction{}
	for _, b := range r.Action.Forward {
		if b.TargetGroup == "" || b.Weight == 0 {
			continue
		}
		w := int64(b.Weight)
		if top > maxWeight {
			w = max(1, w*maxWeight/top)
		}
		ra.WeightedBackendServices = append(ra.WeightedBackendServices, &computepb.WeightedBackendService{
			BackendService: ptr(c.loc.regional("backendServices", c.backendName(b.TargetGroup))),
			Weight:         ptr(uint32(w)),
			HeaderAction:   headerAction(b.RequestHeaders, b.ResponseHeaders),
		})
	}
	if invalid > 0 {
		ra.FaultInjectionPolicy = abort(status, float64(invalid)*100/float64(total))
	}
	return ra
}

// modifiers add the rewrite, mirror and timeout to a route action.
func (c *converter) modifiers(r lb.Rule, ra *computepb.HttpRouteAction) {
	a := r.Action
	if rw := a.Rewrite; rw != nil {
		ra.UrlRewrite = &computepb.UrlRewrite{}
		if rw.Hostname != "" {
			ra.UrlRewrite.HostRewrite = ptr(rw.Hostname)
		}
		if rw.Path != nil {
			// GCP rewrites the prefix its match matched; on an exact path
			// match that is the whole path.
			switch {
			case rw.Path.Type == lb.RewriteFullPath && r.Match.Path != nil && r.Match.Path.Type == lb.MatchExact:
				ra.UrlRewrite.PathPrefixRewrite = ptr(rw.Path.Value)
			case rw.Path.Type == lb.RewritePrefix && r.Match.Path != nil && r.Match.Path.Type == lb.MatchPrefix:
				// Split per match rule by splitPrefixRule when the prefix
				// is not "/", whose one match rule needs no split.
				ra.UrlRewrite.PathPrefixRewrite = ptr(prefixReplacement(r.Match.Path.Value, rw.Path.Value))
			default:
				c.refusals.add(r.Name, fmt.Sprintf("a %s path rewrite on this path match", rw.Path.Type))
			}
		}
	}
	switch len(a.Mirrors) {
	case 0:
	case 1:
		mp := &computepb.RequestMirrorPolicy{BackendService: ptr(c.loc.regional("backendServices", c.backendName(a.Mirrors[0].TargetGroup)))}
		if p := a.Mirrors[0].Percent; p < 100 {
			mp.MirrorPercent = ptr(p)
		}
		ra.RequestMirrorPolicy = mp
	default:
		c.refusals.add(r.Name, fmt.Sprintf("%d request mirrors (a route rule has one)", len(a.Mirrors)))
	}
	if t := a.Timeouts; t != nil {
		if t.Request > 0 {
			ra.Timeout = duration(t.Request)
		}
		if t.Backend > 0 {
			c.refusals.add(r.Name, "a backend request timeout")
		}
	}
	if a.Retry != nil {
		c.refusals.add(r.Name, retryRefusal(a.Retry))
	}
}

func duration(d time.Duration) *computepb.Duration {
	return &computepb.Duration{Seconds: ptr(int64(d / time.Second)), Nanos: ptr(int32(d % time.Second))}
}

// headerAction is set, add and remove as GCP's header options: a set
// replaces, an add appends.
func headerAction(req, resp *lb.HeaderModifier) *computepb.HttpHeaderAction {
	if req == nil && resp == nil {
		return nil
	}
	h := &computepb.HttpHeaderAction{}
	opts := func(m *lb.HeaderModifier) ([]*computepb.HttpHeaderOption, []string) {
		if m == nil {
			return nil, nil
		}
		var out []*computepb.HttpHeaderOption
		for _, s := range m.Set {
			out = append(out, &computepb.HttpHeaderOption{HeaderName: ptr(s.Name), HeaderValue: ptr(s.Value), Replace: ptr(true)})
		}
		for _, a := range m.Add {
			out = append(out, &computepb.HttpHeaderOption{HeaderName: ptr(a.Name), HeaderValue: ptr(a.Value), Replace: ptr(false)})
		}
		return out, m.Remove
	}
	h.RequestHeadersToAdd, h.RequestHeadersToRemove = opts(req)
	h.ResponseHeadersToAdd, h.ResponseHeadersToRemove = opts(resp)
	if isEmptyHeaderAction(h) {
		return nil
	}
	return h
}

var redirectCodes = map[int]string{
	301: "MOVED_PERMANENTLY_DEFAULT",
	302: "FOUND",
	303: "SEE_OTHER",
	307: "TEMPORARY_REDIRECT",
	308: "PERMANENT_REDIRECT",
}

// redirect is a Redirect action. GCP's redirect keeps the request's port
// and can only switch the scheme to https: a redirect to another port is
// refused here, one from https to http by checkRedirects, which sees the
// listener.
func (c *converter) redirect(r lb.Rule) *computepb.HttpRedirectAction {
	rd := r.Action.Redirect
	code, ok := redirectCodes[rd.StatusCode]
	if !ok {
		c.refusals.add(r.Name, fmt.Sprintf("a redirect with status %d", rd.StatusCode))
	}
	out := &computepb.HttpRedirectAction{RedirectResponseCode: ptr(code), StripQuery: ptr(false)}
	switch rd.Scheme {
	case "", "http":
		if rd.Scheme == "http" {
			out.HttpsRedirect = ptr(false)
		}
	case "https":
		out.HttpsRedirect = ptr(true)
	default:
		c.refusals.add(r.Name, fmt.Sprintf("a redirect to scheme %q", rd.Scheme))
	}
	scheme := rd.Scheme
	if rd.Port != 0 && !(scheme == "https" && rd.Port == 443) && !(scheme == "http" && rd.Port == 80) {
		c.refusals.add(r.Name, fmt.Sprintf("a redirect to port %d (GCP redirects keep the request's port or use the scheme's)", rd.Port))
	}
	if rd.Hostname != "" {
		out.HostRedirect = ptr(rd.Hostname)
	}
	if p := rd.Path; p != nil {
		switch p.Type {
		case lb.RewriteFullPath:
			out.PathRedirect = ptr(p.Value)
		case lb.RewritePrefix:
			if r.Match.Path == nil || r.Match.Path.Type != lb.MatchPrefix {
				c.refusals.add(r.Name, "a prefix redirect without a PathPrefix match")
				break
			}
			out.PrefixRedirect = ptr(prefixReplacement(r.Match.Path.Value, p.Value))
		}
	}
	return out
}
