package aws

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// Listener rules: the model's matches, actions and rewrites as ELBv2 rule
// conditions, actions and transforms, in the one normalized form that the
// diff compares (for the model and for what DescribeRules returns alike).
//
// What ALB compares, and how the model's matches are carried:
//   - path-pattern is case-sensitive. Exact and Prefix paths are wildcard
//     patterns ("/a", "/a/*") when every character is one ALB allows there;
//     a path with any other character ("*", "?", "(", "%", ...) becomes an
//     anchored regex of the literal path instead, so that nothing reads as
//     a wildcard.
//   - http-header and query-string values are compared ignoring case (ALB
//     documents both so): an Exact match on "Canary" also takes "canary".
//     ALB has no case-sensitive literal comparison for query strings at
//     all; see Capabilities.
//   - A header match on Host becomes the rule's one host-header condition
//     (ALB refuses http-header conditions on Host), intersected with the
//     VirtualHost's or the rule's hostname.
//   - Regex matches (RE2 in the model, anchored) become RegexValues of
//     path-pattern, http-header and host-header, wrapped in ^(?:…)$, when
//     they use only what RE2 and ALB's engine read alike (albRegex).

type rule struct {
	Logical  string `json:"-"`
	Element  string `json:"-"` // the model's name for errors: the rule's, or the listener's for a default rule
	Priority int32  `json:"priority"`
	// Conditions sorted (by field, name, values), values sorted.
	Conditions []condition `json:"conditions"`
	Action     action      `json:"action"`
	// Transforms sorted by type; at most one of each (ALB's rule).
	Transforms []transform       `json:"transforms,omitempty"`
	Tags       map[string]string `json:"tags"`
	ARN        string            `json:"-"`
}

// condition is one ELBv2 rule condition: Values (literal or wildcard
// patterns) or Regex (RegexValues), never both.
type condition struct {
	Field  string   `json:"field"`
	Name   string   `json:"name,omitempty"`   // http-header name, lower case
	Values []string `json:"values,omitempty"` // query-string: "key=value"
	Regex  []string `json:"regex,omitempty"`
}

// transform is one rule transform with its one rewrite.
type transform struct {
	Type    string `json:"type"` // host-header-rewrite, url-rewrite
	Regex   string `json:"regex"`
	Replace string `json:"replace"`
}

// ALB's limits on rule parts (ELBv2 API reference).
const (
	maxRegex        = 128  // one RegexValues entry
	maxHeaderName   = 40   // HttpHeaderName
	maxRewrite      = 1024 // RewriteConfig Regex and Replace
	hostRewrite     = "host-header-rewrite"
	urlRewrite      = "url-rewrite"
	matchAllPattern = "/*"
)

// wildcard reports a value ALB would read as a pattern: "*" and "?" match
// any characters there.
func wildcard(v string) bool { return strings.ContainsAny(v, "*?") }

// plainPath reports whether ALB takes v as a path-pattern value as it is:
// the characters its path patterns allow, none of them a wildcard.
func plainPath(v string) bool {
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune(`_-.$/~"'@:+&`, r):
		default:
			return false
		}
	}
	return true
}

// literalRegex matches v and nothing else.
func literalRegex(v string) string { return "^" + regexp.QuoteMeta(v) + "$" }

