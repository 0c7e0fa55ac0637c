package aws

import (
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// asJSON prints v for a comparison that reads well when it fails.
func asJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var testGroups = map[string]string{"g": "cg1-g", "h": "cg1-h"}

func toG() lb.Action { return lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "g", Weight: 1}}} }

func exact(v string) *lb.PathMatch  { return &lb.PathMatch{Type: lb.MatchExact, Value: v} }
func prefix(v string) *lb.PathMatch { return &lb.PathMatch{Type: lb.MatchPrefix, Value: v} }

func header(name string, t lb.MatchType, v string) []lb.HeaderMatch {
	return []lb.HeaderMatch{{Name: name, Type: t, Value: v}}
}

func TestConvertRuleConditions(t *testing.T) {
	host := func(vs ...string) condition { return condition{Field: "host-header", Values: vs} }
	hostRe := func(re string) condition { return condition{Field: "host-header", Regex: []string{re}} }
	path := func(vs ...string) condition { return condition{Field: "path-pattern", Values: vs} }
	pathRe := func(re string) condition { return condition{Field: "path-pattern", Regex: []string{re}} }
	for _, c := range []struct {
		name  string
		vhost string
		match lb.Match
		want  []condition
	}{
		{"exact path", "", lb.Match{Path: exact("/login")}, []condition{path("/login")}},
		{"prefix path", "a.example", lb.Match{Path: prefix("/api/")}, []condition{host("a.example"), path("/api", "/api/*")}},
		{"prefix / alone", "", lb.Match{Path: prefix("/")}, []condition{path("/*")}},
		{"prefix / with a host", "a.example", lb.Match{Path: prefix("/")}, []condition{host("a.example")}},
		// ALB would read * and ? as wildcards, and refuses ( and % in
		// path patterns: such paths become regexes of the literal text.
		{"exact path with a star", "", lb.Match{Path: exact("/a*b")}, []condition{pathRe(`^/a\*b$`)}},
		{"exact path with a question mark", "", lb.Match{Path: exact("/a?")}, []condition{pathRe(`^/a\?$`)}},
		{"prefix path with parentheses", "", lb.Match{Path: prefix("/a(1)")}, []condition{pathRe(`^/a\(1\)(/.*)?$`)}},
		{"exact path with a percent", "", lb.Match{Path: exact("/a%20b")}, []condition{pathRe(`^/a%20b$`)}},
		{"path regex", "", lb.Match{Path: &lb.PathMatch{Type: lb.MatchRegex, Value: "/v[0-9]+/items"}}, []condition{pathRe(`^(?:/v[0-9]+/items)$`)}},
		{"path regex with an alternation", "", lb.Match{Path: &lb.PathMatch{Type: lb.MatchRegex, Value: "/a|/b"}}, []condition{pathRe(`^(?:/a|/b)$`)}},
		{"header exact", "", lb.Match{Headers: header("X-Env", lb.MatchExact, "canary")},
			[]condition{{Field: "http-header", Name: "x-env", Values: []string{"canary"}}}},
		{"header exact with a wildcard character", "", lb.Match{Headers: header("X-Env", lb.MatchExact, "can*ary?")},
			[]condition{{Field: "http-header", Name: "x-env", Regex: []string{`^can\*ary\?$`}}}},
		{"header regex", "", lb.Match{Headers: header("X-Build", lb.MatchRegex, "v[0-9]+")},
			[]condition{{Field: "http-header", Name: "x-build", Regex: []string{`^(?:v[0-9]+)$`}}}},
		{"query with wildcard characters, escaped", "", lb.Match{Query: []lb.QueryMatch{{Name: "q", Type: lb.MatchExact, Value: "a*b?"}}},
			[]condition{{Field: "query-string", Values: []string{`q=a\*b\?`}}}},
		{"two query matches, two conditions", "", lb.Match{Query: []lb.QueryMatch{{Name: "a", Type: lb.MatchExact, Value: "1"}, {Name: "b", Type: lb.MatchExact, Value: "2"}}},
			[]condition{{Field: "query-string", Values: []string{"a=1"}}, {Field: "query-string", Values: []string{"b=2"}}}},
		// ALB's host values need a dot and a last label of letters:
		// other names are matched as literal regexes.
		{"VirtualHost without a dot", "localhost", lb.Match{Path: prefix("/")}, []condition{hostRe(`^localhost$`)}},
		{"VirtualHost with a numeric last label", "10.0.0.1", lb.Match{Path: prefix("/")}, []condition{hostRe(`^10\.0\.0\.1$`)}},
		{"wildcard VirtualHost", "*.example.com", lb.Match{Path: prefix("/")}, []condition{host("*.example.com")}},
		// Host header matches become the one host condition.
		{"Host exact on any host", "", lb.Match{Headers: header("Host", lb.MatchExact, "shop.example.com")}, []condition{host("shop.example.com")}},
		{"Host exact without a dot", "", lb.Match{Headers: header("host", lb.MatchExact, "localhost")}, []condition{hostRe(`^localhost$`)}},
		{"Host exact, an address", "", lb.Match{Headers: header("host", lb.MatchExact, "10.0.0.1")}, []condition{hostRe(`^10\.0\.0\.1$`)}},
		{"Host exact equal to the VirtualHost's (in another case)", "shop.example.com", lb.Match{Headers: header("HOST", lb.MatchExact, "Shop.Example.com")},
			[]condition{host("shop.example.com")}},
		{"Host exact under a wildcard VirtualHost", "*.example.com", lb.Match{Headers: header("Host", lb.MatchExact, "a.b.example.com")}, []condition{host("a.b.example.com")}},
		{"Host exact under the rule's own wildcard hostname", "", lb.Match{Hostname: "*.example.com", Headers: header("Host", lb.MatchExact, "a.example.com")},
			[]condition{host("a.example.com")}},
		{"Host regex on any host", "", lb.Match{Headers: header("Host", lb.MatchRegex, `[a-z]+\.example\.com`)}, []condition{hostRe(`^(?:[a-z]+\.example\.com)$`)}},
		{"Host regex that takes the VirtualHost's name", "shop.example.com", lb.Match{Headers: header("Host", lb.MatchRegex, `[a-z]+\.example\.com`)},
			[]condition{host("shop.example.com")}},
		{"Host with the other conditions", "", lb.Match{Path: prefix("/a"), Headers: append(header("Host", lb.MatchExact, "a.example"), header("x-v", lb.MatchExact, "2")...)},
			[]condition{host("a.example"), {Field: "http-header", Name: "x-v", Values: []string{"2"}}, path("/a", "/a/*")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := convertRule(c.vhost, lb.Rule{Name: "r", Match: c.match, Action: toG()}, testGroups)
			if err != nil {
				t.Fatal(err)
			}
			if r == nil {
				t.Fatal("the rule was left out as unreachable")
			}
			want := &rule{Conditions: c.want}
			normalize(want)
			if w, g := asJSON(want.Conditions), asJSON(r.Conditions); w != g {
				t.Errorf("conditions: want %s, got %s", w, g)
			}
		})
	}
}

