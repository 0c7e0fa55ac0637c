package urlmapplane

import (
	"net/http"
	"net/url"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// Pages the cases come from.
const (
	pageURLMaps   = "URL maps overview (https://cloud.google.com/load-balancing/docs/url-map-concepts)"
	pageREST      = "regionUrlMaps REST reference (https://cloud.google.com/compute/docs/reference/rest/v1/regionUrlMaps)"
	pageTrafficRg = "Traffic management overview for regional external Application Load Balancers (https://cloud.google.com/load-balancing/docs/https/traffic-management-regional)"
)

func bs(name string) string { return "projects/p/regions/r/backendServices/" + name }

// svc is the ref a test names a backend service by.
func svc(name string) *string { return proto.String(bs(name)) }

func compileTest(t *testing.T, um *computepb.UrlMap) *urlMap {
	t.Helper()
	rd := &reader{project: "p", region: "r"}
	c, problems := compileURLMap(um, rd.ref)
	for _, p := range problems {
		t.Fatalf("compile: %v", p)
	}
	return c
}

type req struct {
	host, path, query string
	header            http.Header
	method            string
}

func (r req) view() requestView {
	q, _ := url.ParseQuery(r.query)
	m := r.method
	if m == "" {
		m = http.MethodGet
	}
	h := r.header
	if h == nil {
		h = http.Header{}
	}
	return requestView{host: r.host, method: m, path: r.path, query: q, header: h, scheme: "http"}
}

// served is the backend service a decision sends to, by name, or the
// rule's description for redirects.
func served(d decision) string {
	switch {
	case d.target.redirect != nil:
		return "redirect"
	case len(d.target.action.GetWeightedBackendServices()) > 0:
		return last(d.target.action.GetWeightedBackendServices()[0].GetBackendService())
	case d.target.service != "":
		return last(d.target.service)
	}
	return "none"
}

func last(s string) string {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return s[i+1:]
		}
	}
	return s
}

// TestURLMapsOverviewExample is the URL maps overview's example: example.org
// (and every other host) to org-site, example.net to video-site unless a
// more specific path matches, /video/hd/* to video-hd, /video/sd/* to
// video-sd.
func TestURLMapsOverviewExample(t *testing.T) {
	t.Log(pageURLMaps)
	um := compileTest(t, &computepb.UrlMap{
		Name:           proto.String("example"),
		DefaultService: svc("org-site"),
		HostRules: []*computepb.HostRule{
			{Hosts: []string{"example.net"}, PathMatcher: proto.String("video-matcher")},
		},
		PathMatchers: []*computepb.PathMatcher{{
			Name:           proto.String("video-matcher"),
			DefaultService: svc("video-site"),
			PathRules: []*computepb.PathRule{
				{Paths: []string{"/video/hd", "/video/hd/*"}, Service: svc("video-hd")},
				{Paths: []string{"/video/sd", "/video/sd/*"}, Service: svc("video-sd")},
			},
		}},
	})
	for _, c := range []struct {
		r    req
		want string
	}{
		{req{host: "example.org", path: "/"}, "org-site"},
		{req{host: "example.org", path: "/video/hd/a"}, "org-site"},
		{req{host: "another.example", path: "/video/hd"}, "org-site"},
		{req{host: "example.net", path: "/"}, "video-site"},
		{req{host: "example.net", path: "/video"}, "video-site"},
		{req{host: "example.net:8080", path: "/video/hd/movie.mp4"}, "video-hd"},
		{req{host: "EXAMPLE.net", path: "/video/hd"}, "video-hd"},
		{req{host: "example.net", path: "/video/sd/x"}, "video-sd"},
		{req{host: "example.net", path: "/video/hdx"}, "video-site"},
	} {
		if got := served(um.route(c.r.view())); got != c.want {
			t.Errorf("%s%s: served by %s, want %s", c.r.host, c.r.path, got, c.want)
		}
	}
}

