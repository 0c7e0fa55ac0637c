package mapping

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// The checks of single user values behind validate.go's table. Each
// returns "" when the value is fine, else the reason it is not, worded to
// follow `<field>: ` in a condition message.

// Length limits are the CRD's: nothing the API server accepts today is
// refused for its length, and objects stored under older CRDs are held to
// the same bounds.
const (
	maxHeaderName  = 256
	maxHeaderValue = 4096
	maxPath        = 1024
	maxQueryValue  = 1024
	maxHostname    = 253
	maxGRPCName    = 1024
	maxWeight      = 1_000_000
)

// tokenProblem checks a header or query parameter name (the API gives
// both the type HTTPHeaderName): an RFC 9110 token.
func tokenProblem(what, name string) string {
	if len(name) > maxHeaderName {
		return fmt.Sprintf("%s name %s is longer than %d bytes", what, quote(name), maxHeaderName)
	}
	if !lb.ValidHeaderName(name) {
		return fmt.Sprintf("%s is not a valid %s name (RFC 9110 token)", quote(name), what)
	}
	return ""
}

func headerNameProblem(name string) string { return tokenProblem("HTTP header", name) }

func headerValueProblem(v string) string {
	switch {
	case v == "":
		return "header value is empty"
	case len(v) > maxHeaderValue:
		return fmt.Sprintf("header value %s is longer than %d bytes", quote(v), maxHeaderValue)
	case !lb.ValidHeaderValue(v):
		return fmt.Sprintf("header value %s has a control character (of those, only tab is allowed)", quote(v))
	}
	return ""
}

// regexProblem checks a RegularExpression value in the form every data
// plane compiles it (lb.CompileRegex: alone and anchored, Go RE2 and its
// limits), naming RE2's reason when there is one.
func regexProblem(expr string, maxLen int) string {
	if len(expr) > maxLen {
		return fmt.Sprintf("regular expression %s is longer than %d bytes", quote(expr), maxLen)
	}
	_, err := lb.CompileRegex(expr)
	if err == nil {
		return ""
	}
	if _, alone := regexp.Compile(expr); alone == nil {
		return fmt.Sprintf("regular expression %s is not valid RE2 once anchored as ^(?:...)$", quote(expr))
	}
	var se *syntax.Error
	if errors.As(err, &se) {
		return fmt.Sprintf("regular expression %s is not valid RE2: %s", quote(expr), se.Code)
	}
	return fmt.Sprintf("regular expression %s is not valid RE2", quote(expr))
}

// hostnameProblem checks a route, listener, redirect or rewrite hostname:
// RFC 1123 labels (lowercase letters, digits and '-', not at either end,
// 1 to 63 bytes each) and at most 253 bytes, as the API's Hostname and
// PreciseHostname types say, with the label length the CRD pattern does not
// check; wildcard allows a leading "*." label. The API allows no IP
// address in either type.
func hostnameProblem(h string, wildcard bool) string {
	name := h
	if wildcard {
		name = strings.TrimPrefix(h, "*.")
	}
	bad := func(why string) string { return fmt.Sprintf("%s is not a valid hostname: %s", quote(h), why) }
	switch {
	case h == "":
		return "hostname is empty"
	case len(h) > maxHostname:
		return bad(fmt.Sprintf("longer than %d bytes", maxHostname))
	case isIPv4(name):
		return bad("IP addresses are not allowed")
	}
	for label := range strings.SplitSeq(name, ".") {
		switch {
		case label == "" || len(label) > 63:
			return bad("each label must have 1 to 63 characters")
		case label[0] == '-' || label[len(label)-1] == '-':
			return bad("a label cannot start or end with '-'")
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				if c == '*' {
					return bad("a wildcard can only be the whole first label, as in *.example.com")
				}
				return bad("labels hold lowercase letters, digits and '-'")
			}
		}
	}
	return ""
}

func isIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

// hostHeaderProblem checks the value a request header modifier sets the
// Host header to: a hostname (any case), an IPv4 address or a bracketed
// IPv6 address, with an optional port. net/http refuses other Host values
// on every request it sends.
func hostHeaderProblem(v string) string {
	bad := fmt.Sprintf("%s is not a valid Host header value (host or host:port)", quote(v))
	host := v
	if i := strings.LastIndexByte(v, ':'); i >= 0 && !strings.HasSuffix(v, "]") {
		host = v[:i]
		p, err := strconv.Atoi(v[i+1:])
		if err != nil || p < 1 || p > 65535 || v[i+1] == '+' || v[i+1] == '-' {
			return bad
		}
	}
	if inner, ok := strings.CutPrefix(host, "["); ok {
		a, err := netip.ParseAddr(strings.TrimSuffix(inner, "]"))
		if err != nil || !a.Is6() || !strings.HasSuffix(inner, "]") {
			return bad
		}
		return ""
	}
	if isIPv4(host) || hostnameProblem(strings.ToLower(host), false) == "" {
		return ""
	}
	return bad
}

