package mapping

// Values mapping validates. A route that carries a value breaking one of
// these rules is Accepted=False (reason UnsupportedValue, or
// IncompatibleFilters where noted) on every parentRef, with a message that
// names every bad field ("spec.rules[0].filters[1].requestHeaderModifier.
// remove[0]: ..."), and stays out of the model; the other routes of the
// Gateway are not affected. The rules are at least as strict as the
// emulated data plane (Go net/http and regexp), in the forms it uses.
// Many repeat the CRD's, since objects stored under older or experimental
// CRDs reach Build too; the rest go further where the CRD lets through what
// a data plane refuses or misreads: control characters in header values,
// query values and rewrite paths, '?' and '#' in rewrite paths, regexes
// that break once anchored, IP addresses and over-long labels as
// hostnames, the Host and framing headers, and header filter conflicts.
// Cloud limits on counts (rules per listener, condition values per rule,
// target groups per action, mirrors per rule, certificates per listener)
// are not here: they are lb.Capabilities' Max fields, per provider,
// applied in limits.go.
//
//	value (HTTPRoute and GRPCRoute unless noted)   rule
//	---------------------------------------------  -------------------------------------------------------------
//	spec.hostnames[] (also TLSRoute), listener     optional "*." then RFC 1123 labels: a-z 0-9 '-', no '-' at
//	  hostname                                       either end, 1-63 bytes each; at most 253 bytes; no IPv4
//	                                                 address (the API allows no IPs); checked lowercased, as
//	                                                 Build compares them
//	                                                 (listener: Accepted=False/UnsupportedValue)
//	matches[].path.value, Exact/PathPrefix         1-1024 bytes, starts with "/", only RFC 3986 path characters
//	  (HTTPRoute)                                    (A-Z a-z 0-9 - . _ ~ ! $ & ' ( ) * + , ; = : @ /) and %XX
//	                                                 escapes, so no '?', '#', whitespace, control characters or
//	                                                 non-ASCII; no "//", "/./", "/../", "%2f"; not ending in
//	                                                 "/." or "/.."
//	matches[].path.value, RegularExpression        at most 1024 bytes; compiles alone and as ^(?:re)$ in Go
//	                                                 RE2 (repeat counts up to 1000, size and nesting limits)
//	matches[].headers[].name                       RFC 9110 token, at most 256 bytes
//	matches[].headers[].value                      Exact: 1-4096 bytes, no control character but HTAB;
//	                                                 RegularExpression: at most 4096 bytes, compiles as above
//	matches[].queryParams[].name (HTTPRoute)       RFC 9110 token, at most 256 bytes
//	matches[].queryParams[].value (HTTPRoute)      Exact: 1-1024 bytes, no control character;
//	                                                 RegularExpression: at most 1024 bytes, compiles as above
//	matches[].method (HTTPRoute)                   GET HEAD POST PUT DELETE CONNECT OPTIONS TRACE PATCH
//	matches[].method.service (GRPCRoute)           at most 1024 bytes; Exact: ^\.?[A-Za-z_][A-Za-z_0-9]*
//	                                                 (\.[A-Za-z_][A-Za-z_0-9]*)*$; RegularExpression: compiles
//	                                                 as above, and so does the whole "/service/method" regex
//	matches[].method.method (GRPCRoute)            at most 1024 bytes; Exact: ^[A-Za-z_][A-Za-z_0-9]*$;
//	                                                 RegularExpression: as for service
//	request/responseHeaderModifier, on rules and   names: RFC 9110 token, at most 256 bytes; set/add values:
//	  backendRefs: set[], add[], remove[]            1-4096 bytes, no control character but HTAB; one filter
//	                                                 names a header at most once over set, add and remove,
//	                                                 case-insensitively (the HTTPHeaderFilter API: more than one
//	                                                 action on a name is invalid); never Content-Length,
//	                                                 Transfer-Encoding, Connection, Keep-Alive, Proxy-Connection,
//	                                                 TE, Trailer or Upgrade (message framing and hop-by-hop
//	                                                 headers; changing them risks request smuggling)
//	requestHeaderModifier Host                     set only (add or remove would leave a request without one
//	                                                 Host); value host or host:port (hostname, IPv4, [IPv6]);
//	                                                 with a URLRewrite hostname on the same rule:
//	                                                 IncompatibleFilters (two answers for one Host)
//	requestRedirect.hostname, urlRewrite.hostname  as spec.hostnames without "*." and lowercase, since they
//	                                                 reach the model verbatim (PreciseHostname)
//	requestRedirect.port                           1-65535
//	requestRedirect.path, urlRewrite.path          ReplaceFullPath: as a match path but without the segment
//	                                                 rules ("/" first, path characters, %XX, 1-1024 bytes);
//	                                                 ReplacePrefixMatch: "" or the same
//	backendRefs[].weight                           0-1000000
//	cors.allowOrigins[] (HTTPRoute)                "*" alone, or the CRD's pattern (lb.ValidCORSOrigin): http or
//	                                                 https "://", a host of labels (A-Z a-z 0-9 '-') with an
//	                                                 optional leading "*.", or "*"; an optional port 1-65535; at
//	                                                 most 253 bytes; at most 64 entries
//	cors.allowMethods[] (HTTPRoute)                an HTTP method as for matches, or "*" alone; at most 9
//	cors.allowHeaders[], cors.exposeHeaders[]      RFC 9110 token, at most 256 bytes; at most 64 entries; "*"
//	  (HTTPRoute)                                    alone in allowHeaders
//	cors.maxAge (HTTPRoute)                        not negative (0, from CRDs without the default, becomes 5)
//
// Checked where the value is converted (filters.go, matches.go, grpc.go):
// filter, match and path modifier types, redirect scheme (http, https) and
// status code (301, 302, 303, 307, 308), mirror percent (0-100) and fraction
// (0 <= numerator <= denominator, denominator >= 1), timeouts (GEP-2257
// durations, backendRequest <= request), retry (retry.go: attempts 0-100,
// codes 400-599, backoff a GEP-2257 duration), and everything that depends
// on the provider's capabilities.
//
// Listeners (listeners.go): hostname as above, and any filters.requests
// (ExternalAuth, ExtensionRef: unsupported, and skipping them would skip
// authentication) make the listener Accepted=False/UnsupportedValue.
// Gateway (parameters.go), Accepted=False: spec.addresses of type IPAddress
// only, with an IP value and no routability (UnsupportedAddress); the
// merged parameters' emulated.address an IP, emulated.responseHeaders names
// and values as for header filters, tag keys (with spec.infrastructure
// labels and annotations) of 1-253 bytes, healthCheck (healthchecks.go: the
// CRD's bounds, and on the merged fields timeout below interval and no
// path or successCodes on a TCP probe), aws.certificateARNs (ACM or IAM
// server certificate ARNs, at most 25) and gcp.sslCertificates (RFC 1035
// names, at most 15) (InvalidParameters).
// EndpointSlices (backends.go): an address that is not an IP, or a port
// outside 1-65535, is skipped as a target; the API server refuses both.