// TestPathRulesLongestFirst: "a pathRule with a path /a/b/c/* will match
// before /a/b/* irrespective of the order in which those paths appear",
// and "/*" takes what nothing longer does.
func TestPathRulesLongestFirst(t *testing.T) {
	t.Log(pageREST, "pathMatchers[].pathRules")
	um := compileTest(t, &computepb.UrlMap{
		DefaultService: svc("default"),
		HostRules:      []*computepb.HostRule{{Hosts: []string{"*"}, PathMatcher: proto.String("pm")}},
		PathMatchers: []*computepb.PathMatcher{{
			Name: proto.String("pm"), DefaultService: svc("pm-default"),
			PathRules: []*computepb.PathRule{
				{Paths: []string{"/*"}, Service: svc("root")},
				{Paths: []string{"/a/b/*"}, Service: svc("ab")},
				{Paths: []string{"/a/b/c/*"}, Service: svc("abc")},
				{Paths: []string{"/a/b/c"}, Service: svc("abc-exact")},
			},
		}},
	})
	for path, want := range map[string]string{
		"/a/b/c/d": "abc", "/a/b/x": "ab", "/a/b/c": "abc-exact", "/a/b": "root", "/": "root", "/zzz": "root",
	} {
		if got := served(um.route(req{host: "h", path: path}.view())); got != want {
			t.Errorf("%s: served by %s, want %s", path, got, want)
		}
	}
}

// TestHostRuleSpecificity: hosts are exact names or patterns whose "*"
// "matches any string of ([a-z0-9-.]*)", first character only; an exact
// host beats a wildcard, a longer wildcard a shorter, and "*" comes last.
func TestHostRuleSpecificity(t *testing.T) {
	t.Log(pageREST, "hostRules[].hosts;", pageURLMaps)
	pm := func(name string) *computepb.PathMatcher {
		return &computepb.PathMatcher{Name: proto.String(name), DefaultService: svc(name)}
	}
	um := compileTest(t, &computepb.UrlMap{
		DefaultService: svc("map-default"),
		HostRules: []*computepb.HostRule{
			{Hosts: []string{"*"}, PathMatcher: proto.String("any")},
			{Hosts: []string{"*.example.com"}, PathMatcher: proto.String("wild")},
			{Hosts: []string{"*.api.example.com", "*-canary.example.com"}, PathMatcher: proto.String("wild-longer")},
			{Hosts: []string{"www.example.com"}, PathMatcher: proto.String("exact")},
			{Hosts: []string{"port.example.com:8080"}, PathMatcher: proto.String("with-port")},
		},
		PathMatchers: []*computepb.PathMatcher{pm("any"), pm("wild"), pm("wild-longer"), pm("exact"), pm("with-port")},
	})
	for host, want := range map[string]string{
		"www.example.com":           "exact",
		"www.example.com:443":       "exact",
		"shop.example.com":          "wild",
		"a.b.example.com":           "wild",
		"v1.api.example.com":        "wild-longer",
		"blue-canary.example.com":   "wild-longer",
		"example.com":               "any", // "*.example.com" needs the dot
		"port.example.com:8080":     "with-port",
		"other.org":                 "any",
		"under_score.example.com":   "any", // "_" is not in [a-z0-9-.]
		"port.example.com":          "wild",
		"PORT.EXAMPLE.COM:8080":     "with-port",
		"deeper.v1.api.example.com": "wild-longer",
	} {
		if got := served(um.route(req{host: host, path: "/"}.view())); got != want {
			t.Errorf("host %s: served by %s, want %s", host, got, want)
		}
	}
	// Without "*", an unlisted host goes to the map's default service.
	um.hosts = um.hosts[1:]
	if got := served(um.route(req{host: "other.org", path: "/"}.view())); got != "map-default" {
		t.Errorf("other.org without a * host rule: served by %s, want map-default", got)
	}
}

func routeMap(t *testing.T, rules ...*computepb.HttpRouteRule) *urlMap {
	t.Helper()
	return compileTest(t, &computepb.UrlMap{
		DefaultService: svc("map-default"),
		HostRules:      []*computepb.HostRule{{Hosts: []string{"*"}, PathMatcher: proto.String("pm")}},
		PathMatchers:   []*computepb.PathMatcher{{Name: proto.String("pm"), DefaultService: svc("pm-default"), RouteRules: rules}},
	})
}

func rule(priority int32, service string, matches ...*computepb.HttpRouteRuleMatch) *computepb.HttpRouteRule {
	return &computepb.HttpRouteRule{Priority: proto.Int32(priority), Service: svc(service), MatchRules: matches}
}