// convertRule converts one model rule under the VirtualHost vhost. It
// returns nil and no error for a rule that no request can match (a Host
// header match that contradicts the hostname): the model then asks for
// nothing that a cloud rule would add.
func convertRule(vhost string, r lb.Rule, groups map[string]string) (*rule, error) {
	out := &rule{}
	host := vhost
	if r.Match.Hostname != "" {
		host = r.Match.Hostname
	}
	hc, reachable, err := hostCondition(host, r.Match.Headers)
	if err != nil {
		return nil, err
	}
	if !reachable {
		// Leaving the rule out serves exactly what the model says (a rule
		// that never matches is no rule); refusing it would take the
		// route's other rules down with it.
		return nil, nil
	}
	if hc != nil {
		out.Conditions = append(out.Conditions, *hc)
	}
	if pm := r.Match.Path; pm != nil {
		c, err := pathCondition(*pm)
		if err != nil {
			return nil, err
		}
		out.Conditions = append(out.Conditions, c)
	}
	if r.Match.Method != "" {
		out.Conditions = append(out.Conditions, condition{Field: "http-request-method", Values: []string{r.Match.Method}})
	}
	for _, h := range r.Match.Headers {
		if strings.EqualFold(h.Name, "host") {
			continue // in the host condition
		}
		c, err := headerCondition(h)
		if err != nil {
			return nil, err
		}
		out.Conditions = append(out.Conditions, c)
	}
	for _, q := range r.Match.Query {
		c, err := queryCondition(q)
		if err != nil {
			return nil, err
		}
		// Each pair is its own condition: values of one condition are
		// ORed, and the model ANDs its query matches.
		out.Conditions = append(out.Conditions, c)
	}
	// "/*" alone matches every path: it is needed only to give a rule
	// without other conditions the one ALB requires.
	if len(out.Conditions) > 1 {
		out.Conditions = slices.DeleteFunc(out.Conditions, func(c condition) bool {
			return c.Field == "path-pattern" && slices.Equal(c.Values, []string{matchAllPattern})
		})
	}
	if len(out.Conditions) == 0 {
		out.Conditions = []condition{{Field: "path-pattern", Values: []string{matchAllPattern}}}
	}
	values := 0
	for _, c := range out.Conditions {
		values += len(c.Values) + len(c.Regex)
	}
	if values > maxConditionValues {
		return nil, fmt.Errorf("%d condition values, ALB allows %d", values, maxConditionValues)
	}
	a, err := convertAction(r.Action, groups)
	if err != nil {
		return nil, err
	}
	out.Action = a
	if rw := r.Action.Rewrite; rw != nil && a.Type == "forward" {
		// Only forwarded requests are rewritten; a rule that answers by
		// itself (a 500 for invalid backends) has nothing to rewrite.
		if out.Transforms, err = convertRewrite(*rw, r.Match.Path); err != nil {
			return nil, err
		}
	}
	normalize(out)
	return out, nil
}

// hostCondition is the rule's host-header condition: host (the rule's or
// its VirtualHost's hostname, exact or "*.suffix"; "" for any) intersected
// with a header match on Host, if any. reachable is false when the two
// cannot both hold.
//
// ALB's host condition compares the host name without the port and
// ignoring case, where a Host header match compares the header's value as
// sent: a match with a port is refused, and one without matches the name
// on any port and in any case (host names carry no case).
func hostCondition(host string, headers []lb.HeaderMatch) (c *condition, reachable bool, err error) {
	var hm *lb.HeaderMatch
	for i := range headers {
		if strings.EqualFold(headers[i].Name, "host") {
			hm = &headers[i]
			break
		}
	}
	if hm == nil {
		if host == "" {
			return nil, true, nil
		}
		return hostMatch(host), true, nil
	}
	switch hm.Type {
	case lb.MatchExact:
		v := hm.Value
		if strings.Contains(v, ":") {
			return nil, false, fmt.Errorf("header match Host %q: ALB's host condition compares the name without the port", v)
		}
		switch {
		case host == "":
			return hostValue(v), true, nil
		case strings.HasPrefix(host, "*."):
			suffix := strings.ToLower(host[1:])
			if lv := strings.ToLower(v); strings.HasSuffix(lv, suffix) && len(lv) > len(suffix) {
				return hostValue(v), true, nil
			}
			return nil, false, nil
		case strings.EqualFold(host, v):
			return hostMatch(host), true, nil
		default:
			return nil, false, nil
		}
	case lb.MatchRegex:
		switch {
		case host == "":
			re, err := albRegex(hm.Value)
			if err != nil {
				return nil, false, fmt.Errorf("header match Host: %w", err)
			}
			return &condition{Field: "host-header", Regex: []string{re}}, true, nil
		case strings.HasPrefix(host, "*."):
			return nil, false, fmt.Errorf("header match Host regex %q under the wildcard hostname %q: ALB takes one host condition per rule, and a regex cannot be intersected with the wildcard", hm.Value, host)
		default:
			// One name: the regex either takes it (in some case) or not.
			re, err := lb.CompileRegex("(?i:" + hm.Value + ")")
			if err != nil {
				return nil, false, err
			}
			if !re.MatchString(host) {
				return nil, false, nil
			}
			return hostMatch(host), true, nil
		}
	}
	return nil, false, fmt.Errorf("header match Host of type %s is not supported", hm.Type)
}