import (
	"fmt"
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// valueErrors collects the bad values of one route, in spec order.
type valueErrors struct {
	reason string // the first error's
	items  []string
}

func (e *valueErrors) add(field, msg string) {
	e.addReason(string(gwv1.RouteReasonUnsupportedValue), field, msg)
}

func (e *valueErrors) addReason(reason, field, msg string) {
	if msg == "" {
		return
	}
	if e.reason == "" {
		e.reason = reason
	}
	e.items = append(e.items, field+": "+msg)
}

// problem is the route's Accepted=False problem, naming every bad field
// within maxMessageBytes.
func (e *valueErrors) problem() problem {
	if len(e.items) == 0 {
		return problem{}
	}
	return problem{reason: e.reason, message: boundedList(e.items, "; ", maxMessageBytes)}
}

// validateHostnames checks route hostnames. Build compares them
// lowercased (hostnames.go), so case is not held against them; the API's
// pattern would refuse upper case anyway.
func validateHostnames(e *valueErrors, hs []gwv1.Hostname) {
	for i, h := range hs {
		e.add(fmt.Sprintf("spec.hostnames[%d]", i), hostnameProblem(strings.ToLower(string(h)), true))
	}
}

// validateHTTPRoute checks every value of an HTTPRoute in the table above.
func validateHTTPRoute(r *gwv1.HTTPRoute) problem {
	var e valueErrors
	validateHostnames(&e, r.Spec.Hostnames)
	for i, rule := range r.Spec.Rules {
		rp := fmt.Sprintf("spec.rules[%d]", i)
		for j, m := range rule.Matches {
			validateHTTPMatch(&e, fmt.Sprintf("%s.matches[%d]", rp, j), m)
		}
		hosts := validateFilters(&e, rp+".filters", rule.Filters)
		for j, br := range rule.BackendRefs {
			bp := fmt.Sprintf("%s.backendRefs[%d]", rp, j)
			validateWeight(&e, bp, br.Weight)
			hosts = hosts.merge(validateFilters(&e, bp+".filters", br.Filters))
		}
		hosts.check(&e, rp)
	}
	return e.problem()
}

// validateGRPCRoute checks every value of a GRPCRoute in the table above.
// Its filters are the HTTPRoute's types under the same JSON names.
func validateGRPCRoute(r *gwv1.GRPCRoute) problem {
	var e valueErrors
	validateHostnames(&e, r.Spec.Hostnames)
	for i, rule := range r.Spec.Rules {
		rp := fmt.Sprintf("spec.rules[%d]", i)
		for j, m := range rule.Matches {
			mp := fmt.Sprintf("%s.matches[%d]", rp, j)
			if m.Method != nil {
				validateGRPCMethod(&e, mp+".method", m.Method)
			}
			validateHeaderMatches(&e, mp, grpcHeaderMatches(m.Headers))
		}
		hosts := validateFilters(&e, rp+".filters", httpFilters(rule.Filters))
		for j, br := range rule.BackendRefs {
			bp := fmt.Sprintf("%s.backendRefs[%d]", rp, j)
			validateWeight(&e, bp, br.Weight)
			hosts = hosts.merge(validateFilters(&e, bp+".filters", httpFilters(br.Filters)))
		}
		hosts.check(&e, rp)
	}
	return e.problem()
}

func validateWeight(e *valueErrors, field string, w *int32) {
	if w != nil && (*w < 0 || *w > maxWeight) {
		e.add(field+".weight", fmt.Sprintf("weight %d is not between 0 and %d", *w, maxWeight))
	}
}

func validateHTTPMatch(e *valueErrors, field string, m gwv1.HTTPRouteMatch) {
	if m.Path != nil && m.Path.Value != nil {
		v := *m.Path.Value
		switch {
		case m.Path.Type != nil && *m.Path.Type == gwv1.PathMatchRegularExpression:
			e.add(field+".path.value", regexProblem(v, maxPath))
		case m.Path.Type == nil || *m.Path.Type == gwv1.PathMatchExact || *m.Path.Type == gwv1.PathMatchPathPrefix:
			e.add(field+".path.value", matchPathProblem(v))
		}
	}
	validateHeaderMatches(e, field, m.Headers)
	for i, q := range m.QueryParams {
		qp := fmt.Sprintf("%s.queryParams[%d]", field, i)
		e.add(qp+".name", tokenProblem("query parameter", string(q.Name)))
		switch {
		case q.Type == nil || *q.Type == gwv1.QueryParamMatchExact:
			e.add(qp+".value", queryValueProblem(q.Value))
		case *q.Type == gwv1.QueryParamMatchRegularExpression:
			e.add(qp+".value", regexProblem(q.Value, maxQueryValue))
		}
	}
	if m.Method != nil && !methods[*m.Method] {
		e.add(field+".method", fmt.Sprintf("%s is not an HTTP method this API knows", quote(string(*m.Method))))
	}
}

func validateHeaderMatches(e *valueErrors, field string, hs []gwv1.HTTPHeaderMatch) {
	for i, h := range hs {
		hp := fmt.Sprintf("%s.headers[%d]", field, i)
		e.add(hp+".name", headerNameProblem(string(h.Name)))
		switch {
		case h.Type == nil || *h.Type == gwv1.HeaderMatchExact:
			e.add(hp+".value", headerValueProblem(h.Value))
		case *h.Type == gwv1.HeaderMatchRegularExpression:
			e.add(hp+".value", regexProblem(h.Value, maxHeaderValue))
		}
	}
}

// grpcHeaderMatches carries GRPCRoute header matches in the HTTPRoute
// type, which has the same fields and types.
func grpcHeaderMatches(hs []gwv1.GRPCHeaderMatch) []gwv1.HTTPHeaderMatch {
	out := make([]gwv1.HTTPHeaderMatch, 0, len(hs))
	for _, h := range hs {
		hm := gwv1.HTTPHeaderMatch{Name: gwv1.HTTPHeaderName(h.Name), Value: h.Value}
		if h.Type != nil {
			t := gwv1.HeaderMatchType(*h.Type)
			hm.Type = &t
		}
		out = append(out, hm)
	}
	return out
}

func validateGRPCMethod(e *valueErrors, field string, mm *gwv1.GRPCMethodMatch) {
	var service, method string
	if mm.Service != nil {
		service = *mm.Service
	}
	if mm.Method != nil {
		method = *mm.Method
	}
	exact := mm.Type == nil || *mm.Type == gwv1.GRPCMethodMatchExact
	regex := mm.Type != nil && *mm.Type == gwv1.GRPCMethodMatchRegularExpression
	check := func(part, v string, pattern interface{ MatchString(string) bool }) bool {
		switch {
		case v == "":
			return true
		case len(v) > maxGRPCName:
			e.add(field+"."+part, fmt.Sprintf("%s is longer than %d bytes", quote(v), maxGRPCName))
		case exact && !pattern.MatchString(v):
			e.add(field+"."+part, fmt.Sprintf("%s is not a valid gRPC %s name", quote(v), part))
		case regex:
			p := regexProblem(v, maxGRPCName)
			e.add(field+"."+part, p)
			return p == ""
		default:
			return true
		}
		return false
	}
	okService := check("service", service, grpcServicePattern)
	okMethod := check("method", method, grpcMethodPattern)
	// Two parts that compile alone can still make a regex over RE2's size
	// limit together.
	if regex && okService && okMethod && (service != "" || method != "") {
		if p := regexProblem(grpcRegexPath(service, method), 2*maxGRPCName+64); p != "" {
			e.add(field, "the service and method regular expressions together exceed RE2's limits")
		}
	}
}

// hostChange records which filters of one rule change the request's Host,
// to refuse a rule that changes it twice.
type hostChange struct {
	rewriteField string // the URLRewrite with a hostname
	setField     string // the first request header modifier that sets Host
}

func (h hostChange) merge(o hostChange) hostChange {
	if h.rewriteField == "" {
		h.rewriteField = o.rewriteField
	}
	if h.setField == "" {
		h.setField = o.setField
	}
	return h
}

// check refuses a rule whose URLRewrite hostname and Host header set would
// both decide the forwarded request's Host.
func (h hostChange) check(e *valueErrors, rule string) {
	if h.rewriteField != "" && h.setField != "" {
		e.addReason(string(gwv1.RouteReasonIncompatibleFilters), rule,
			fmt.Sprintf("%s sets the Host header and %s rewrites the hostname; only one may change the Host", h.setField, h.rewriteField))
	}
}

// validateFilters checks the values of a rule's or backendRef's filters.
// Filter types and the providers' capabilities are checked in filters.go.
func validateFilters(e *valueErrors, field string, filters []gwv1.HTTPRouteFilter) hostChange {
	var hosts hostChange
	for i, f := range filters {
		fp := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case f.Type == gwv1.HTTPRouteFilterRequestHeaderModifier && f.RequestHeaderModifier != nil:
			if set := validateHeaderFilter(e, fp+".requestHeaderModifier", f.RequestHeaderModifier, true); set != "" && hosts.setField == "" {
				hosts.setField = set
			}
		case f.Type == gwv1.HTTPRouteFilterResponseHeaderModifier && f.ResponseHeaderModifier != nil:
			validateHeaderFilter(e, fp+".responseHeaderModifier", f.ResponseHeaderModifier, false)
		case f.Type == gwv1.HTTPRouteFilterRequestRedirect && f.RequestRedirect != nil:
			rp := fp + ".requestRedirect"
			if h := f.RequestRedirect.Hostname; h != nil {
				e.add(rp+".hostname", hostnameProblem(string(*h), false))
			}
			if p := f.RequestRedirect.Port; p != nil && (*p < 1 || *p > 65535) {
				e.add(rp+".port", fmt.Sprintf("port %d is not between 1 and 65535", *p))
			}
			validatePathModifier(e, rp+".path", f.RequestRedirect.Path)
		case f.Type == gwv1.HTTPRouteFilterURLRewrite && f.URLRewrite != nil:
			rp := fp + ".urlRewrite"
			if h := f.URLRewrite.Hostname; h != nil {
				e.add(rp+".hostname", hostnameProblem(string(*h), false))
				hosts.rewriteField = rp + ".hostname"
			}
			validatePathModifier(e, rp+".path", f.URLRewrite.Path)
		case f.Type == gwv1.HTTPRouteFilterCORS && f.CORS != nil:
			validateCORS(e, fp+".cors", f.CORS)
		}
	}
	return hosts
}