// TestRouteRulePriority: "RouteRules are evaluated in order of priority,
// from the lowest to highest number ... The first rule that matches the
// request is applied", whatever their order in the list; gaps are
// allowed; matchRules are ORed and a matchRule's predicates ANDed.
func TestRouteRulePriority(t *testing.T) {
	t.Log(pageREST, "pathMatchers[].routeRules[].priority, matchRules")
	um := routeMap(t,
		rule(16, "catch-all", &computepb.HttpRouteRuleMatch{PrefixMatch: proto.String("/")}),
		rule(2, "api", &computepb.HttpRouteRuleMatch{PrefixMatch: proto.String("/api/")}),
		rule(9, "v1-or-v2",
			&computepb.HttpRouteRuleMatch{PrefixMatch: proto.String("/v1/")},
			&computepb.HttpRouteRuleMatch{PrefixMatch: proto.String("/v2/")}),
		rule(1, "api-beta", &computepb.HttpRouteRuleMatch{
			PrefixMatch:   proto.String("/api/"),
			HeaderMatches: []*computepb.HttpHeaderMatch{{HeaderName: proto.String("x-beta"), ExactMatch: proto.String("1")}},
		}),
	)
	beta := http.Header{"X-Beta": {"1"}}
	for _, c := range []struct {
		r    req
		want string
	}{
		{req{path: "/api/x"}, "api"},
		{req{path: "/api/x", header: beta}, "api-beta"},
		{req{path: "/other", header: beta}, "catch-all"},
		{req{path: "/v1/a"}, "v1-or-v2"},
		{req{path: "/v2/a"}, "v1-or-v2"},
		{req{path: "/v3/a"}, "catch-all"},
	} {
		if got := served(um.route(c.r.view())); got != c.want {
			t.Errorf("%s %v: served by %s, want %s", c.r.path, c.r.header, got, c.want)
		}
	}
}

// TestPathMatches covers prefixMatch ("The * character inside a prefix
// match is treated as a literal character"), fullPathMatch ("after
// removing any query parameters"), ignoreCase, and regexMatch (RE2, the
// whole path).
func TestPathMatches(t *testing.T) {
	t.Log(pageREST, "matchRules[].prefixMatch, fullPathMatch, regexMatch, ignoreCase;", pageTrafficRg)
	um := routeMap(t,
		rule(1, "star", &computepb.HttpRouteRuleMatch{PrefixMatch: proto.String("/lit*/")}),
		rule(2, "full", &computepb.HttpRouteRuleMatch{FullPathMatch: proto.String("/exact")}),
		rule(3, "nocase", &computepb.HttpRouteRuleMatch{PrefixMatch: proto.String("/Case/"), IgnoreCase: proto.Bool(true)}),
		rule(4, "regex", &computepb.HttpRouteRuleMatch{RegexMatch: proto.String(`/items/[0-9]+`)}),
	)
	for _, c := range []struct {
		r    req
		want string
	}{
		{req{path: "/lit*/x"}, "star"},
		{req{path: "/literal/x"}, "pm-default"},
		{req{path: "/exact", query: "a=1"}, "full"},
		{req{path: "/exact/"}, "pm-default"},
		{req{path: "/CASE/x"}, "nocase"},
		{req{path: "/case/x"}, "nocase"},
		{req{path: "/items/42"}, "regex"},
		{req{path: "/items/42/more"}, "pm-default"}, // the whole path must match
		{req{path: "/x/items/42"}, "pm-default"},
	} {
		if got := served(um.route(c.r.view())); got != c.want {
			t.Errorf("%s: served by %s, want %s", c.r.path, got, c.want)
		}
	}
}