// TestRegexesMatchAsTheModelSays runs the regexes convertRule writes
// through Go's RE2 (which reads these plain constructs as ALB's engine
// does): each matches exactly what the model's match takes.
func TestRegexesMatchAsTheModelSays(t *testing.T) {
	for _, c := range []struct {
		path     *lb.PathMatch
		matches  []string
		misses   []string
		wantsReg bool
	}{
		{exact("/a*b"), []string{"/a*b"}, []string{"/ab", "/aXb", "/a*b/", "/a*bc"}, true},
		{prefix("/a(1)"), []string{"/a(1)", "/a(1)/", "/a(1)/x/y"}, []string{"/a(1)x", "/a1", "/a(1"}, true},
		{prefix("/a(1)/"), []string{"/a(1)", "/a(1)/x"}, []string{"/a(1)x"}, true},
		{&lb.PathMatch{Type: lb.MatchRegex, Value: "/a|/b"}, []string{"/a", "/b"}, []string{"/ab", "/a/b", "x/a", "/bx"}, true},
	} {
		cond, err := pathCondition(*c.path)
		if err != nil {
			t.Fatal(err)
		}
		if len(cond.Regex) != 1 {
			t.Fatalf("%+v: condition %+v, want one regex", c.path, cond)
		}
		re := regexp.MustCompile(cond.Regex[0])
		for _, p := range c.matches {
			if !re.MatchString(p) {
				t.Errorf("%+v: %q does not match %q", c.path, cond.Regex[0], p)
			}
		}
		for _, p := range c.misses {
			if re.MatchString(p) {
				t.Errorf("%+v: %q matches %q", c.path, cond.Regex[0], p)
			}
		}
	}
}

