package mapping

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// BenchmarkBuildManyRoutes is Build for the basic case's Gateway with n
// more HTTPRoutes on it, each an Exact path to the same Service: the work
// mapping does for each change on a Gateway with thousands of routes.
func BenchmarkBuildManyRoutes(b *testing.B) {
	for _, n := range []int{10, 3000} {
		s := loadSnapshot(b, "testdata/basic.in.yaml")
		base := s.HTTPRoutes[0]
		for i := range n {
			r := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: base.Namespace, Name: fmt.Sprintf("r-%d", i), Generation: 1,
				CreationTimestamp: base.CreationTimestamp}}
			r.Spec.ParentRefs = base.Spec.ParentRefs
			exact, path := gwv1.PathMatchExact, fmt.Sprintf("/r-%d", i)
			r.Spec.Rules = []gwv1.HTTPRouteRule{{
				Matches:     []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: &exact, Value: &path}}},
				BackendRefs: base.Spec.Rules[0].BackendRefs[:1],
			}}
			s.HTTPRoutes = append(s.HTTPRoutes, r)
		}
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			for b.Loop() {
				if Build(s).LoadBalancer == nil {
					b.Fatal("no model")
				}
			}
		})
		// Through a Cache, with one route changed before each Build, as
		// the reconciler builds after a route change.
		stamp(s)
		var c Cache
		c.Build(s)
		b.Run(fmt.Sprintf("cached/routes=%d", n), func(b *testing.B) {
			for b.Loop() {
				bump(s.HTTPRoutes[len(s.HTTPRoutes)-1])
				if c.Build(s).LoadBalancer == nil {
					b.Fatal("no model")
				}
			}
		})
	}
}
