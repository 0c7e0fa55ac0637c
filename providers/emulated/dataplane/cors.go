package dataplane

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// This file compiles and applies an lb.CORS: the handler answers a rule's
// preflight requests itself (preflight) and every other response of the
// rule goes through finish, which adds the CORS headers for an allowed
// origin before the rule's response modifiers.

// corsPolicy is a compiled lb.CORS. The header values that do not depend
// on the request are joined once, here.
type corsPolicy struct {
	anyOrigin bool
	origins   []originPattern
	// allowMethods and allowHeaders are the preflight's answers, ""
	// for none; anyMethod and anyHeader stand for a "*".
	allowMethods, allowHeaders string
	anyMethod, anyHeader       bool
	// expose is Access-Control-Expose-Headers, "" for none; exposeAll
	// says that a "*" must be replaced by the response's own header
	// names (with credentials, where browsers read "*" literally).
	expose      string
	exposeList  []string
	exposeAll   bool
	maxAge      string
	credentials bool
}

// originPattern is one compiled entry of lb.CORS.AllowOrigins other than
// "*". host is lowercase: "" matches any host, and with suffix set it is
// ".name", which any host with at least one label before it matches.
type originPattern struct {
	scheme, host, port string
	suffix             bool
}

// origin is a request's Origin, parsed: lowercase scheme and host, and the
// port (the scheme's when the origin names none).
type origin struct{ scheme, host, port string }

func (p originPattern) matches(o origin) bool {
	if p.scheme != o.scheme || p.port != o.port {
		return false
	}
	switch {
	case p.host == "":
		return true
	case p.suffix:
		return len(o.host) > len(p.host) && strings.HasSuffix(o.host, p.host)
	}
	return p.host == o.host
}

// defaultPort is the port of an origin that names none, for the schemes
// that have one.
func defaultPort(scheme string) string {
	switch scheme {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}

// parseOrigin parses a request's Origin header: "scheme://host[:port]" as
// browsers serialize it, with a host of dot-separated labels or a bracketed
// IPv6 address. Anything else (a path, user info, an empty label, the
// opaque origin "null") is not an origin any pattern matches, so that a
// value is never echoed back unless it is one.
func parseOrigin(s string) (origin, bool) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || !validScheme(scheme) {
		return origin{}, false
	}
	host, port := rest, ""
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.HasSuffix(rest, "]") {
		host, port = rest[:i], rest[i+1:]
		if !validPort(port) {
			return origin{}, false
		}
	}
	if !validOriginHost(host) {
		return origin{}, false
	}
	o := origin{scheme: strings.ToLower(scheme), host: strings.ToLower(host)}
	if port == "" {
		o.port = defaultPort(o.scheme)
	} else {
		n, _ := strconv.Atoi(port) // validPort checked it
		o.port = strconv.Itoa(n)
	}
	return o, true
}

// validScheme checks RFC 3986's scheme: a letter, then letters, digits,
// '+', '-' and '.'.
func validScheme(s string) bool {
	for i, c := range []byte(s) {
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9') && c != '+' && c != '-' && c != '.') {
			return false
		}
	}
	return s != ""
}

// validPort checks a port of one to five digits, 1 to 65535.
func validPort(s string) bool {
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return false
	}
	n, _ := strconv.Atoi(s)
	return n >= 1 && n <= 65535
}

// validOriginHost checks a host of labels (letters, digits, '-') or an
// IPv6 address in brackets.
func validOriginHost(h string) bool {
	if inner, ok := strings.CutPrefix(h, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		return ok && inner != "" && strings.Trim(inner, "0123456789abcdefABCDEF:.") == ""
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || strings.Trim(label, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") != "" {
			return false
		}
	}
	return true
}

// compileOriginPattern compiles an AllowOrigins entry other than "*".
func compileOriginPattern(s string) (originPattern, error) {
	if !lb.ValidCORSOrigin(s) {
		return originPattern{}, fmt.Errorf("cors: origin %q is not \"*\" or scheme://host[:port]", s)
	}
	scheme, rest, _ := strings.Cut(s, "://")
	host, port, _ := strings.Cut(rest, ":")
	p := originPattern{scheme: scheme, host: strings.ToLower(host), port: port}
	if p.port == "" {
		p.port = defaultPort(scheme)
	} else {
		n, _ := strconv.Atoi(port) // ValidCORSOrigin checked it
		p.port = strconv.Itoa(n)
	}
	switch {
	case p.host == "*":
		p.host = ""
	case strings.HasPrefix(p.host, "*."):
		p.host, p.suffix = p.host[1:], true
	}
	return p, nil
}

