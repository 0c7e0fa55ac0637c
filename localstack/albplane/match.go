package albplane

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Rule conditions as ALB evaluates them. Sources:
//   - "Condition types for listener rules",
//     https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html
//   - the API reference's HostHeaderConditionConfig, PathPatternConditionConfig,
//     HttpHeaderConditionConfig, QueryStringConditionConfig,
//     HttpRequestMethodConditionConfig and SourceIpConditionConfig pages.
//
// A rule matches when every condition does; a condition matches when one of
// its values (or regex values) does.

// request is what the conditions look at, computed once per request.
type request struct {
	host   string // without the port, as sent
	path   string // as sent (still percent-encoded)
	query  string // as sent, without "?"
	method string
	header http.Header
	source netip.Addr
}

func newRequest(r *http.Request) *request {
	q := &request{host: hostOnly(r.Host), method: r.Method, header: r.Header}
	uri := r.RequestURI
	if uri == "" || uri == "*" || !strings.HasPrefix(uri, "/") {
		// HTTP/2, or an absolute-form URI: the URL has the parts.
		uri = r.URL.EscapedPath()
		if r.URL.RawQuery != "" {
			uri += "?" + r.URL.RawQuery
		}
	}
	q.path, q.query, _ = strings.Cut(uri, "?")
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if a, err := netip.ParseAddr(h); err == nil {
			q.source = a.Unmap()
		}
	}
	return q
}

// hostOnly drops the port of a Host header: ALB's host condition compares
// the host name.
func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

func (r *rule) matches(q *request) bool {
	for _, c := range r.Conditions {
		if !c.matches(q) {
			return false
		}
	}
	return true
}

func (c *condition) matches(q *request) bool {
	switch c.Field {
	case "host-header":
		// HostHeaderConditionConfig: "The comparison is case insensitive.
		// The following wildcard characters are supported: * (matches 0
		// or more characters) and ? (matches exactly 1 character)."
		return anyValue(c, q.host, true)
	case "path-pattern":
		// PathPatternConditionConfig: "The comparison is case sensitive"
		// and "compared only to the path of the URL, not to its query
		// string".
		return anyValue(c, q.path, false)
	case "http-header":
		// HttpHeaderConditionConfig: "The header name is case
		// insensitive", "The comparison strings are case insensitive",
		// and "If the same header appears multiple times in the
		// request, we search them in order until a match is found."
		for _, v := range q.header.Values(c.Header) {
			if anyValue(c, v, true) {
				return true
			}
		}
		return false
	case "http-request-method":
		// HttpRequestMethodConditionConfig: "The comparison is case
		// sensitive. Wildcards are not supported".
		for _, v := range c.Values {
			if v == q.method {
				return true
			}
		}
		return false
	case "query-string":
		return queryMatches(c.Query, q.query)
	case "source-ip":
		// SourceIpConditionConfig: the client's address, not
		// X-Forwarded-For ("If a client is behind a proxy, this is the
		// IP address of the proxy").
		for _, p := range c.CIDRs {
			if q.source.IsValid() && p.Contains(q.source) {
				return true
			}
		}
		return false
	}
	// A field this plane does not know never matches: serving the rule
	// anyway would hide the translation that wrote it.
	return false
}

func anyValue(c *condition, s string, fold bool) bool {
	for _, v := range c.Values {
		if wildcardMatch(v, s, fold, false) {
			return true
		}
	}
	for _, re := range c.Regex {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// queryMatches: QueryStringConditionConfig: "The key/value pairs or values
// to find in the query string", "The comparison is case insensitive",
// wildcards * and ?, and "To search for a literal '*' or '?' character in a
// query string, you must escape these characters in Values using a '\'
// character." A pair without a key matches any parameter's value. The
// query's parts are compared percent-decoded ("Any character can be
// percentage encoded").
func queryMatches(pairs []queryPair, raw string) bool {
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, v = unescapeQuery(k), unescapeQuery(v)
		for _, p := range pairs {
			if (p.Key == "" || wildcardMatch(p.Key, k, true, true)) && wildcardMatch(p.Value, v, true, true) {
				return true
			}
		}
	}
	return false
}

func unescapeQuery(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// wildcardMatch reports whether s matches pattern, where "*" matches any
// run of characters (also none) and "?" exactly one character; fold
// compares ignoring case; escapes makes "\*" and "\?" literal (query
// strings only).
func wildcardMatch(pattern, s string, fold, escapes bool) bool {
	type tok struct {
		r    rune
		kind byte // 'c' character, '*', '?'
	}
	var toks []tok
	for i := 0; i < len(pattern); {
		r, n := utf8.DecodeRuneInString(pattern[i:])
		i += n
		switch {
		case escapes && r == '\\' && i < len(pattern) && (pattern[i] == '*' || pattern[i] == '?'):
			toks = append(toks, tok{rune(pattern[i]), 'c'})
			i++
		case r == '*':
			toks = append(toks, tok{kind: '*'})
		case r == '?':
			toks = append(toks, tok{kind: '?'})
		default:
			toks = append(toks, tok{r, 'c'})
		}
	}
	text := []rune(s)
	eq := func(a, b rune) bool {
		if fold {
			return unicode.SimpleFold(a) == b || a == b || unicode.ToLower(a) == unicode.ToLower(b)
		}
		return a == b
	}
	// The classic linear matcher with one backtracking point: the last
	// star seen.
	p, t, star, mark := 0, 0, -1, 0
	for t < len(text) {
		switch {
		case p < len(toks) && (toks[p].kind == '?' || toks[p].kind == 'c' && eq(toks[p].r, text[t])):
			p++
			t++
		case p < len(toks) && toks[p].kind == '*':
			star, mark = p, t
			p++
		case star >= 0:
			p = star + 1
			mark++
			t = mark
		default:
			return false
		}
	}
	for p < len(toks) && toks[p].kind == '*' {
		p++
	}
	return p == len(toks)
}