// TestHeaderMatches covers every headerMatch criterion, with the
// reference's own rangeMatch example ([-5, 0]: -3 matches; 0, 0.25 and
// -3someString do not) and the traffic management overview's header
// steering example (user-agent:Mobile).
func TestHeaderMatches(t *testing.T) {
	t.Log(pageREST, "headerMatches[];", pageTrafficRg, "Traffic steering: header-based routing")
	hm := func(h *computepb.HttpHeaderMatch) *computepb.HttpRouteRuleMatch {
		return &computepb.HttpRouteRuleMatch{PrefixMatch: proto.String("/"), HeaderMatches: []*computepb.HttpHeaderMatch{h}}
	}
	for _, c := range []struct {
		name   string
		match  *computepb.HttpHeaderMatch
		header http.Header
		host   string
		method string
		want   bool
	}{
		{"range -3 in [-5,0)", &computepb.HttpHeaderMatch{HeaderName: proto.String("x-n"), RangeMatch: &computepb.Int64RangeMatch{RangeStart: proto.Int64(-5), RangeEnd: proto.Int64(0)}}, http.Header{"X-N": {"-3"}}, "", "", true},
		{"range 0 excluded", &computepb.HttpHeaderMatch{HeaderName: proto.String("x-n"), RangeMatch: &computepb.Int64RangeMatch{RangeStart: proto.Int64(-5), RangeEnd: proto.Int64(0)}}, http.Header{"X-N": {"0"}}, "", "", false},
		{"range 0.25", &computepb.HttpHeaderMatch{HeaderName: proto.String("x-n"), RangeMatch: &computepb.Int64RangeMatch{RangeStart: proto.Int64(-5), RangeEnd: proto.Int64(0)}}, http.Header{"X-N": {"0.25"}}, "", "", false},
		{"range -3someString", &computepb.HttpHeaderMatch{HeaderName: proto.String("x-n"), RangeMatch: &computepb.Int64RangeMatch{RangeStart: proto.Int64(-5), RangeEnd: proto.Int64(0)}}, http.Header{"X-N": {"-3someString"}}, "", "", false},
		{"mobile", &computepb.HttpHeaderMatch{HeaderName: proto.String("user-agent"), RegexMatch: proto.String(".*Mobile.*")}, http.Header{"User-Agent": {"Mozilla/5.0 (iPhone) Mobile/15E148"}}, "", "", true},
		{"not mobile", &computepb.HttpHeaderMatch{HeaderName: proto.String("user-agent"), RegexMatch: proto.String(".*Mobile.*")}, http.Header{"User-Agent": {"curl/8"}}, "", "", false},
		{"regex is whole value", &computepb.HttpHeaderMatch{HeaderName: proto.String("x-v"), RegexMatch: proto.String("b")}, http.Header{"X-V": {"abc"}}, "", "", false},
		{"exact", &computepb.HttpHeaderMatch{HeaderName: proto.String("x-env"), ExactMatch: proto.String("staging")}, http.Header{"X-Env": {"staging"}}, "", "", true},
		{"exact is case sensitive", &computepb.HttpHeaderMatch{HeaderName: proto.String("x-env"), ExactMatch: proto.String("staging")}, http.Header{"X-Env": {"Staging"}}, "", "", false},
		{"prefix", &computepb.HttpHeaderMatch{HeaderName: proto.String("x-v"), PrefixMatch: proto.String("ab")}, http.Header{"X-V": {"abc"}}, "", "", true},
		{"suffix", &computepb.HttpHeaderMatch{HeaderName: proto.String("x-v"), SuffixMatch: proto.String("bc")}, http.Header{"X-V": {"abc"}}, "", "", true},
		{"present, empty value", &computepb.HttpHeaderMatch{HeaderName: proto.String("x-p"), PresentMatch: proto.Bool(true)}, http.Header{"X-P": {""}}, "", "", true},
		{"present, absent", &computepb.HttpHeaderMatch{HeaderName: proto.String("x-p"), PresentMatch: proto.Bool(true)}, http.Header{}, "", "", false},
		{"inverted exact", &computepb.HttpHeaderMatch{HeaderName: proto.String("x-env"), ExactMatch: proto.String("prod"), InvertMatch: proto.Bool(true)}, http.Header{"X-Env": {"dev"}}, "", "", true},
		{"inverted exact, same", &computepb.HttpHeaderMatch{HeaderName: proto.String("x-env"), ExactMatch: proto.String("prod"), InvertMatch: proto.Bool(true)}, http.Header{"X-Env": {"prod"}}, "", "", false},
		{"inverted exact, absent", &computepb.HttpHeaderMatch{HeaderName: proto.String("x-env"), ExactMatch: proto.String("prod"), InvertMatch: proto.Bool(true)}, http.Header{}, "", "", true},
		{":authority", &computepb.HttpHeaderMatch{HeaderName: proto.String(":authority"), ExactMatch: proto.String("a.example")}, nil, "a.example", "", true},
		{":method", &computepb.HttpHeaderMatch{HeaderName: proto.String(":method"), ExactMatch: proto.String("POST")}, nil, "", "POST", true},
		{"two values joined", &computepb.HttpHeaderMatch{HeaderName: proto.String("x-m"), ExactMatch: proto.String("a,b")}, http.Header{"X-M": {"a", "b"}}, "", "", true},
	} {
		um := routeMap(t, rule(1, "hit", hm(c.match)))
		got := served(um.route(req{host: c.host, path: "/", header: c.header, method: c.method}.view())) == "hit"
		if got != c.want {
			t.Errorf("%s: matched %v, want %v", c.name, got, c.want)
		}
	}
}