func TestConvertRuleUnreachable(t *testing.T) {
	for _, c := range []struct {
		vhost string
		match lb.Match
	}{
		{"shop.example.com", lb.Match{Headers: header("Host", lb.MatchExact, "other.example.com")}},
		{"*.example.com", lb.Match{Headers: header("Host", lb.MatchExact, "example.com")}},
		{"*.example.com", lb.Match{Headers: header("Host", lb.MatchExact, "a.example.org")}},
		{"", lb.Match{Hostname: "a.example.com", Headers: header("Host", lb.MatchExact, "b.example.com")}},
		{"shop.example.com", lb.Match{Headers: header("Host", lb.MatchRegex, `api\..*`)}},
	} {
		r, err := convertRule(c.vhost, lb.Rule{Name: "r", Match: c.match, Action: toG()}, testGroups)
		if err != nil || r != nil {
			t.Errorf("host %q, match %+v: %+v, %v; want the rule left out (it can never match)", c.vhost, c.match, r, err)
		}
	}
}

func TestConvertRuleRefusals(t *testing.T) {
	re := func(v string) *lb.PathMatch { return &lb.PathMatch{Type: lb.MatchRegex, Value: v} }
	for _, c := range []struct {
		name  string
		vhost string
		rule  lb.Rule
		says  string // in the message: the value and the reason
	}{
		{"Unicode class", "", lb.Rule{Match: lb.Match{Path: re(`/\p{L}+`)}}, `"/\\p{L}+": ALB supports no Unicode classes`},
		{"Unicode class in a class", "", lb.Rule{Match: lb.Match{Path: re(`/[\pL0-9]`)}}, `ALB supports no Unicode classes`},
		{"non-ASCII character", "", lb.Rule{Match: lb.Match{Path: re(`/café`)}}, `non-ASCII character 'é'`},
		{"non-ASCII escape", "", lb.Rule{Match: lb.Match{Path: re(`/\x{263a}`)}}, `non-ASCII character '☺'`},
		{"non-ASCII range", "", lb.Rule{Match: lb.Match{Path: re(`/[a-\x{100}]`)}}, `takes some non-ASCII characters`},
		{"ungreedy flag", "", lb.Rule{Match: lb.Match{Path: re(`(?U)/a+`)}}, `the flag 'U'`},
		{"too long once anchored", "", lb.Rule{Match: lb.Match{Path: re("/" + strings.Repeat("a", 122))}}, `129 characters once anchored`},
		{"long path", "", lb.Rule{Match: lb.Match{Path: exact("/" + strings.Repeat("a", 128))}}, `longer than ALB's 128`},
		{"header regex", "", lb.Rule{Match: lb.Match{Headers: header("x-a", lb.MatchRegex, `\P{Lu}`)}}, `header match x-a: regex "\\P{Lu}": ALB supports no Unicode classes`},
		{"long header name", "", lb.Rule{Match: lb.Match{Headers: header(strings.Repeat("x", 41), lb.MatchExact, "1")}}, `at most 40 characters`},
		{"Host with a port", "", lb.Rule{Match: lb.Match{Headers: header("Host", lb.MatchExact, "a.example:8080")}}, `"a.example:8080": ALB's host condition compares the name without the port`},
		{"Host regex under a wildcard", "*.example.com", lb.Rule{Match: lb.Match{Headers: header("Host", lb.MatchRegex, `a.*`)}},
			`regex "a.*" under the wildcard hostname "*.example.com"`},
		{"query backslash", "", lb.Rule{Match: lb.Match{Query: []lb.QueryMatch{{Name: "q", Type: lb.MatchExact, Value: `a\b`}}}}, `escapes wildcards with \`},
		{"dollar in a path rewrite", "", lb.Rule{Match: lb.Match{Path: prefix("/")}, Action: lb.Action{Rewrite: &lb.Rewrite{Path: &lb.PathRewrite{Type: lb.RewriteFullPath, Value: "/$1"}}}},
			`path rewrite "/$1": ALB's replacement string reads $`},
		{"six condition values", "a.example", lb.Rule{Match: lb.Match{Path: prefix("/a"), Method: "GET",
			Headers: []lb.HeaderMatch{{Name: "x", Type: lb.MatchExact, Value: "1"}, {Name: "y", Type: lb.MatchExact, Value: "2"}}}}, `6 condition values, ALB allows 5`},
		// Mapping never gives it one (Capabilities.CORS is false): the
		// backstop, should it.
		{"CORS", "", lb.Rule{Match: lb.Match{Path: prefix("/")}, Action: lb.Action{CORS: &lb.CORS{AllowOrigins: []string{"*"}, MaxAge: time.Second}}},
			`CORS is not supported`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.rule
			r.Name = "r"
			if r.Action.Forward == nil {
				r.Action.Forward = toG().Forward
			}
			_, err := convertRule(c.vhost, r, testGroups)
			if err == nil || !strings.Contains(err.Error(), c.says) {
				t.Errorf("convertRule = %v, want a refusal saying %s", err, c.says)
			}
		})
	}
}