// compileCORS compiles a rule's CORS policy; nil gives nil.
func compileCORS(c *lb.CORS) (*corsPolicy, error) {
	if c == nil {
		return nil, nil
	}
	var errs []error
	out := &corsPolicy{credentials: c.AllowCredentials}
	for _, o := range c.AllowOrigins {
		if o == "*" {
			out.anyOrigin = true
			continue
		}
		p, err := compileOriginPattern(o)
		errs = append(errs, err)
		out.origins = append(out.origins, p)
	}
	tokens := func(field string, list []string) {
		for _, v := range list {
			if !validHeaderName(v) {
				errs = append(errs, fmt.Errorf("cors: %s entry %q is not a token", field, v))
			}
		}
	}
	tokens("allowMethods", c.AllowMethods)
	tokens("allowHeaders", c.AllowHeaders)
	tokens("exposeHeaders", c.ExposeHeaders)
	out.anyMethod = slices.Contains(c.AllowMethods, "*")
	if !out.anyMethod {
		out.allowMethods = strings.Join(c.AllowMethods, ", ")
	}
	out.anyHeader = slices.Contains(c.AllowHeaders, "*")
	if !out.anyHeader {
		out.allowHeaders = strings.Join(c.AllowHeaders, ", ")
	}
	expose := c.ExposeHeaders
	if c.AllowCredentials && slices.Contains(expose, "*") {
		out.exposeAll = true
		expose = slices.DeleteFunc(slices.Clone(expose), func(h string) bool { return h == "*" })
	}
	out.expose, out.exposeList = strings.Join(expose, ", "), expose
	if c.MaxAge < time.Second || c.MaxAge > lb.MaxCORSMaxAge || c.MaxAge%time.Second != 0 {
		errs = append(errs, fmt.Errorf("cors: max age %v is not a whole number of seconds from 1s to %v", c.MaxAge, lb.MaxCORSMaxAge))
	}
	out.maxAge = strconv.FormatInt(int64(c.MaxAge.Seconds()), 10)
	return out, errors.Join(errs...)
}

// allowedOrigin returns r's Origin when the policy allows it, else "". A
// request with more than one Origin header has no origin to allow.
func (c *corsPolicy) allowedOrigin(r *http.Request) string {
	if c == nil {
		return ""
	}
	values := r.Header.Values("Origin")
	if len(values) != 1 {
		return ""
	}
	o, ok := parseOrigin(values[0])
	if !ok {
		return ""
	}
	if c.anyOrigin || slices.ContainsFunc(c.origins, func(p originPattern) bool { return p.matches(o) }) {
		return values[0]
	}
	return ""
}

// isPreflight says whether r is a CORS preflight request, as the Fetch
// standard sends them.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// preflight sets the headers of the answer to a preflight request, which
// the handler sends with 204 whether the origin is allowed or not (the
// browser fails a preflight whose answer lacks the headers). Which
// methods and headers to allow is the browser's decision from the answer:
// the policy's lists are sent as they are.
func (c *corsPolicy) preflight(h http.Header, r *http.Request) {
	o := c.allowedOrigin(r)
	if o == "" {
		return
	}
	c.common(h, o)
	switch {
	case !c.anyMethod:
		if c.allowMethods != "" {
			h.Set("Access-Control-Allow-Methods", c.allowMethods)
		}
	case !c.credentials:
		h.Set("Access-Control-Allow-Methods", "*")
	default:
		if m := r.Header.Get("Access-Control-Request-Method"); validHeaderName(m) {
			h.Set("Access-Control-Allow-Methods", m)
		}
	}
	switch {
	case !c.anyHeader:
		if c.allowHeaders != "" {
			h.Set("Access-Control-Allow-Headers", c.allowHeaders)
		}
	case !c.credentials:
		h.Set("Access-Control-Allow-Headers", "*")
	default:
		if names := requestedHeaders(r); names != "" {
			h.Set("Access-Control-Allow-Headers", names)
		}
	}
	h.Set("Access-Control-Max-Age", c.maxAge)
}

// requestedHeaders is a preflight's Access-Control-Request-Headers as a
// list of the tokens it names, "" for none: it is echoed to the client,
// so nothing but header names goes back.
func requestedHeaders(r *http.Request) string {
	var names []string
	for _, v := range r.Header.Values("Access-Control-Request-Headers") {
		for n := range strings.SplitSeq(v, ",") {
			if n = strings.TrimSpace(n); validHeaderName(n) {
				names = append(names, n)
			}
		}
	}
	return strings.Join(names, ", ")
}

// common sets the headers that preflight answers and other responses to
// the allowed origin o share.
func (c *corsPolicy) common(h http.Header, o string) {
	h.Set("Access-Control-Allow-Origin", o)
	if c.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if c.expose != "" {
		h.Set("Access-Control-Expose-Headers", c.expose)
	}
}

// actual sets the CORS headers of a response to a request from the
// allowed origin o ("" for none). The answer depends on the request's
// Origin, so caches are told so in every case.
func (c *corsPolicy) actual(h http.Header, o string) {
	if c == nil {
		return
	}
	if !slices.ContainsFunc(h.Values("Vary"), func(v string) bool {
		return slices.ContainsFunc(strings.Split(v, ","), func(n string) bool { return strings.EqualFold(strings.TrimSpace(n), "Origin") })
	}) {
		h.Add("Vary", "Origin")
	}
	if o != "" {
		c.common(h, o)
	}
}

// exposeResponse lists h's header names in Access-Control-Expose-Headers
// when the policy's "*" must be spelled out: after the policy's own
// names, the others of h, sorted, but for the CORS headers themselves.
// It runs after every other change to h, so that what the client gets is
// what is exposed.
func (c *corsPolicy) exposeResponse(h http.Header, o string) {
	if c == nil || o == "" || !c.exposeAll {
		return
	}
	names := slices.Clone(c.exposeList)
	var more []string
	for k := range h {
		if !strings.HasPrefix(k, "Access-Control-") && !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, k) }) {
			more = append(more, k)
		}
	}
	slices.Sort(more)
	if names = append(names, more...); len(names) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(names, ", "))
	}
}

// finish changes the headers of a response of the rule before it is sent:
// the CORS headers for origin o (see corsPolicy.actual), the rule's
// response modifier, then backend's (nil for an answer that no backend
// gave), then an exposed "*" spelled out.
func (a *action) finish(h http.Header, o string, b *backend) {
	a.cors.actual(h, o)
	a.responseHeaders.apply(h)
	if b != nil {
		b.responseHeaders.apply(h)
	}
	a.cors.exposeResponse(h, o)
}