// TestQueryParameterMatches: "The query parameter must exist in the
// request, in the absence of which the request match fails"; exact,
// regex (whole value) and present.
func TestQueryParameterMatches(t *testing.T) {
	t.Log(pageREST, "queryParameterMatches[]")
	qm := func(q *computepb.HttpQueryParameterMatch) *computepb.HttpRouteRuleMatch {
		return &computepb.HttpRouteRuleMatch{PrefixMatch: proto.String("/"), QueryParameterMatches: []*computepb.HttpQueryParameterMatch{q}}
	}
	for _, c := range []struct {
		name  string
		match *computepb.HttpQueryParameterMatch
		query string
		want  bool
	}{
		{"exact", &computepb.HttpQueryParameterMatch{Name: proto.String("v"), ExactMatch: proto.String("2")}, "v=2", true},
		{"exact other", &computepb.HttpQueryParameterMatch{Name: proto.String("v"), ExactMatch: proto.String("2")}, "v=3", false},
		{"exact absent", &computepb.HttpQueryParameterMatch{Name: proto.String("v"), ExactMatch: proto.String("2")}, "w=2", false},
		{"first value", &computepb.HttpQueryParameterMatch{Name: proto.String("v"), ExactMatch: proto.String("2")}, "v=2&v=3", true},
		{"regex", &computepb.HttpQueryParameterMatch{Name: proto.String("id"), RegexMatch: proto.String("[0-9]+")}, "id=123", true},
		{"regex whole value", &computepb.HttpQueryParameterMatch{Name: proto.String("id"), RegexMatch: proto.String("[0-9]+")}, "id=12a", false},
		{"present without value", &computepb.HttpQueryParameterMatch{Name: proto.String("debug"), PresentMatch: proto.Bool(true)}, "debug", true},
		{"present absent", &computepb.HttpQueryParameterMatch{Name: proto.String("debug"), PresentMatch: proto.Bool(true)}, "", false},
	} {
		um := routeMap(t, rule(1, "hit", qm(c.match)))
		if got := served(um.route(req{path: "/", query: c.query}.view())) == "hit"; got != c.want {
			t.Errorf("%s (%q): matched %v, want %v", c.name, c.query, got, c.want)
		}
	}
}

// TestPathTemplates uses the reference's examples: "/static/{format=**}
// could be rewritten as /static/content/{format}", and
// "/{country}/{format}/{suffix=**} can be rewritten as
// /content/{format}/{country}/{suffix}".
func TestPathTemplates(t *testing.T) {
	t.Log(pageREST, "matchRules[].pathTemplateMatch, urlRewrite.pathTemplateRewrite")
	for _, c := range []struct {
		template, rewrite, path, want string
	}{
		{"/static/{format=**}", "/static/content/{format}", "/static/css/site.css", "/static/content/css/site.css"},
		{"/{country}/{format}/{suffix=**}", "/content/{format}/{country}/{suffix}", "/us/hd/a/b.mp4", "/content/hd/us/a/b.mp4"},
		{"/videos/*/{id}", "/v/{id}", "/videos/cats/42", "/v/42"},
		{"/videos/*/{id}", "", "/videos/42", ""}, // "*" is one segment: no match
	} {
		um := routeMap(t, &computepb.HttpRouteRule{
			Priority:    proto.Int32(1),
			MatchRules:  []*computepb.HttpRouteRuleMatch{{PathTemplateMatch: proto.String(c.template)}},
			RouteAction: &computepb.HttpRouteAction{UrlRewrite: &computepb.UrlRewrite{PathTemplateRewrite: proto.String(c.rewrite)}},
			Service:     svc("hit"),
		})
		d := um.route(req{path: c.path}.view())
		if c.want == "" {
			if served(d) == "hit" {
				t.Errorf("%s matched %s, want no match", c.template, c.path)
			}
			continue
		}
		if served(d) != "hit" {
			t.Errorf("%s did not match %s", c.template, c.path)
			continue
		}
		if got := rewritePath(c.path, d, d.target.action.GetUrlRewrite()); got != c.want {
			t.Errorf("%s → %s: %s rewritten to %s, want %s", c.template, c.rewrite, c.path, got, c.want)
		}
	}
	if _, err := parsePathTemplate("/{a}/{b}/{c}/{d}/{e}/{f}"); err == nil {
		t.Error("a template with 6 operators compiled; the reference allows 5")
	}
}

