package reconciler

import (
	"context"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// informers hands out client-go informers that are never started: the
// test fills their stores itself.
type informers struct {
	cache.Informers
	byType map[string]toolscache.SharedIndexInformer
}

func (i *informers) GetInformer(_ context.Context, obj client.Object, _ ...cache.InformerGetOption) (cache.Informer, error) {
	k := routeKind(obj)
	if inf, ok := i.byType[k]; ok {
		return inf, nil
	}
	lw := &toolscache.ListWatch{
		ListWithContextFunc:  func(context.Context, metav1.ListOptions) (runtime.Object, error) { return nil, nil },
		WatchFuncWithContext: func(context.Context, metav1.ListOptions) (watch.Interface, error) { return watch.NewFake(), nil },
	}
	inf := toolscache.NewSharedIndexInformer(lw, obj, time.Hour, toolscache.Indexers{})
	i.byType[k] = inf
	return inf, nil
}

// The informer index finds the routes a List of every route, filtered by
// the Gateways each names, finds: those naming the Gateway in a parentRef
// (its own namespace by default) or only in their status, of every kind.
func TestRouteIndexFindsAGatewaysRoutes(t *testing.T) {
	gw := client.ObjectKey{Namespace: "ns", Name: "gw"}
	other := gwv1.Namespace("other")
	named := func(r *gwv1.HTTPRoute, refs ...gwv1.ParentReference) *gwv1.HTTPRoute {
		r.Spec.ParentRefs = refs
		return r
	}
	statusOnly := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "left"}}
	statusOnly.Status.Parents = []gwv1.RouteParentStatus{{ParentRef: gwv1.ParentReference{Name: "gw"}, ControllerName: "cloudgate.dev/emulated"}}
	grpc := &gwv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "g"}}
	grpc.Spec.ParentRefs = []gwv1.ParentReference{{Name: "gw"}}
	ns := gwv1.Namespace("ns")
	objs := []client.Object{
		named(&gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}}, gwv1.ParentReference{Name: "gw"}),
		named(&gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "elsewhere", Name: "b"}}, gwv1.ParentReference{Name: "gw", Namespace: &ns}),
		named(&gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "elsewhere", Name: "c"}}, gwv1.ParentReference{Name: "gw"}),
		named(&gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "d"}}, gwv1.ParentReference{Name: "gw", Namespace: &other}),
		statusOnly,
		grpc,
	}

	x, err := newRouteIndex(context.Background(), &informers{byType: map[string]toolscache.SharedIndexInformer{}})
	if err != nil || x == nil {
		t.Fatalf("newRouteIndex: %v, %v", x, err)
	}
	for _, o := range objs {
		// The stores are in routeKinds' order.
		kind := slices.IndexFunc(routeKinds(), func(k client.Object) bool { return routeKind(k) == routeKind(o) })
		if err := x.stores[kind].Add(o); err != nil {
			t.Fatal(err)
		}
	}
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	indexed, err := (&GatewayReconciler{routeIndex: x}).gatewayRoutes(context.Background(), gw)
	if err != nil {
		t.Fatal(err)
	}
	listed, err := (&GatewayReconciler{Client: fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()}).gatewayRoutes(context.Background(), gw)
	if err != nil {
		t.Fatal(err)
	}
	names := func(os []client.Object) []string {
		var out []string
		for _, o := range os {
			out = append(out, routeKind(o)+" "+client.ObjectKeyFromObject(o).String())
		}
		slices.Sort(out)
		return out
	}
	want := []string{"GRPCRoute ns/g", "HTTPRoute elsewhere/b", "HTTPRoute ns/a", "HTTPRoute ns/left"}
	if got := names(indexed); !slices.Equal(got, want) {
		t.Errorf("index finds %q, want %q", got, want)
	}
	if got := names(listed); !slices.Equal(got, want) {
		t.Errorf("a List finds %q, want %q", got, want)
	}
	for _, o := range indexed {
		if o != objs[slices.IndexFunc(objs, func(p client.Object) bool { return p.GetName() == o.GetName() })] {
			t.Errorf("%s is a copy, not the cache's object", o.GetName())
		}
	}
}
