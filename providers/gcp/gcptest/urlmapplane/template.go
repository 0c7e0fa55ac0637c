package urlmapplane

import (
	"fmt"
	"regexp"
	"strings"
)

// Path templates, as the regionUrlMaps reference describes
// matchRules[].pathTemplateMatch and urlRewrite.pathTemplateRewrite:
// variables in braces ({name}, which is {name=*}, or {name=**}), "*" for
// one path segment, "**" for zero or more; a rewrite names the variables
// the match captured ("/static/{format=**}" rewritten as
// "/static/content/{format}").

type pathTemplate struct {
	re   *regexp.Regexp
	vars []string
}

// maxTemplateOperators is the reference's "No more than 5 operators
// (variables or wildcards) may appear in the pattern".
const maxTemplateOperators = 5

func parsePathTemplate(t string) (*pathTemplate, error) {
	if !strings.HasPrefix(t, "/") {
		return nil, fmt.Errorf("pathTemplateMatch %q: must start with /", t)
	}
	var b strings.Builder
	b.WriteString("^")
	pt := &pathTemplate{}
	ops := 0
	wild := func(w string) string {
		if w == "**" {
			return `.*`
		}
		return `[^/]+`
	}
	for i := 0; i < len(t); {
		switch {
		case t[i] == '{':
			end := strings.IndexByte(t[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("pathTemplateMatch %q: unclosed {", t)
			}
			name, pattern, hasPattern := strings.Cut(t[i+1:i+end], "=")
			if !hasPattern {
				pattern = "*"
			}
			if !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(name) {
				return nil, fmt.Errorf("pathTemplateMatch %q: bad variable name %q", t, name)
			}
			var parts []string
			for _, seg := range strings.Split(pattern, "/") {
				if seg == "*" || seg == "**" {
					parts = append(parts, wild(seg))
				} else {
					parts = append(parts, regexp.QuoteMeta(seg))
				}
			}
			fmt.Fprintf(&b, "(?P<%s>%s)", name, strings.Join(parts, "/"))
			pt.vars = append(pt.vars, name)
			ops++
			i += end + 1
		case strings.HasPrefix(t[i:], "**"):
			b.WriteString(wild("**"))
			ops++
			i += 2
		case t[i] == '*':
			b.WriteString(wild("*"))
			ops++
			i++
		default:
			b.WriteString(regexp.QuoteMeta(t[i : i+1]))
			i++
		}
	}
	if ops > maxTemplateOperators {
		return nil, fmt.Errorf("pathTemplateMatch %q: %d operators, at most %d", t, ops, maxTemplateOperators)
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("pathTemplateMatch %q: %w", t, err)
	}
	pt.re = re
	return pt, nil
}

func (pt *pathTemplate) match(path string) (map[string]string, bool) {
	m := pt.re.FindStringSubmatch(path)
	if m == nil {
		return nil, false
	}
	vars := map[string]string{}
	for i, name := range pt.re.SubexpNames() {
		if name != "" {
			vars[name] = m[i]
		}
	}
	return vars, true
}

// rewriteTemplate fills rewrite's {variables} from vars; a variable the
// match did not capture is left empty.
func rewriteTemplate(rewrite string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(rewrite); {
		if rewrite[i] == '{' {
			if end := strings.IndexByte(rewrite[i:], '}'); end > 0 {
				b.WriteString(vars[rewrite[i+1:i+end]])
				i += end + 1
				continue
			}
		}
		b.WriteByte(rewrite[i])
		i++
	}
	return b.String()
}
