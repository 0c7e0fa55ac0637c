package mapping

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

func TestValueChecks(t *testing.T) {
	ok, bad := true, false
	cases := []struct {
		name  string
		check func(string) string
		in    string
		valid bool
	}{
		{"token", headerNameProblem, "X-Header_1!#$%&'*+.^`|~", ok},
		{"token space", headerNameProblem, "x y", bad},
		{"token colon", headerNameProblem, ":path", bad},
		{"token non-ASCII", headerNameProblem, "é", bad},
		{"token empty", headerNameProblem, "", bad},
		{"token long", headerNameProblem, strings.Repeat("a", 257), bad},
		{"value tab", headerValueProblem, "a\tb c", ok},
		{"value obs-text", headerValueProblem, "é", ok},
		{"value CR", headerValueProblem, "a\rb", bad},
		{"value DEL", headerValueProblem, "a\x7fb", bad},
		{"value empty", headerValueProblem, "", bad},
		{"regex", func(s string) string { return regexProblem(s, 1024) }, "/a.*[0-9]{3}", ok},
		{"regex 1000", func(s string) string { return regexProblem(s, 1024) }, "a{1000}", ok},
		{"regex 1001", func(s string) string { return regexProblem(s, 1024) }, "a{1001}", bad},
		{"regex unterminated quote", func(s string) string { return regexProblem(s, 1024) }, `\Qa`, bad},
		{"regex breaks out", func(s string) string { return regexProblem(s, 1024) }, "a)|(b", bad},
		{"regex long", func(s string) string { return regexProblem(s, 4) }, "abcde", bad},
		{"hostname", func(s string) string { return hostnameProblem(s, true) }, "*.a-1.example.com", ok},
		{"hostname digits", func(s string) string { return hostnameProblem(s, false) }, "123.example", ok},
		{"hostname ip", func(s string) string { return hostnameProblem(s, false) }, "10.1.2.3", bad},
		{"hostname wildcard precise", func(s string) string { return hostnameProblem(s, false) }, "*.example.com", bad},
		{"hostname upper", func(s string) string { return hostnameProblem(s, false) }, "A.example.com", bad},
		{"hostname trailing dot", func(s string) string { return hostnameProblem(s, false) }, "example.com.", bad},
		{"hostname label 64", func(s string) string { return hostnameProblem(s, false) }, strings.Repeat("a", 64), bad},
		{"host header", hostHeaderProblem, "Example.com:8080", ok},
		{"host header ipv6", hostHeaderProblem, "[2001:db8::1]", ok},
		{"host header ipv4 port", hostHeaderProblem, "192.0.2.1:80", ok},
		{"host header bad port", hostHeaderProblem, "a.com:0", bad},
		{"host header signed port", hostHeaderProblem, "a.com:+80", bad},
		{"host header empty port", hostHeaderProblem, "a.com:", bad},
		{"host header bare ipv6", hostHeaderProblem, "2001:db8::1", bad},
		{"host header unclosed", hostHeaderProblem, "[2001:db8::1", bad},
		{"path", matchPathProblem, "/a/%20b;c=d@:!$&'()*+,=~", ok},
		{"path root", matchPathProblem, "/", ok},
		{"path query", matchPathProblem, "/a?b", bad},
		{"path percent", matchPathProblem, "/a%2", bad},
		{"path encoded slash", matchPathProblem, "/a%2Fb", bad},
		{"path dot", matchPathProblem, "/a/.", bad},
		{"rewrite path dots", pathProblem, "/a/../b", ok},
		{"rewrite relative", pathProblem, "a", bad},
		{"query value", queryValueProblem, "a b\u00e9", ok},
		{"query tab", queryValueProblem, "a\tb", bad},
	}
	for _, c := range cases {
		if got := c.check(c.in); (got == "") != c.valid {
			t.Errorf("%s: %q gives %q, want valid=%v", c.name, c.in, got, c.valid)
		}
	}
}