// CORS list bounds: the CRD's.
const (
	maxCORSOrigins = 64
	maxCORSMethods = 9
	maxCORSHeaders = 64
)

// validateCORS checks a CORS filter's values as the CRD does (its pattern
// for origins, its method enum, tokens for header names, "*" alone where
// its CEL rules say, its list bounds), since the lists reach the model
// and its response headers verbatim.
func validateCORS(e *valueErrors, field string, f *gwv1.HTTPCORSFilter) {
	list := func(name string, n, most int, hasStar bool) {
		if n > most {
			e.add(field+"."+name, fmt.Sprintf("has %d entries; at most %d are allowed", n, most))
		}
		if hasStar && n > 1 {
			e.add(field+"."+name, `"*" cannot be listed next to other values`)
		}
	}
	star := false
	for i, o := range f.AllowOrigins {
		star = star || o == "*"
		if !lb.ValidCORSOrigin(string(o)) {
			e.add(fmt.Sprintf("%s.allowOrigins[%d]", field, i),
				fmt.Sprintf(`%s is not "*" or http(s)://host[:port] (host a name, "*" or "*.name"; port 1-65535)`, quote(string(o))))
		}
	}
	list("allowOrigins", len(f.AllowOrigins), maxCORSOrigins, star)
	star = false
	for i, m := range f.AllowMethods {
		star = star || m == "*"
		if m != "*" && !methods[gwv1.HTTPMethod(m)] {
			e.add(fmt.Sprintf("%s.allowMethods[%d]", field, i), fmt.Sprintf(`%s is not "*" or an HTTP method this API knows`, quote(string(m))))
		}
	}
	list("allowMethods", len(f.AllowMethods), maxCORSMethods, star)
	headers := func(name string, hs []gwv1.HTTPHeaderName, starAlone bool) {
		star := false
		for i, h := range hs {
			star = star || h == "*"
			e.add(fmt.Sprintf("%s.%s[%d]", field, name, i), headerNameProblem(string(h)))
		}
		list(name, len(hs), maxCORSHeaders, star && starAlone)
	}
	headers("allowHeaders", f.AllowHeaders, true)
	// The API lets "*" stand next to other names here: a name listed with
	// it changes nothing.
	headers("exposeHeaders", f.ExposeHeaders, false)
	// 0 is what a filter stored before the CRD defaulted maxAge holds:
	// mapping gives it the default.
	if f.MaxAge < 0 {
		e.add(field+".maxAge", fmt.Sprintf("%d is not a number of seconds of at least 1", f.MaxAge))
	}
}