func TestRegexDialectAccepts(t *testing.T) {
	for _, expr := range []string{
		`(?i)[a-z]+`, `(?i:k)s`, `[^a]+`, `[[:alpha:]]+`, `(?P<v>[0-9]+)`, `(?<v>x)`, `\Q(?U)\E`, `[(?U)]`, `\d+\.\w*\s?`,
		`a{2,5}`, `(?s).*`, `(?m:^a$)`, `x|y`, `\x41`, `[^\x00-\x7f]`,
	} {
		if _, err := albRegex(expr); err != nil {
			t.Errorf("albRegex(%q) = %v, want it accepted", expr, err)
		}
	}
}

// applyTransform is ALB's url-rewrite as its documentation describes it:
// the first match of the regex in "path?query" is replaced (capture
// groups as $1), and a request that does not match is left as it is.
func applyTransform(tr transform, url string) string {
	re := regexp.MustCompile(tr.Regex)
	loc := re.FindStringSubmatchIndex(url)
	if loc == nil {
		return url
	}
	out := re.ExpandString(nil, tr.Replace, url, loc)
	return url[:loc[0]] + string(out) + url[loc[1]:]
}

// TestRewrites checks the transforms against the Gateway API's
// ReplacePrefixMatch table (and full path and hostname rewrites), with
// the query string kept.
func TestRewrites(t *testing.T) {
	for _, c := range []struct {
		match, replace, request, want string
	}{
		{"/foo", "/xyz", "/foo/bar", "/xyz/bar"},
		{"/foo", "/xyz/", "/foo/bar", "/xyz/bar"},
		{"/foo/", "/xyz", "/foo/bar", "/xyz/bar"},
		{"/foo/", "/xyz/", "/foo/bar", "/xyz/bar"},
		{"/foo", "/xyz", "/foo", "/xyz"},
		{"/foo", "/xyz", "/foo/", "/xyz/"},
		{"/foo", "", "/foo/bar", "/bar"},
		{"/foo", "", "/foo/", "/"},
		{"/foo", "", "/foo", "/"},
		{"/foo", "/", "/foo/", "/"},
		{"/foo", "/", "/foo", "/"},
		{"/", "/xyz", "/bar", "/xyz/bar"},
		{"/", "/", "/bar", "/bar"},
		{"/a.b", "/c", "/a.b/d?x=/a.b", "/c/d?x=/a.b"},
		{"/foo", "/xyz", "/foo/bar?q=/foo/z", "/xyz/bar?q=/foo/z"},
		{"/foo", "", "/foo?q=1", "/?q=1"},
	} {
		ts, err := convertRewrite(lb.Rewrite{Path: &lb.PathRewrite{Type: lb.RewritePrefix, Value: c.replace}}, prefix(c.match))
		if err != nil || len(ts) != 1 || ts[0].Type != urlRewrite {
			t.Fatalf("prefix %q → %q: %+v, %v", c.match, c.replace, ts, err)
		}
		if got := applyTransform(ts[0], c.request); got != c.want {
			t.Errorf("prefix %q → %q on %q: %q (regex %q, replace %q), want %q", c.match, c.replace, c.request, got, ts[0].Regex, ts[0].Replace, c.want)
		}
	}
	ts, err := convertRewrite(lb.Rewrite{Hostname: "backend.internal", Path: &lb.PathRewrite{Type: lb.RewriteFullPath, Value: "/index"}}, prefix("/"))
	if err != nil || len(ts) != 2 {
		t.Fatalf("full rewrite: %+v, %v", ts, err)
	}
	for _, tr := range ts {
		switch tr.Type {
		case urlRewrite:
			for req, want := range map[string]string{"/a/b?q=1": "/index?q=1", "/": "/index", "/x?": "/index?"} {
				if got := applyTransform(tr, req); got != want {
					t.Errorf("full path on %q: %q, want %q", req, got, want)
				}
			}
		case hostRewrite:
			for _, host := range []string{"shop.example.com", "shop.example.com:8080", "x"} {
				if got := applyTransform(tr, host); got != "backend.internal" {
					t.Errorf("hostname on %q: %q", host, got)
				}
			}
		}
	}
	// A prefix rewrite without a prefix match is not the model's.
	if _, err := convertRewrite(lb.Rewrite{Path: &lb.PathRewrite{Type: lb.RewritePrefix, Value: "/x"}}, exact("/a")); err == nil {
		t.Error("a prefix rewrite under an exact match was converted")
	}
}