// pathChars are RFC 3986 pchar and "/" without percent-encoding: the CRD's
// character set for Exact and PathPrefix matches. It leaves out "?" and
// "#" (they end a path), whitespace, control characters and non-ASCII,
// which a cloud would read differently or refuse.
const pathChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/"

// pathProblem checks an absolute path: it starts with "/", holds only
// pathChars and %XX escapes, and is at most maxPath bytes.
func pathProblem(p string) string {
	switch {
	case len(p) > maxPath:
		return fmt.Sprintf("path %s is longer than %d bytes", quote(p), maxPath)
	case !strings.HasPrefix(p, "/"):
		return fmt.Sprintf("path %s must start with \"/\"", quote(p))
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' {
			if i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
				i += 2
				continue
			}
			return fmt.Sprintf("path %s has a '%%' that does not start a %%XX escape", quote(p))
		}
		if strings.IndexByte(pathChars, c) < 0 {
			return fmt.Sprintf("path %s may hold only RFC 3986 path characters and %%XX escapes (no '?', '#', "+
				"spaces, control characters or non-ASCII)", quote(p))
		}
	}
	return ""
}

// matchPathProblem adds the API's rules for Exact and PathPrefix match
// values to pathProblem: no empty, "." or ".." segments and no encoded
// "/", since such a path never matches a normalized request.
func matchPathProblem(p string) string {
	if s := pathProblem(p); s != "" {
		return s
	}
	for _, bad := range []string{"//", "/./", "/../", "%2f", "%2F"} {
		if strings.Contains(p, bad) {
			return fmt.Sprintf("path %s must not contain %q", quote(p), bad)
		}
	}
	if strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..") {
		return fmt.Sprintf("path %s must not end with a \".\" or \"..\" segment", quote(p))
	}
	return ""
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// queryValueProblem checks an Exact query parameter value. It is compared
// after percent-decoding, so any text but control characters can match.
func queryValueProblem(v string) string {
	switch {
	case v == "":
		return "query parameter value is empty"
	case len(v) > maxQueryValue:
		return fmt.Sprintf("query parameter value %s is longer than %d bytes", quote(v), maxQueryValue)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' || c == 0x7f {
			return fmt.Sprintf("query parameter value %s has a control character", quote(v))
		}
	}
	return ""
}

// methods are the HTTPMethod enum's values.
var methods = map[gwv1.HTTPMethod]bool{
	gwv1.HTTPMethodGet: true, gwv1.HTTPMethodHead: true, gwv1.HTTPMethodPost: true,
	gwv1.HTTPMethodPut: true, gwv1.HTTPMethodDelete: true, gwv1.HTTPMethodConnect: true,
	gwv1.HTTPMethodOptions: true, gwv1.HTTPMethodTrace: true, gwv1.HTTPMethodPatch: true,
}

// The API's character sets for exact gRPC service and method names.
var (
	grpcServicePattern = regexp.MustCompile(`^\.?[A-Za-z_][A-Za-z_0-9]*(\.[A-Za-z_][A-Za-z_0-9]*)*$`)
	grpcMethodPattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z_0-9]*$`)
)

// hopHeaders frame the message or belong to one connection. A filter that
// changed them would desynchronize the framing between client, proxy and
// backend (a request smuggling risk), or be dropped by the proxy, so no
// header filter may name them.
var hopHeaders = map[string]bool{
	"content-length": true, "transfer-encoding": true, "connection": true, "keep-alive": true,
	"proxy-connection": true, "te": true, "trailer": true, "upgrade": true,
}

// maxQuoted bounds a user value quoted in a message, so that a 4096-byte
// header value cannot crowd out the rest of it.
const maxQuoted = 64

// quote quotes a user value for a message, escaping control characters
// (a condition message never carries a raw line break) and cutting long
// values on a UTF-8 boundary.
func quote(v string) string {
	if len(v) <= maxQuoted {
		return strconv.Quote(v)
	}
	return strconv.Quote(cutUTF8(v, maxQuoted)) + "…"
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
