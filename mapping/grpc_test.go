package mapping

import (
	"regexp"
	"strings"
	"testing"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// TestGRPCMethodPath checks that the path a method match becomes selects
// exactly the calls the match means, read with the model's semantics
// (Regex anchored, Prefix by whole segments).
func TestGRPCMethodPath(t *testing.T) {
	exact, regex := gwv1.GRPCMethodMatchExact, gwv1.GRPCMethodMatchRegularExpression
	str := func(s string) *string { return &s }
	tests := []struct {
		match     gwv1.GRPCMethodMatch
		matching  []string
		notMatch  []string
		wantRanks [2]int
	}{
		{gwv1.GRPCMethodMatch{Service: str("pkg.Svc"), Method: str("Get")},
			[]string{"/pkg.Svc/Get"}, []string{"/pkg.Svc/GetAll", "/pkg.SvcV2/Get", "/other.Svc/Get"}, [2]int{7, 3}},
		{gwv1.GRPCMethodMatch{Type: &exact, Service: str("pkg.Svc")},
			[]string{"/pkg.Svc/Get", "/pkg.Svc/List"}, []string{"/pkg.SvcV2/Get", "/pkg/Svc"}, [2]int{7, 0}},
		{gwv1.GRPCMethodMatch{Method: str("Get")},
			[]string{"/pkg.Svc/Get", "/a/Get"}, []string{"/pkg.Svc/GetAll", "/Get", "/a/b/Get"}, [2]int{0, 3}},
		{gwv1.GRPCMethodMatch{Type: &exact, Service: str(""), Method: str("Get.X")},
			[]string{"/a/Get.X"}, []string{"/a/GetzX"}, [2]int{0, 5}},
		{gwv1.GRPCMethodMatch{Type: &regex, Service: str(`pkg\.v[0-9]+\.Svc`), Method: str("Get|List")},
			[]string{"/pkg.v1.Svc/Get", "/pkg.v22.Svc/List"}, []string{"/pkg.v1.Svc/Delete", "/pkg.vX.Svc/Get", "/xpkg.v1.Svc/Get"}, [2]int{17, 8}},
		{gwv1.GRPCMethodMatch{Type: &regex, Service: str("a|b")},
			[]string{"/a/Get", "/b/Get"}, []string{"/c/Get", "/a/"}, [2]int{3, 0}},
		{gwv1.GRPCMethodMatch{Type: &regex, Method: str("Get.*")},
			[]string{"/a/Get", "/a/GetAll"}, []string{"/a/List", "/Get"}, [2]int{0, 5}},
	}
	for _, tt := range tests {
		p, service, method, prob := grpcMethodPath(&tt.match)
		if !prob.ok() {
			t.Errorf("%+v: %s", tt.match, prob.message)
			continue
		}
		if [2]int{service, method} != tt.wantRanks {
			t.Errorf("%+v: ranks %d, %d, want %v", tt.match, service, method, tt.wantRanks)
		}
		matches := func(path string) bool {
			switch p.Type {
			case lb.MatchExact:
				return path == p.Value
			case lb.MatchPrefix:
				prefix := strings.TrimSuffix(p.Value, "/")
				return path == prefix || strings.HasPrefix(path, prefix+"/")
			case lb.MatchRegex:
				return regexp.MustCompile("^(?:" + p.Value + ")$").MatchString(path)
			}
			return false
		}
		for _, path := range tt.matching {
			if !matches(path) {
				t.Errorf("%+v -> %s %q does not match %q", tt.match, p.Type, p.Value, path)
			}
		}
		for _, path := range tt.notMatch {
			if matches(path) {
				t.Errorf("%+v -> %s %q matches %q", tt.match, p.Type, p.Value, path)
			}
		}
	}
}