// TestConditionsRoundTrip writes conditions and transforms as the API
// takes them and reads them back as DescribeRules returns them.
func TestConditionsRoundTrip(t *testing.T) {
	r, err := convertRule("", lb.Rule{Name: "r", Match: lb.Match{
		Path:    &lb.PathMatch{Type: lb.MatchRegex, Value: "/v[0-9]"},
		Headers: append(header("Host", lb.MatchRegex, `.*\.example`), header("x-a", lb.MatchRegex, "a+")...),
		Query:   []lb.QueryMatch{{Name: "q", Type: lb.MatchExact, Value: "*"}},
	}, Action: lb.Action{Forward: toG().Forward, Rewrite: &lb.Rewrite{Hostname: "b.example", Path: &lb.PathRewrite{Type: lb.RewriteFullPath, Value: "/x"}}}}, testGroups)
	if err != nil {
		t.Fatal(err)
	}
	back := &rule{Action: r.Action}
	for _, c := range conditions(r.Conditions) {
		back.Conditions = append(back.Conditions, readCondition(c)...)
	}
	back.Transforms = readTransforms(transforms(r.Transforms))
	normalize(back)
	if w, g := asJSON(r.Conditions), asJSON(back.Conditions); w != g {
		t.Errorf("conditions after a round trip: wrote %s, read %s", w, g)
	}
	if w, g := asJSON(r.Transforms), asJSON(back.Transforms); w != g {
		t.Errorf("transforms after a round trip: wrote %s, read %s", w, g)
	}
}