// hostMatch is the host-header condition of a model hostname: a
// wildcard "*.suffix" as ALB's own wildcard, a name as hostValue has it.
func hostMatch(h string) *condition {
	if strings.HasPrefix(h, "*.") {
		return &condition{Field: "host-header", Values: []string{h}}
	}
	return hostValue(h)
}

// hostValue is a host-header condition for the literal name v: a value
// when ALB's host values take it (letters, digits, "-", "_" and ".", at
// least one dot, a last label of letters), else an anchored regex.
func hostValue(v string) *condition {
	ok := strings.Contains(v, ".") && !wildcard(v)
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			ok = false
		}
	}
	if last := v[strings.LastIndex(v, ".")+1:]; ok && (last == "" || strings.IndexFunc(last, func(r rune) bool { return !unicode.IsLetter(r) }) >= 0) {
		ok = false
	}
	if ok {
		return &condition{Field: "host-header", Values: []string{v}}
	}
	return &condition{Field: "host-header", Regex: []string{literalRegex(v)}}
}

func pathCondition(pm lb.PathMatch) (condition, error) {
	c := condition{Field: "path-pattern"}
	switch pm.Type {
	case lb.MatchExact:
		if plainPath(pm.Value) {
			c.Values = []string{pm.Value}
		} else {
			c.Regex = []string{literalRegex(pm.Value)}
		}
	case lb.MatchPrefix:
		p := strings.TrimSuffix(pm.Value, "/")
		switch {
		case p == "":
			c.Values = []string{matchAllPattern}
		case plainPath(p):
			c.Values = []string{p, p + "/*"}
		default:
			c.Regex = []string{"^" + regexp.QuoteMeta(p) + "(/.*)?$"}
		}
	case lb.MatchRegex:
		re, err := albRegex(pm.Value)
		if err != nil {
			return c, fmt.Errorf("path: %w", err)
		}
		c.Regex = []string{re}
	default:
		return c, fmt.Errorf("path match %s is not supported", pm.Type)
	}
	for _, v := range append(slices.Clone(c.Values), c.Regex...) {
		if len(v) > maxPathPattern {
			return c, fmt.Errorf("path %q: the pattern %q is longer than ALB's %d characters", pm.Value, v, maxPathPattern)
		}
	}
	return c, nil
}

func headerCondition(h lb.HeaderMatch) (condition, error) {
	if len(h.Name) > maxHeaderName {
		return condition{}, fmt.Errorf("header match %s: ALB compares header names of at most %d characters", h.Name, maxHeaderName)
	}
	c := condition{Field: "http-header", Name: strings.ToLower(h.Name)}
	switch h.Type {
	case lb.MatchExact:
		if wildcard(h.Value) {
			c.Regex = []string{literalRegex(h.Value)}
		} else {
			c.Values = []string{h.Value}
		}
	case lb.MatchRegex:
		re, err := albRegex(h.Value)
		if err != nil {
			return c, fmt.Errorf("header match %s: %w", h.Name, err)
		}
		c.Regex = []string{re}
	default:
		return c, fmt.Errorf("header match %s is not supported", h.Type)
	}
	for _, v := range append(slices.Clone(c.Values), c.Regex...) {
		if len(v) > maxRegex {
			return c, fmt.Errorf("header match %s value %q: longer than ALB's %d characters", h.Name, h.Value, maxRegex)
		}
	}
	return c, nil
}

