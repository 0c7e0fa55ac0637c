package mapping

import (
	"cmp"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

func TestIntersect(t *testing.T) {
	tests := []struct {
		listener string
		route    []string
		want     []string
	}{
		{"", nil, []string{""}},
		{"", []string{"a.example.com", "*.example.com"}, []string{"a.example.com", "*.example.com"}},
		{"a.example.com", nil, []string{"a.example.com"}},
		{"a.example.com", []string{"*.example.com"}, []string{"a.example.com"}},
		{"a.example.com", []string{"b.example.com"}, nil},
		{"*.example.com", []string{"a.example.com", "a.b.example.com", "example.com", "x.example.net"}, []string{"a.example.com", "a.b.example.com"}},
		{"*.example.com", []string{"*.b.example.com", "*.com"}, []string{"*.b.example.com", "*.example.com"}},
		{"*.example.com", []string{"*.example.com"}, []string{"*.example.com"}},
		{"*.example.com", []string{"badexample.com"}, nil},
	}
	for _, tt := range tests {
		if got := intersect(tt.listener, tt.route); !slices.Equal(got, tt.want) {
			t.Errorf("intersect(%q, %q) = %q, want %q", tt.listener, tt.route, got, tt.want)
		}
	}
}

func TestRouteHostname(t *testing.T) {
	tests := []struct {
		hostnames []string
		host      string
		want      string
	}{
		{nil, "abc.example.com", ""},
		{nil, "", ""},
		{[]string{"*.example.com"}, "abc.example.com", "*.example.com"},
		{[]string{"*.example.com", "abc.example.com"}, "abc.example.com", "abc.example.com"},
		{[]string{"abc.example.com", "*.example.com"}, "abc.example.com", "abc.example.com"},
		{[]string{"*.com", "*.example.com"}, "*.example.com", "*.example.com"},
		{[]string{"*.com", "x.net"}, "*.example.com", "*.com"},
		{[]string{"*.COM"}, "*.example.com", "*.com"},
	}
	for _, tt := range tests {
		if got := routeHostname(tt.hostnames, tt.host); got != tt.want {
			t.Errorf("routeHostname(%q, %q) = %q, want %q", tt.hostnames, tt.host, got, tt.want)
		}
	}
}

func TestHostSpecificityOrder(t *testing.T) {
	got := []string{"", "*.example.com", "b.example.com", "*.a.example.com", "longer.example.com", "*.xample.com"}
	slices.SortFunc(got, compareHostSpecificity)
	want := []string{"longer.example.com", "b.example.com", "*.a.example.com", "*.example.com", "*.xample.com", ""}
	if !slices.Equal(got, want) {
		t.Errorf("order = %q, want %q", got, want)
	}
}

func TestPrecedence(t *testing.T) {
	old, young := metav1.Unix(100, 0), metav1.Unix(200, 0)
	e := func(name, host string, created metav1.Time, m lb.Match) *entry {
		r := &route{kind: kindHTTPRoute, key: types.NamespacedName{Namespace: "ns", Name: name}, created: created}
		return &entry{host: host, routeHost: host, route: r, rm: &ruleMatch{m: m}}
	}
	// via is an entry whose own hostname routeHost intersects to host.
	via := func(name, host, routeHost string, created metav1.Time, m lb.Match) *entry {
		x := e(name, host, created, m)
		x.routeHost = routeHost
		return x
	}
	prefix := func(v string) *lb.PathMatch { return &lb.PathMatch{Type: lb.MatchPrefix, Value: v} }
	entries := []*entry{
		e("tie-young", "", young, lb.Match{Path: prefix("/")}),
		e("tie-old", "", old, lb.Match{Path: prefix("/")}),
		e("query", "", young, lb.Match{Path: prefix("/"), Query: []lb.QueryMatch{{}}}),
		e("header", "", young, lb.Match{Path: prefix("/"), Headers: []lb.HeaderMatch{{}}}),
		e("method", "", young, lb.Match{Path: prefix("/"), Method: "GET"}),
		e("long", "", young, lb.Match{Path: prefix("/long")}),
		e("regex", "", young, lb.Match{Path: &lb.PathMatch{Type: lb.MatchRegex, Value: "/.*"}}),
		e("exact", "", young, lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/"}}),
		e("wild", "*.example.com", young, lb.Match{Path: prefix("/")}),
		e("host", "a.example.com", young, lb.Match{Path: prefix("/")}),
		// Same effective hostname: the route's own decides, before path
		// and age; no hostnames ("") is the least specific.
		via("via-wild", "a.example.com", "*.example.com", old, lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/"}}),
		via("via-com", "a.example.com", "*.com", old, lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/"}}),
		via("via-any", "a.example.com", "", old, lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/"}}),
	}
	slices.SortFunc(entries, comparePrecedence)
	var got []string
	for _, x := range entries {
		got = append(got, x.route.key.Name)
	}
	want := []string{"host", "via-wild", "via-com", "via-any", "wild", "exact", "regex", "long", "method", "header", "query", "tie-old", "tie-young"}
	if !slices.Equal(got, want) {
		t.Errorf("order = %q, want %q", got, want)
	}
}

// compareRouteNames compares without building "{namespace}/{name}"; it must
// order every pair as comparing those strings does, namespaces that are
// prefixes of one another included.
func TestCompareRouteNamesIsTheJoinedOrder(t *testing.T) {
	names := []types.NamespacedName{
		{Namespace: "foo", Name: "r"}, {Namespace: "foo-bar", Name: "r"}, {Namespace: "foo", Name: "a"},
		{Namespace: "foo0", Name: "r"}, {Namespace: "fo", Name: "zz"}, {Namespace: "foo.bar", Name: "a"},
		{Namespace: "foo", Name: "r-1"}, {Namespace: "", Name: "x"}, {Namespace: "a", Name: ""},
	}
	for _, x := range names {
		for _, y := range names {
			want := cmp.Compare(x.Namespace+"/"+x.Name, y.Namespace+"/"+y.Name)
			if got := compareRouteNames(&route{key: x}, &route{key: y}); got != want {
				t.Errorf("compareRouteNames(%s, %s) = %d, want %d", x, y, got, want)
			}
		}
	}
}