// TestPrefixRewrite: "the matching portion of the request's path is
// replaced by pathPrefixRewrite".
func TestPrefixRewrite(t *testing.T) {
	t.Log(pageREST, "urlRewrite.pathPrefixRewrite")
	um := routeMap(t,
		&computepb.HttpRouteRule{Priority: proto.Int32(1), Service: svc("s"),
			MatchRules:  []*computepb.HttpRouteRuleMatch{{PrefixMatch: proto.String("/old/")}},
			RouteAction: &computepb.HttpRouteAction{UrlRewrite: &computepb.UrlRewrite{PathPrefixRewrite: proto.String("/new/")}}},
		&computepb.HttpRouteRule{Priority: proto.Int32(2), Service: svc("s"),
			MatchRules:  []*computepb.HttpRouteRuleMatch{{FullPathMatch: proto.String("/exact")}},
			RouteAction: &computepb.HttpRouteAction{UrlRewrite: &computepb.UrlRewrite{PathPrefixRewrite: proto.String("/replaced")}}},
	)
	for path, want := range map[string]string{"/old/a/b": "/new/a/b", "/old/": "/new/", "/exact": "/replaced"} {
		d := um.route(req{path: path}.view())
		if got := rewritePath(path, d, d.target.action.GetUrlRewrite()); got != want {
			t.Errorf("%s rewritten to %s, want %s", path, got, want)
		}
	}
}

// TestRedirects: hostRedirect, pathRedirect, prefixRedirect ("replaces
// the prefixMatch ... retaining the remaining portion"), httpsRedirect,
// stripQuery and the five response codes.
func TestRedirects(t *testing.T) {
	t.Log(pageREST, "urlRedirect")
	for _, c := range []struct {
		name  string
		match *computepb.HttpRouteRuleMatch
		rd    *computepb.HttpRedirectAction
		r     req
		want  string
		code  int
	}{
		{"https, default code", &computepb.HttpRouteRuleMatch{PrefixMatch: proto.String("/")},
			&computepb.HttpRedirectAction{HttpsRedirect: proto.Bool(true)},
			req{host: "shop.example:80", path: "/a", query: "q=1"}, "https://shop.example/a?q=1", 301},
		{"host and path, strip query, 302", &computepb.HttpRouteRuleMatch{PrefixMatch: proto.String("/")},
			&computepb.HttpRedirectAction{HostRedirect: proto.String("new.example"), PathRedirect: proto.String("/landing"), StripQuery: proto.Bool(true), RedirectResponseCode: proto.String("FOUND")},
			req{host: "old.example", path: "/a", query: "q=1"}, "http://new.example/landing", 302},
		{"prefix, 303", &computepb.HttpRouteRuleMatch{PrefixMatch: proto.String("/old/")},
			&computepb.HttpRedirectAction{PrefixRedirect: proto.String("/new/"), RedirectResponseCode: proto.String("SEE_OTHER")},
			req{host: "h", path: "/old/x/y"}, "http://h/new/x/y", 303},
		{"307 keeps the port", &computepb.HttpRouteRuleMatch{PrefixMatch: proto.String("/")},
			&computepb.HttpRedirectAction{PathRedirect: proto.String("/p"), RedirectResponseCode: proto.String("TEMPORARY_REDIRECT")},
			req{host: "h:8080", path: "/"}, "http://h:8080/p", 307},
		{"308", &computepb.HttpRouteRuleMatch{PrefixMatch: proto.String("/")},
			&computepb.HttpRedirectAction{RedirectResponseCode: proto.String("PERMANENT_REDIRECT")},
			req{host: "h", path: "/same"}, "http://h/same", 308},
	} {
		um := routeMap(t, &computepb.HttpRouteRule{Priority: proto.Int32(1), MatchRules: []*computepb.HttpRouteRuleMatch{c.match}, UrlRedirect: c.rd})
		d := um.route(c.r.view())
		if d.target.redirect == nil {
			t.Errorf("%s: no redirect", c.name)
			continue
		}
		loc, code := redirectLocation(d.target.redirect, d, "http", c.r.host, c.r.path, c.r.query)
		if loc != c.want || code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, code, loc, c.code, c.want)
		}
	}
}