// queryCondition is one query-string key/value pair. ALB reads "*" and
// "?" there as wildcards unless escaped with a backslash, which makes a
// backslash of the value's own ambiguous.
func queryCondition(q lb.QueryMatch) (condition, error) {
	if q.Type != lb.MatchExact {
		return condition{}, fmt.Errorf("query match %s is not supported", q.Type)
	}
	if strings.Contains(q.Name, `\`) || strings.Contains(q.Value, `\`) {
		return condition{}, fmt.Errorf(`query %s=%q: ALB escapes wildcards with \, so a \ of the value's own cannot be matched exactly`, q.Name, q.Value)
	}
	if strings.Contains(q.Name, "=") {
		return condition{}, fmt.Errorf("query parameter name %q holds an =", q.Name)
	}
	esc := strings.NewReplacer("*", `\*`, "?", `\?`)
	k, v := esc.Replace(q.Name), esc.Replace(q.Value)
	if len(k) > maxRegex || len(v) > maxRegex {
		return condition{}, fmt.Errorf("query %s=%q: longer than ALB's %d characters", q.Name, q.Value, maxRegex)
	}
	return condition{Field: "query-string", Values: []string{k + "=" + v}}, nil
}

// albRegex returns the model's regex (RE2, matching the whole value) as
// an ALB RegexValues entry: anchored as ^(?:expr)$, which both engines
// read as a whole-value match. It refuses what ALB's engine lacks or may
// read differently: Unicode classes (\p, \P) and non-ASCII characters
// (ALB's documentation rules out Unicode classes, and a byte-wise engine
// would read a multi-byte character as several), and flags other than
// i, m and s. Lookarounds, backreferences, atomic groups, possessive
// quantifiers and recursion, which ALB also lacks, RE2 has none of.
func albRegex(expr string) (string, error) {
	if _, err := lb.CompileRegex(expr); err != nil {
		return "", err
	}
	if err := albDialect(expr); err != nil {
		return "", fmt.Errorf("regex %q: %w", expr, err)
	}
	a := "^(?:" + expr + ")$"
	if len(a) > maxRegex {
		return "", fmt.Errorf("regex %q: %d characters once anchored as %q, ALB allows %d", expr, len(a), a, maxRegex)
	}
	return a, nil
}

// albDialect checks the source of a regex that RE2 compiles.
func albDialect(expr string) error {
	for _, r := range expr {
		if r > unicode.MaxASCII {
			return fmt.Errorf("the non-ASCII character %q: ALB's regex engine may not read it as one character", r)
		}
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("the control character %q is not accepted by ALB", r)
		}
	}
	for i := 0; i < len(expr); i++ {
		switch expr[i] {
		case '\\':
			if i+1 == len(expr) {
				return nil
			}
			switch expr[i+1] {
			case 'p', 'P':
				return errors.New(`ALB supports no Unicode classes (\p, \P)`)
			case 'Q': // literal text up to \E
				if j := strings.Index(expr[i+2:], `\E`); j >= 0 {
					i += 2 + j + 1
				} else {
					i = len(expr)
				}
				continue
			}
			i++
		case '(':
			rest, ok := strings.CutPrefix(expr[i+1:], "?")
			if !ok || strings.HasPrefix(rest, "P<") || strings.HasPrefix(rest, "<") {
				continue // a group, or a named one
			}
			for _, f := range rest {
				if f == ':' || f == ')' {
					break
				}
				if !strings.ContainsRune("ims-", f) {
					return fmt.Errorf("the flag %q is not one ALB is known to read as RE2 does (i, m, s)", f)
				}
			}
		case '[':
			// A class: "(" is literal there, escapes are checked as above.
			j := i + 1
			if j < len(expr) && expr[j] == '^' {
				j++
			}
			if j < len(expr) && expr[j] == ']' {
				j++
			}
			for ; j < len(expr) && expr[j] != ']'; j++ {
				switch {
				case expr[j] == '\\' && j+1 < len(expr):
					if expr[j+1] == 'p' || expr[j+1] == 'P' {
						return errors.New(`ALB supports no Unicode classes (\p, \P)`)
					}
					j++
				case strings.HasPrefix(expr[j:], "[:"):
					if k := strings.Index(expr[j+2:], ":]"); k >= 0 {
						j += 2 + k + 1
					}
				}
			}
			i = j
		}
	}
	// Escapes such as \x{263A} name non-ASCII characters without writing
	// them: look at what RE2 parsed.
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return err
	}
	return asciiOnly(re)
}