func validatePathModifier(e *valueErrors, field string, m *gwv1.HTTPPathModifier) {
	if m == nil {
		return
	}
	if m.ReplaceFullPath != nil {
		e.add(field+".replaceFullPath", pathProblem(*m.ReplaceFullPath))
	}
	// "" replaces the matched prefix with nothing: the API's table allows it.
	if m.ReplacePrefixMatch != nil && *m.ReplacePrefixMatch != "" {
		e.add(field+".replacePrefixMatch", pathProblem(*m.ReplacePrefixMatch))
	}
}

// validateHeaderFilter checks one header filter's names and values, and
// returns the field of a Host set on a request filter ("" if none).
func validateHeaderFilter(e *valueErrors, field string, f *gwv1.HTTPHeaderFilter, request bool) string {
	first := map[string]string{} // lowercase name -> first field naming it
	hostSet := ""
	name := func(fp, n string) {
		if p := headerNameProblem(n); p != "" {
			e.add(fp, p)
			return
		}
		lower := strings.ToLower(n)
		if hopHeaders[lower] {
			e.add(fp, fmt.Sprintf("header %s frames the message or belongs to one connection; a filter cannot change it", quote(n)))
		}
		if prev, ok := first[lower]; ok {
			e.add(fp, fmt.Sprintf("header %s is also named by %s; a header filter may act on a header once", quote(n), prev))
			return
		}
		first[lower] = fp
	}
	headers := func(list string, hs []gwv1.HTTPHeader) {
		for i, h := range hs {
			hp := fmt.Sprintf("%s.%s[%d]", field, list, i)
			name(hp+".name", string(h.Name))
			e.add(hp+".value", headerValueProblem(h.Value))
			if !request || !strings.EqualFold(string(h.Name), "host") {
				continue
			}
			if list == "add" {
				e.add(hp+".name", "the Host header can be set, not added: a request has exactly one Host")
				continue
			}
			if headerValueProblem(h.Value) == "" {
				e.add(hp+".value", hostHeaderProblem(h.Value))
			}
			hostSet = hp
		}
	}
	headers("set", f.Set)
	headers("add", f.Add)
	for i, n := range f.Remove {
		rp := fmt.Sprintf("%s.remove[%d]", field, i)
		name(rp, n)
		if request && strings.EqualFold(n, "host") {
			e.add(rp, "the Host header cannot be removed: a request has exactly one Host")
		}
	}
	return hostSet
}