// TestHeaderActionOrder: a weighted backend service's headerAction takes
// effect before the route rule's, which comes before the path matcher's,
// then the URL map's; replace sets, its absence appends... unless set
// false; removals take effect before additions.
func TestHeaderActionOrder(t *testing.T) {
	t.Log(pageREST, "headerAction, weightedBackendServices[].headerAction, headerAction.requestHeadersToAdd[].replace")
	add := func(name, value string, replace *bool) *computepb.HttpHeaderOption {
		return &computepb.HttpHeaderOption{HeaderName: proto.String(name), HeaderValue: proto.String(value), Replace: replace}
	}
	wbs := &computepb.HttpHeaderAction{RequestHeadersToAdd: []*computepb.HttpHeaderOption{add("x-level", "backend", nil)}}
	rr := &computepb.HttpHeaderAction{
		RequestHeadersToAdd:    []*computepb.HttpHeaderOption{add("x-level", "rule", proto.Bool(false)), add("x-gone", "re-added", nil)},
		RequestHeadersToRemove: []string{"x-gone"},
	}
	pm := &computepb.HttpHeaderAction{RequestHeadersToAdd: []*computepb.HttpHeaderOption{add("x-level", "matcher", proto.Bool(false))}}
	um := &computepb.HttpHeaderAction{RequestHeadersToAdd: []*computepb.HttpHeaderOption{add("x-set", "map", proto.Bool(true))}}
	h := http.Header{"X-Level": {"client"}, "X-Set": {"client"}, "X-Gone": {"client"}}
	applyHeaders(h, []*computepb.HttpHeaderAction{wbs, rr, pm, um}, true)
	if got := h.Values("X-Level"); len(got) != 3 || got[0] != "backend" || got[1] != "rule" || got[2] != "matcher" {
		t.Errorf("X-Level = %q, want [backend rule matcher] (backend replaces the client's, the others append)", got)
	}
	if got := h.Values("X-Set"); len(got) != 1 || got[0] != "map" {
		t.Errorf("X-Set = %q, want [map]", got)
	}
	if got := h.Values("X-Gone"); len(got) != 1 || got[0] != "re-added" {
		t.Errorf("X-Gone = %q, want [re-added]: removals come before additions", got)
	}
	// "The default value is true, unless a variable is present".
	h = http.Header{"X-V": {"client"}}
	applyHeaders(h, []*computepb.HttpHeaderAction{{RequestHeadersToAdd: []*computepb.HttpHeaderOption{add("x-v", "{client_ip}", nil)}}}, true)
	if got := h.Values("X-V"); len(got) != 2 {
		t.Errorf("X-V = %q, want the variable appended", got)
	}
}

// TestHTTPSRedirectFlag: httpsRedirect "must only be set for URL maps
// used in TargetHttpProxys. Setting this true for TargetHttpsProxy is not
// permitted": the plane finds such redirects to report them.
func TestHTTPSRedirectFlag(t *testing.T) {
	t.Log(pageREST, "urlRedirect.httpsRedirect")
	plain := routeMap(t, &computepb.HttpRouteRule{Priority: proto.Int32(1), MatchRules: []*computepb.HttpRouteRuleMatch{{PrefixMatch: proto.String("/")}},
		UrlRedirect: &computepb.HttpRedirectAction{HostRedirect: proto.String("h")}})
	upgrade := routeMap(t, &computepb.HttpRouteRule{Priority: proto.Int32(1), MatchRules: []*computepb.HttpRouteRuleMatch{{PrefixMatch: proto.String("/")}},
		UrlRedirect: &computepb.HttpRedirectAction{HttpsRedirect: proto.Bool(true)}})
	if plain.httpsRedirects() || !upgrade.httpsRedirects() {
		t.Errorf("httpsRedirects: %v for a host redirect, %v for an https one; want false, true", plain.httpsRedirects(), upgrade.httpsRedirects())
	}
}