// foldRunes are the non-ASCII runes RE2's case folding adds to ASCII
// letters (ſ for s, the Kelvin sign for k); (?i) brings them into classes
// without the user asking for anything outside ASCII.
var foldRunes = []rune{0x17F, 0x212A}

// asciiOnly refuses literals outside ASCII and classes that take some
// non-ASCII characters but not all (all is what a negated ASCII class
// takes, which a byte-wise engine reads the same for ASCII input).
func asciiOnly(re *syntax.Regexp) error {
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if r > unicode.MaxASCII && !(re.Flags&syntax.FoldCase != 0 && slices.Contains(foldRunes, r)) {
				return fmt.Errorf("the non-ASCII character %q: ALB's regex engine may not read it as one character", r)
			}
		}
	case syntax.OpCharClass:
		var n int64
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := max(re.Rune[i], unicode.MaxASCII+1), re.Rune[i+1]
			if hi >= lo {
				n += int64(hi - lo + 1)
				for _, f := range foldRunes {
					if f >= lo && f <= hi {
						n--
					}
				}
			}
		}
		if all := int64(unicode.MaxRune-unicode.MaxASCII) - int64(len(foldRunes)); n != 0 && n != all {
			return fmt.Errorf("the class %s takes some non-ASCII characters: ALB's regex engine may not read them as RE2 does", re)
		}
	}
	for _, s := range re.Sub {
		if err := asciiOnly(s); err != nil {
			return err
		}
	}
	return nil
}

