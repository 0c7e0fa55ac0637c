package urlmapplane

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// A ReplacePrefixMatch rewrite or redirect replaces whole segments, as the
// Gateway API asks, though GCP replaces whatever its match rule matched
// (URL maps, "pathPrefixRewrite" and "prefixRedirect"): "/docs" must not
// become "/manualx" for "/docs/x" nor "/manual/" for "/docs". The
// provider's translation (one route rule per match rule) is judged by the
// paths the backend sees and the Locations the plane answers. A second
// Ensure writes nothing: the split rules keep their priorities.
func TestPrefixReplacementsReplaceWholeSegments(t *testing.T) {
	f := newFixture(t)
	p := provider(t, f)
	web := backend(t, "web")
	rewrite := func(v string) lb.Action {
		a := forward("shop/web:8080")
		a.Rewrite = &lb.Rewrite{Path: &lb.PathRewrite{Type: lb.RewritePrefix, Value: v}}
		return a
	}
	m := &lb.LoadBalancer{
		Owner: e2eOwner,
		Listeners: []lb.Listener{{Name: "http-80", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{
			{Hostname: "shop.example.com", Rules: []lb.Rule{
				{Name: "shop/docs/rule-0", Match: lb.Match{Path: prefix("/docs")}, Action: rewrite("/manual")},
				{Name: "shop/strip/rule-0", Match: lb.Match{Path: prefix("/strip/")}, Action: rewrite("/")},
				{Name: "shop/old/rule-0", Match: lb.Match{Path: prefix("/old")}, Action: lb.Action{Redirect: &lb.Redirect{
					StatusCode: 302, Path: &lb.PathRewrite{Type: lb.RewritePrefix, Value: "/new"}}}},
				{Name: "shop/root/rule-0", Match: lb.Match{Path: prefix("/")}, Action: rewrite("/base")},
			}},
		}}},
		TargetGroups: []lb.TargetGroup{{Name: "shop/web:8080", Protocol: lb.ProtocolHTTP, Targets: targets(t, web)}},
	}
	ip := ensure(t, p, f, m)
	c := f.client()
	base := "http://" + ip
	const host = "shop.example.com"
	for _, tc := range []struct{ path, want string }{
		{"/docs", "/manual"},
		{"/docs/", "/manual/"},
		{"/docs/x/y", "/manual/x/y"},
		{"/strip", "/"},
		{"/strip/a", "/a"},
		// Not a segment of /docs: the root rule.
		{"/docsx", "/base/docsx"},
		{"/", "/base/"},
		{"/x", "/base/x"},
	} {
		a := get(t, c, base+tc.path, host, nil)
		must(t, a.code == 200 && a.seen.Path == tc.want, "%s: %d, reached the backend as %q, want %q", tc.path, a.code, a.seen.Path, tc.want)
	}
	for _, tc := range []struct{ path, want string }{
		{"/old", "http://shop.example.com/new"},
		{"/old/a?q=1", "http://shop.example.com/new/a?q=1"},
	} {
		a := get(t, c, base+tc.path, host, nil)
		must(t, a.code == http.StatusFound && a.header.Get("Location") == tc.want, "%s: %d to %q, want 302 to %q", tc.path, a.code, a.header.Get("Location"), tc.want)
	}

	f.d.ResetCalls()
	ensure(t, p, f, m)
	for call, n := range f.d.Calls() {
		verb := call[strings.LastIndex(call, ".")+1:]
		if verb != "get" && verb != "list" && verb != "aggregatedList" && verb != "listNetworkEndpoints" && verb != "wait" {
			t.Errorf("a second Ensure called %s %d times", call, n)
		}
	}
}