func TestDesiredLeavesOutUnreachableRules(t *testing.T) {
	p, _ := New(Config{})
	m := &lb.LoadBalancer{Owner: lb.Owner{Cluster: "c", Namespace: "ns", Name: "gw", UID: "u"},
		TargetGroups: []lb.TargetGroup{{Name: "g", Protocol: lb.ProtocolHTTP}},
		Listeners: []lb.Listener{{Name: "http", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Hostname: "a.example.com", Rules: []lb.Rule{
			{Name: "never", Match: lb.Match{Headers: header("Host", lb.MatchExact, "b.example.com")}, Action: fwd("g", 1)},
			{Name: "served", Match: lb.Match{Path: prefix("/")}, Action: fwd("g", 1)},
		}}}}}}
	s, err := p.desired(m, []string{"s1", "s2"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range s.Rules["http"] {
		names = append(names, r.Element)
	}
	if !slices.Equal(names, []string{"served", "http"}) {
		t.Errorf("rules = %v, want the served rule and the host's 404", names)
	}
}

// The moto tests: what the provider writes, as DescribeRules reads it.

func regexOf(c elbtypes.RuleCondition) []string {
	switch {
	case c.HostHeaderConfig != nil:
		return c.HostHeaderConfig.RegexValues
	case c.PathPatternConfig != nil:
		return c.PathPatternConfig.RegexValues
	case c.HttpHeaderConfig != nil:
		return c.HttpHeaderConfig.RegexValues
	}
	return nil
}

func findCondition(t *testing.T, r elbtypes.Rule, field string) elbtypes.RuleCondition {
	t.Helper()
	for _, c := range r.Conditions {
		if awssdk.ToString(c.Field) == field {
			return c
		}
	}
	t.Fatalf("rule %s has no %s condition: %+v", awssdk.ToString(r.RuleArn), field, r.Conditions)
	return elbtypes.RuleCondition{}
}

func rulesModel(rules ...lb.Rule) *lb.LoadBalancer {
	return &lb.LoadBalancer{
		Owner:        gatewayOwner,
		TargetGroups: []lb.TargetGroup{{Name: "shop/api:8080", Protocol: lb.ProtocolHTTP, Targets: []lb.Target{{IP: "10.0.1.11", Port: 8080}}}},
		Listeners: []lb.Listener{{Name: "http-80", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{
			{Rules: rules},
		}}},
	}
}

func TestRegexMatchesAndRewritesOnMoto(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	api := fwd("shop/api:8080", 1)
	rewritten := api
	rewritten.Rewrite = &lb.Rewrite{Hostname: "api.internal", Path: &lb.PathRewrite{Type: lb.RewritePrefix, Value: "/v2"}}
	full := api
	full.Rewrite = &lb.Rewrite{Path: &lb.PathRewrite{Type: lb.RewriteFullPath, Value: "/index.html"}}
	m := rulesModel(
		lb.Rule{Name: "regex", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchRegex, Value: "/items/[0-9]+"},
			Headers: []lb.HeaderMatch{{Name: "X-Build", Type: lb.MatchRegex, Value: "b[0-9]+"}, {Name: "Host", Type: lb.MatchExact, Value: "shop.example.com"}}}, Action: api},
		lb.Rule{Name: "star", Match: lb.Match{Path: exact("/files/*")}, Action: api},
		lb.Rule{Name: "prefix-rewrite", Match: lb.Match{Path: prefix("/v1")}, Action: rewritten},
		lb.Rule{Name: "full-rewrite", Match: lb.Match{Path: prefix("/")}, Action: full},
	)
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	v := te.view(t, ctx)
	re := v.rule(t, 80, "http-80/regex").rule
	if got := regexOf(findCondition(t, re, "path-pattern")); !slices.Equal(got, []string{`^(?:/items/[0-9]+)$`}) {
		t.Errorf("path regex values = %q", got)
	}
	hh := findCondition(t, re, "http-header")
	if got := regexOf(hh); awssdk.ToString(hh.HttpHeaderConfig.HttpHeaderName) != "x-build" || !slices.Equal(got, []string{`^(?:b[0-9]+)$`}) {
		t.Errorf("header condition = %s %q", awssdk.ToString(hh.HttpHeaderConfig.HttpHeaderName), got)
	}
	if got := condValues(re, "host-header"); !slices.Equal(got, []string{"shop.example.com"}) {
		t.Errorf("host values = %q, want the Host header match", got)
	}
	star := v.rule(t, 80, "http-80/star").rule
	if c := findCondition(t, star, "path-pattern"); len(c.PathPatternConfig.Values) != 0 || !slices.Equal(regexOf(c), []string{`^/files/\*$`}) {
		t.Errorf("literal star path = values %q regex %q, want the literal regex only", c.PathPatternConfig.Values, regexOf(c))
	}
	pr := v.rule(t, 80, "http-80/prefix-rewrite").rule
	wantTransforms := map[string]string{
		"host-header-rewrite": `^.*$ => api.internal`,
		"url-rewrite":         `^/v1([^?]*) => /v2$1`,
	}
	got := map[string]string{}
	for _, tr := range pr.Transforms {
		rws := tr.UrlRewriteConfig
		if tr.HostHeaderRewriteConfig != nil {
			rws = &elbtypes.UrlRewriteConfig{Rewrites: tr.HostHeaderRewriteConfig.Rewrites}
		}
		if rws == nil || len(rws.Rewrites) != 1 {
			t.Fatalf("transform %+v: want one rewrite", tr)
		}
		got[string(tr.Type)] = awssdk.ToString(rws.Rewrites[0].Regex) + " => " + awssdk.ToString(rws.Rewrites[0].Replace)
	}
	if w, g := asJSON(wantTransforms), asJSON(got); w != g {
		t.Errorf("transforms: want %s, got %s", w, g)
	}
	// What DescribeRules returns reads back as the model: no change.
	if pl, err := te.prov.Plan(ctx, m); err != nil || pl.Changes() {
		t.Fatalf("Plan after Ensure = %v, %v; want no changes", pl.Summary(), err)
	}

	// Dropping the rewrite resets the rule's transforms in place.
	m.Listeners[0].VirtualHosts[0].Rules[2].Action = api
	te.calls.take()
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	if w := writes(te.calls.take()); w["ModifyRule"] != 1 || len(w) != 1 {
		t.Errorf("writes = %s, want one ModifyRule", format(w))
	}
	v = te.view(t, ctx)
	if ts := v.rule(t, 80, "http-80/prefix-rewrite").rule.Transforms; len(ts) != 0 {
		t.Errorf("transforms after the rewrite went: %+v", ts)
	}
	if ts := v.rule(t, 80, "http-80/full-rewrite").rule.Transforms; len(ts) != 1 {
		t.Errorf("the other rule's transforms: %+v", ts)
	}
	if pl, err := te.prov.Plan(ctx, m); err != nil || pl.Changes() {
		t.Fatalf("Plan after the update = %v, %v; want no changes", pl.Summary(), err)
	}
	if err := te.prov.Delete(ctx, gatewayOwner); err != nil {
		t.Fatal(err)
	}
}