func TestBoundedList(t *testing.T) {
	items := make([]string, 100)
	for i := range items {
		items[i] = strings.Repeat("x", 20)
	}
	got := boundedList(items, "; ", 200)
	if len(got) > 200 || !strings.HasSuffix(got, " more") {
		t.Errorf("boundedList = %q (%d bytes)", got, len(got))
	}
	if want := "x; x"; boundedList([]string{"x", "x"}, "; ", 200) != want {
		t.Errorf("short lists stay whole")
	}
	// One item longer than the limit is cut on a rune boundary.
	long := boundedList([]string{strings.Repeat("é", 300), "b"}, "; ", 100)
	if len(long) > 100 || !utf8.ValidString(long) || !strings.HasSuffix(long, "… and 1 more") {
		t.Errorf("long item: %q (%d bytes)", long, len(long))
	}
	if q := quote(strings.Repeat("é", 100)); !utf8.ValidString(q) || len(q) > maxQuoted+8 {
		t.Errorf("quote = %q", q)
	}
}

// TestSources checks Result.Sources on every golden case: each Rule,
// Stream and TargetGroup of the model has the routes it came from, and
// Sources names nothing else.
func TestSources(t *testing.T) {
	ins, _ := filepath.Glob("testdata/*.in.yaml")
	for _, in := range ins {
		s := loadSnapshot(t, in)
		res := Build(s)
		names := modelNames(res.LoadBalancer)
		for n := range names {
			if len(res.Sources[n]) == 0 {
				t.Errorf("%s: element %q has no source route", in, n)
			}
		}
		for n, refs := range res.Sources {
			if !names[n] {
				t.Errorf("%s: Sources names %q, which the model does not have", in, n)
			}
			for _, r := range refs {
				if r.Kind == "" || r.Namespace == "" || r.Name == "" {
					t.Errorf("%s: element %q: incomplete route %+v", in, n, r)
				}
			}
		}
	}
}

func modelNames(m *lb.LoadBalancer) map[string]bool {
	out := map[string]bool{}
	if m == nil {
		return out
	}
	for _, l := range m.Listeners {
		for _, vh := range l.VirtualHosts {
			for _, r := range vh.Rules {
				out[r.Name] = true
			}
		}
		for _, st := range l.Streams {
			out[st.Name] = true
		}
	}
	for _, g := range m.TargetGroups {
		out[g.Name] = true
	}
	return out
}

// TestSourcesOfASharedGroup checks Sources for a target group behind more
// routes than the small-list sort takes (sources.inOrder): every route
// once, in RouteRef order, with a route the snapshot holds twice.
func TestSourcesOfASharedGroup(t *testing.T) {
	s := loadSnapshot(t, "testdata/basic.in.yaml")
	base := s.HTTPRoutes[0]
	for i := range 100 {
		r := base.DeepCopy()
		r.Name = fmt.Sprintf("shared-%03d", 99-i)
		s.HTTPRoutes = append(s.HTTPRoutes, r)
	}
	s.HTTPRoutes = append(s.HTTPRoutes, s.HTTPRoutes[7])
	stamp(s)
	var want []RouteRef
	for _, r := range s.HTTPRoutes {
		want = append(want, RouteRef{Kind: "HTTPRoute", Namespace: r.Namespace, Name: r.Name})
	}
	slices.SortFunc(want, compareRouteRefs)
	want = slices.Compact(want)
	var c Cache
	for _, res := range []Result{Build(s), c.Build(s), c.Build(s)} {
		if res.LoadBalancer == nil || len(res.LoadBalancer.TargetGroups) == 0 {
			t.Fatal("no target group")
		}
		for _, g := range res.LoadBalancer.TargetGroups {
			if got := res.Sources[g.Name]; !slices.Equal(got, want) {
				t.Errorf("Sources[%s] = %d routes %v, want %d", g.Name, len(got), got, len(want))
			}
		}
	}
}
