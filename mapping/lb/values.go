package lb

import (
	"fmt"
	"regexp"
	"strconv"
)

// The model carries user values (header names and values, regular
// expressions) to every provider. These predicates define the form every
// provider must accept; mapping refuses anything else on the route that
// asks for it, and Validate checks them again so that no provider sees a
// value its data plane would refuse for the whole load balancer.

// ValidHeaderName reports whether name is an RFC 9110 token (section 5.6.2),
// the only form of field name that HTTP/1.1 and HTTP/2 both carry.
// HTTP/2 pseudo-headers (":authority") are not tokens.
func ValidHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isTokenByte(name[i]) {
			return false
		}
	}
	return true
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// ValidHeaderValue reports whether v can be sent as a header value: no
// control characters other than horizontal tab (RFC 9110 section 5.5).
// net/http refuses such a value on every request it would send (so a data
// plane would fail each request rather than the configuration), and CR or
// LF would let a value inject headers.
func ValidHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// CompileRegex compiles a Regex match value in the form providers match
// it: anchored, as `^(?:expr)$`, in Go's RE2 syntax and within its limits
// (repeat counts up to 1000, bounded program size and nesting). It also
// requires expr to compile on its own: an expression such as `a)|(b`
// compiles only once wrapped, and then is no longer anchored as a whole.
func CompileRegex(expr string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(expr); err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %w", expr, err)
	}
	re, err := regexp.Compile(`^(?:` + expr + `)$`)
	if err != nil {
		return nil, fmt.Errorf("regular expression %q does not compile anchored: %w", expr, err)
	}
	return re, nil
}

// corsOrigin is the form of a CORS origin the Gateway API's CORSOrigin
// pattern allows besides "*": a lowercase http or https scheme, a host that
// is "*", or labels with an optional leading "*.", and an optional port.
var corsOrigin = regexp.MustCompile(`^https?://(\*|(\*\.)?([A-Za-z0-9-]+\.)*[A-Za-z0-9-]+)(:([0-9]{1,5}))?$`)

// ValidCORSOrigin reports whether o is a CORS.AllowOrigins entry: "*", or
// the API's "scheme://host[:port]" form (at most 253 bytes, the port 1 to
// 65535), in which every data plane can tell the scheme, host and port
// apart.
func ValidCORSOrigin(o string) bool {
	if o == "*" {
		return true
	}
	m := corsOrigin.FindStringSubmatch(o)
	if m == nil || len(o) > 253 {
		return false
	}
	if port := m[5]; port != "" {
		n, err := strconv.Atoi(port)
		return err == nil && n >= 1 && n <= 65535
	}
	return true
}