// TestRespaceOnMoto inserts rules at one spot until no priority is left
// there: that insert moves as few rules as it must, all in one
// SetRulePriorities call, and DescribeRules then lists the rules in the
// model's order.
func TestRespaceOnMoto(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	api := fwd("shop/api:8080", 1)
	r := func(name string) lb.Rule {
		return lb.Rule{Name: name, Match: lb.Match{Path: prefix("/" + name)}, Action: api}
	}
	rules := []lb.Rule{r("a"), r("b"), r("c"), r("d")}
	var before map[string]int
	for i := range 5 {
		m := rulesModel(rules...)
		te.calls.take()
		if _, err := te.prov.Ensure(ctx, m); err != nil {
			t.Fatal(err)
		}
		w := writes(te.calls.take())
		v := te.view(t, ctx)
		var order, want []string
		for _, cr := range v.rules[80] {
			order = append(order, strings.TrimPrefix(cr.logical, "http-80/"))
		}
		for _, rr := range rules {
			want = append(want, rr.Name)
		}
		if !slices.Equal(order, want) {
			t.Fatalf("insert %d: rules by priority %v, model order %v", i, order, want)
		}
		after := v.priorities()
		moved := 0
		for k, p := range before {
			if after[k] != p {
				moved++
			}
		}
		t.Logf("insert %d: priorities %v; writes %s", i, after, format(w))
		switch {
		case i == 0:
		case moved == 0 && w["SetRulePriorities"] != 0:
			t.Errorf("insert %d: SetRulePriorities called with nothing to move", i)
		case moved > 0:
			if w["SetRulePriorities"] != 1 {
				t.Errorf("insert %d: %d rules moved in %d SetRulePriorities calls, want one", i, moved, w["SetRulePriorities"])
			}
			if moved != 1 {
				t.Errorf("insert %d: %d rules moved, one is enough", i, moved)
			}
			if err := te.prov.Delete(ctx, gatewayOwner); err != nil {
				t.Fatal(err)
			}
			return
		}
		before = after
		// The next rule goes right after a, where the gap shrinks.
		rules = slices.Insert(rules, 1, r(string(rune('p'+i))))
	}
	t.Fatal("five inserts at one spot never ran out of priorities")
}

func TestRefusedRegexNamesTheRule(t *testing.T) {
	p, _ := New(Config{})
	m := rulesModel(
		lb.Rule{Name: "ok", Match: lb.Match{Path: prefix("/")}, Action: fwd("shop/api:8080", 1)},
		lb.Rule{Name: "unicode", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchRegex, Value: `/\p{Greek}`}}, Action: fwd("shop/api:8080", 1)},
	)
	_, err := p.desired(m, []string{"s1", "s2"})
	var ie *providers.InvalidError
	if !errors.As(err, &ie) || !slices.Equal(ie.Elements, []string{"unicode"}) || !strings.Contains(ie.Message, `unicode: path: regex "/\\p{Greek}": ALB supports no Unicode classes (\p, \P)`) {
		t.Errorf("desired = %v, want a refusal of the rule naming the regex and why", err)
	}
}
