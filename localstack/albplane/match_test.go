package albplane

import (
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// Pages the cases come from.
const (
	pageConditions = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html"
	pageHostCfg    = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_HostHeaderConditionConfig.html"
	pagePathCfg    = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_PathPatternConditionConfig.html"
	pageHeaderCfg  = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_HttpHeaderConditionConfig.html"
	pageQueryCfg   = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_QueryStringConditionConfig.html"
	pageMethodCfg  = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_HttpRequestMethodConditionConfig.html"
)

func hostCond(vs ...string) elbtypes.RuleCondition {
	return elbtypes.RuleCondition{Field: aws.String("host-header"), HostHeaderConfig: &elbtypes.HostHeaderConditionConfig{Values: vs}}
}

func pathCond(vs ...string) elbtypes.RuleCondition {
	return elbtypes.RuleCondition{Field: aws.String("path-pattern"), PathPatternConfig: &elbtypes.PathPatternConditionConfig{Values: vs}}
}

func headerCond(name string, vs ...string) elbtypes.RuleCondition {
	return elbtypes.RuleCondition{Field: aws.String("http-header"), HttpHeaderConfig: &elbtypes.HttpHeaderConditionConfig{HttpHeaderName: aws.String(name), Values: vs}}
}

func queryCond(kvs ...string) elbtypes.RuleCondition {
	c := &elbtypes.QueryStringConditionConfig{}
	for i := 0; i < len(kvs); i += 2 {
		kv := elbtypes.QueryStringKeyValuePair{Value: aws.String(kvs[i+1])}
		if kvs[i] != "" {
			kv.Key = aws.String(kvs[i])
		}
		c.Values = append(c.Values, kv)
	}
	return elbtypes.RuleCondition{Field: aws.String("query-string"), QueryStringConfig: c}
}

// req is a request as it reaches the listener.
type req struct {
	method, target, host string
	header               map[string][]string
	remote               string
}

func (r req) request() *request {
	method := r.method
	if method == "" {
		method = "GET"
	}
	h := httptest.NewRequest(method, r.target, nil)
	h.Host = r.host
	for k, vs := range r.header {
		h.Header[k] = vs
	}
	if r.remote != "" {
		h.RemoteAddr = r.remote
	}
	return newRequest(h)
}

func TestConditions(t *testing.T) {
	for _, c := range []struct {
		page  string
		name  string
		cond  elbtypes.RuleCondition
		match []req
		miss  []req
	}{
		// Host conditions: "*.example.com will match test.example.com but
		// won't match example.com"; case-insensitive; the port is not
		// part of the host name.
		{pageConditions, "host wildcard *.example.com", hostCond("*.example.com"),
			[]req{{target: "/", host: "test.example.com"}, {target: "/", host: "TEST.Example.COM:8080"}, {target: "/", host: "a.b.example.com"}},
			[]req{{target: "/", host: "example.com"}, {target: "/", host: "test.example.org"}}},
		{pageHostCfg, "host ? matches exactly one character", hostCond("api?.example.com"),
			[]req{{target: "/", host: "api1.example.com"}},
			[]req{{target: "/", host: "api.example.com"}, {target: "/", host: "api12.example.com"}}},
		{pageHostCfg, "host values are ORed", hostCond("a.example.com", "b.example.com"),
			[]req{{target: "/", host: "a.example.com"}, {target: "/", host: "b.example.com"}},
			[]req{{target: "/", host: "c.example.com"}}},
		// Path conditions: the page's /img/* and /img/*/pics examples;
		// "The comparison is case sensitive"; "compared only to the path
		// of the URL, not to its query string".
		{pageConditions, "path /img/*", pathCond("/img/*"),
			[]req{{target: "/img/picture.jpg"}, {target: "/img/"}, {target: "/img/a/b"}},
			[]req{{target: "/IMG/picture.jpg"}, {target: "/img"}, {target: "/x?/img/a"}}},
		{pageConditions, "path /img/*/pics", pathCond("/img/*/pics"),
			[]req{{target: "/img/2019/pics"}, {target: "/img/a/b/pics"}},
			[]req{{target: "/img/2019/pics/x"}, {target: "/img/pics"}}},
		{pagePathCfg, "path compared without the query string", pathCond("/search"),
			[]req{{target: "/search?q=*"}},
			[]req{{target: "/search/x"}}},
		{pagePathCfg, "path ? is one character", pathCond("/v?/items"),
			[]req{{target: "/v1/items"}},
			[]req{{target: "/v10/items"}, {target: "/v/items"}}},
		// HTTP header conditions: the page's User-Agent example with
		// *Chrome* and *Safari*; name and values case-insensitive; a
		// header sent twice is searched in order.
		{pageConditions, "User-Agent *Chrome* or *Safari*", headerCond("User-Agent", "*Chrome*", "*Safari*"),
			[]req{{target: "/", header: map[string][]string{"User-Agent": {"Mozilla/5.0 Chrome/120"}}},
				{target: "/", header: map[string][]string{"User-Agent": {"mobile safari"}}}},
			[]req{{target: "/", header: map[string][]string{"User-Agent": {"curl/8"}}}, {target: "/"}}},
		{pageHeaderCfg, "header name case-insensitive, repeated header searched", headerCond("x-ENV", "canary"),
			[]req{{target: "/", header: map[string][]string{"X-Env": {"prod", "CANARY"}}}},
			[]req{{target: "/", header: map[string][]string{"X-Env": {"prod"}}}}},
		// Query string conditions: the page's example, version=v1 or any
		// value *example*; case-insensitive; \* and \? are literal.
		{pageConditions, "query version=v1 or a value *example*", queryCond("version", "v1", "", "*example*"),
			[]req{{target: "/?version=v1"}, {target: "/?a=1&version=V1"}, {target: "/?x=my-example-1"}},
			[]req{{target: "/?version=v2"}, {target: "/?versions=v1"}, {target: "/"}}},
		{pageQueryCfg, `query \* and \? are literal`, queryCond("q", `a\*b\?`),
			[]req{{target: "/?q=a*b?"}, {target: "/?q=a%2Ab%3F"}},
			[]req{{target: "/?q=axxbz"}, {target: "/?q=ab"}}},
		{pageQueryCfg, "query wildcards", queryCond("lang", "en-*"),
			[]req{{target: "/?lang=en-US"}, {target: "/?lang=EN-gb"}},
			[]req{{target: "/?lang=de-DE"}}},
		// Method: "The comparison is case sensitive".
		{pageMethodCfg, "method GET or HEAD", elbtypes.RuleCondition{Field: aws.String("http-request-method"),
			HttpRequestMethodConfig: &elbtypes.HttpRequestMethodConditionConfig{Values: []string{"GET", "HEAD"}}},
			[]req{{method: "GET", target: "/"}, {method: "HEAD", target: "/"}},
			[]req{{method: "POST", target: "/"}, {method: "get", target: "/"}}},
		// Source IP: the page's example CIDRs 192.0.2.0/24 and
		// 198.51.100.10/32, compared to the connection's address.
		{pageConditions, "source-ip 192.0.2.0/24 or 198.51.100.10/32", elbtypes.RuleCondition{Field: aws.String("source-ip"),
			SourceIpConfig: &elbtypes.SourceIpConditionConfig{Values: []string{"192.0.2.0/24", "198.51.100.10/32"}}},
			[]req{{target: "/", remote: "192.0.2.7:5000"}, {target: "/", remote: "198.51.100.10:1"}},
			[]req{{target: "/", remote: "198.51.100.11:1"}, {target: "/", remote: "203.0.113.1:1", header: map[string][]string{"X-Forwarded-For": {"192.0.2.7"}}}}},
		// Regex values exist for host-header, http-header and
		// path-pattern ("Condition basics").
		{pageConditions, "path regex", elbtypes.RuleCondition{Field: aws.String("path-pattern"),
			PathPatternConfig: &elbtypes.PathPatternConditionConfig{RegexValues: []string{`^/v[0-9]+/items$`}}},
			[]req{{target: "/v2/items"}},
			[]req{{target: "/v2/items/1"}, {target: "/vx/items"}}},
		{pageConditions, "host regex", elbtypes.RuleCondition{Field: aws.String("host-header"),
			HostHeaderConfig: &elbtypes.HostHeaderConditionConfig{RegexValues: []string{`^[a-z]+\.example\.com$`}}},
			[]req{{target: "/", host: "shop.example.com:80"}},
			[]req{{target: "/", host: "shop1.example.com"}}},
		{pageConditions, "header regex", elbtypes.RuleCondition{Field: aws.String("http-header"),
			HttpHeaderConfig: &elbtypes.HttpHeaderConditionConfig{HttpHeaderName: aws.String("X-Build"), RegexValues: []string{`^v[0-9]+$`}}},
			[]req{{target: "/", header: map[string][]string{"X-Build": {"v12"}}}},
			[]req{{target: "/", header: map[string][]string{"X-Build": {"v12a"}}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cond, err := convertCondition(c.cond)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range c.match {
				if !cond.matches(r.request()) {
					t.Errorf("%+v does not match; it should (%s)", r, c.page)
				}
			}
			for _, r := range c.miss {
				if cond.matches(r.request()) {
					t.Errorf("%+v matches; it should not (%s)", r, c.page)
				}
			}
		})
	}
}

func TestWildcardMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, s    string
		fold, escapes bool
		want          bool
	}{
		{"*", "", false, false, true},
		{"a*b*c", "aXXbYYc", false, false, true},
		{"a*b*c", "aXXbYY", false, false, false},
		{"*.example.com", ".example.com", false, false, true},
		{"??", "é1", false, false, true}, // ? is one character, not one byte
		{"ABC", "abc", true, false, true},
		{"ABC", "abc", false, false, false},
		{`a\*`, "a*", false, true, true},
		{`a\*`, "ab", false, true, false},
		{`a\*`, `a\b`, false, false, true}, // without escapes, \ is a character and * a wildcard
	} {
		if got := wildcardMatch(c.pattern, c.s, c.fold, c.escapes); got != c.want {
			t.Errorf("wildcardMatch(%q, %q, fold %v, escapes %v) = %v, want %v", c.pattern, c.s, c.fold, c.escapes, got, c.want)
		}
	}
}