// convertRewrite turns the model's rewrite into rule transforms. ALB's
// url-rewrite matches its regex against the path and query ("/a/b?q=1")
// and replaces what matched, so the regexes stop at "?" and the query
// stays. match is the rule's path match, which a prefix rewrite replaces.
func convertRewrite(rw lb.Rewrite, match *lb.PathMatch) ([]transform, error) {
	var out []transform
	check := func(what, v string) error {
		if strings.ContainsAny(v, `$\`) {
			return fmt.Errorf("%s %q: ALB's replacement string reads $ and \\ as capture group references", what, v)
		}
		return nil
	}
	if h := rw.Hostname; h != "" {
		if err := check("hostname rewrite", h); err != nil {
			return nil, err
		}
		out = append(out, transform{Type: hostRewrite, Regex: "^.*$", Replace: h})
	}
	if p := rw.Path; p != nil {
		if err := check("path rewrite", p.Value); err != nil {
			return nil, err
		}
		switch p.Type {
		case lb.RewriteFullPath:
			v := p.Value
			if !strings.HasPrefix(v, "/") {
				v = "/" + v
			}
			out = append(out, transform{Type: urlRewrite, Regex: "^[^?]*", Replace: v})
		case lb.RewritePrefix:
			if match == nil || match.Type != lb.MatchPrefix {
				return nil, errors.New("a prefix rewrite needs a Prefix path match")
			}
			// As the Gateway API's ReplacePrefixMatch table has it: both
			// prefixes lose a trailing slash, the rest of the path (empty
			// or starting with "/") is kept, and an empty result is "/".
			// The rule's condition has already matched the prefix by
			// whole segments.
			prefix := regexp.QuoteMeta(strings.TrimSuffix(match.Value, "/"))
			v := strings.TrimSuffix(p.Value, "/")
			if v == "" {
				out = append(out, transform{Type: urlRewrite, Regex: "^" + prefix + "/?([^?]*)", Replace: "/$1"})
			} else {
				out = append(out, transform{Type: urlRewrite, Regex: "^" + prefix + "([^?]*)", Replace: v + "$1"})
			}
		default:
			return nil, fmt.Errorf("path rewrite %s is not supported", p.Type)
		}
	}
	for _, t := range out {
		if len(t.Regex) > maxRewrite || len(t.Replace) > maxRewrite {
			return nil, fmt.Errorf("%s: longer than ALB's %d characters", t.Type, maxRewrite)
		}
	}
	return out, nil
}

func convertAction(a lb.Action, groups map[string]string) (action, error) {
	switch {
	case a.RequestHeaders != nil || a.ResponseHeaders != nil:
		return action{}, fmt.Errorf("header modifiers are not supported")
	case len(a.Mirrors) > 0:
		return action{}, fmt.Errorf("mirrors are not supported")
	case a.Timeouts != nil && (a.Timeouts.Request != 0 || a.Timeouts.Backend != 0):
		return action{}, fmt.Errorf("timeouts are not supported")
	case a.Retry != nil:
		return action{}, fmt.Errorf("retries are not supported (an ALB sends each request to a target once: it has no retry setting)")
	case a.CORS != nil:
		return action{}, fmt.Errorf("CORS is not supported")
	case a.FixedResponse != nil:
		return action{Type: "fixed-response", StatusCode: strconv.Itoa(a.FixedResponse.StatusCode)}, nil
	case a.Redirect != nil:
		rd := a.Redirect
		if rd.StatusCode != 301 && rd.StatusCode != 302 {
			return action{}, fmt.Errorf("redirect status %d: ALB answers 301 or 302", rd.StatusCode)
		}
		out := &redirect{Protocol: "#{protocol}", Host: "#{host}", Port: "#{port}", Path: "/#{path}", Query: "#{query}"}
		if rd.Scheme != "" {
			out.Protocol = strings.ToUpper(rd.Scheme)
			if rd.Scheme == "https" {
				out.Port = "443"
			} else {
				out.Port = "80"
			}
		}
		if rd.Hostname != "" {
			out.Host = rd.Hostname
		}
		if rd.Port != 0 {
			out.Port = strconv.Itoa(int(rd.Port))
		}
		if rd.Path != nil {
			if rd.Path.Type != lb.RewriteFullPath {
				return action{}, fmt.Errorf("prefix redirects are not supported")
			}
			out.Path = rd.Path.Value
		}
		return action{Type: "redirect", StatusCode: "HTTP_" + strconv.Itoa(rd.StatusCode), Redirect: out}, nil
	}
	weights := map[string]int64{}
	for _, b := range a.Forward {
		n, ok := groups[b.TargetGroup]
		if !ok {
			return action{}, fmt.Errorf("forward to unknown target group %q", b.TargetGroup)
		}
		weights[n] += int64(b.Weight)
	}
	if len(weights) == 0 {
		return action{}, fmt.Errorf("no action")
	}
	if len(weights) > maxGroupsPerAction {
		return action{}, fmt.Errorf("%d target groups, ALB allows %d per action", len(weights), maxGroupsPerAction)
	}
	var maxW int64
	for _, w := range weights {
		maxW = max(maxW, w)
	}
	out := action{Type: "forward"}
	for n, w := range weights {
		if maxW > maxWeight { // ALB weights are 0 to 999: scale, keeping every share alive
			w2 := w * maxWeight / maxW
			if w > 0 && w2 == 0 {
				w2 = 1
			}
			w = w2
		}
		out.Forward = append(out.Forward, forward{TargetGroup: n, Weight: int32(w)})
	}
	st, err := forwardStickiness(a.SessionPersistence, len(weights))
	if err != nil {
		return action{}, err
	}
	out.Stickiness = st
	return out, nil
}

// normalize puts a rule in the one form the diff compares.
func normalize(r *rule) {
	for i := range r.Conditions {
		slices.Sort(r.Conditions[i].Values)
		slices.Sort(r.Conditions[i].Regex)
	}
	key := func(c condition) string {
		return c.Field + "\x00" + c.Name + "\x00" + strings.Join(c.Values, "\x00") + "\x01" + strings.Join(c.Regex, "\x00")
	}
	sort.Slice(r.Conditions, func(i, j int) bool { return key(r.Conditions[i]) < key(r.Conditions[j]) })
	sort.Slice(r.Transforms, func(i, j int) bool { return r.Transforms[i].Type < r.Transforms[j].Type })
	if len(r.Transforms) == 0 {
		r.Transforms = nil
	}
	normalizeAction(&r.Action)
}

func normalizeAction(a *action) {
	sort.Slice(a.Forward, func(i, j int) bool { return a.Forward[i].TargetGroup < a.Forward[j].TargetGroup })
	if len(a.Forward) == 1 {
		a.Forward[0].Weight = 1 // one group takes everything, whatever its weight
	}
}
