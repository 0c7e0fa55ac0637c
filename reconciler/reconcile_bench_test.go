package reconciler

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping"
	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/emulated"
)

// The benchmarks here time what the reconciler itself does per change on a
// Gateway with 3,000 HTTPRoutes (test/e2e's BenchmarkRouteChangeToTraffic
// shape: each route an Exact path to one Service), outside mapping.Build and
// the provider.

const benchRoutes = 3000

// benchSnapshot is a Gateway with n HTTPRoutes, each with a UID and a
// resourceVersion as the cache hands them over.
func benchSnapshot(n int) *mapping.Snapshot {
	gc := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "cloudgate", Generation: 1}}
	gc.Spec.ControllerName = "cloudgate.dev/emulated"
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: "gw", UID: "gw-uid", Generation: 1, ResourceVersion: "1"}}
	gw.Spec.GatewayClassName = "cloudgate"
	gw.Spec.Listeners = []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}}
	port := int32(8080)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: "echo", UID: "svc-uid", ResourceVersion: "1"}}
	svc.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: port}}
	ready := true
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: "echo-1", UID: "slice-uid", ResourceVersion: "1",
		Labels: map[string]string{discoveryv1.LabelServiceName: "echo"}}, AddressType: discoveryv1.AddressTypeIPv4}
	portName := "http"
	slice.Ports = []discoveryv1.EndpointPort{{Name: &portName, Port: &port}}
	slice.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}}
	s := &mapping.Snapshot{
		ClusterName:    "bench",
		Capabilities:   (&emulated.Provider{}).Capabilities(),
		GatewayClass:   gc,
		Gateway:        gw,
		Namespaces:     []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}},
		Services:       []*corev1.Service{svc},
		EndpointSlices: []*discoveryv1.EndpointSlice{slice},
	}
	gwPort := gwv1.PortNumber(port)
	for i := range n {
		name := fmt.Sprintf("r-%d", i)
		r := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: name, UID: types.UID("uid-" + name),
			ResourceVersion: strconv.Itoa(10 + i), Generation: 1}}
		r.Spec.ParentRefs = []gwv1.ParentReference{{Name: "gw"}}
		exact, path := gwv1.PathMatchExact, "/"+name
		r.Spec.Rules = []gwv1.HTTPRouteRule{{
			Matches:     []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: &exact, Value: &path}}},
			BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "echo", Port: &gwPort}}}},
		}}
		s.HTTPRoutes = append(s.HTTPRoutes, r)
	}
	return s
}

func BenchmarkFingerprint(b *testing.B) {
	res := mapping.Build(benchSnapshot(benchRoutes))
	if res.LoadBalancer == nil {
		b.Fatal("no model")
	}
	rules := 0
	for _, l := range res.LoadBalancer.Listeners {
		for _, vh := range l.VirtualHosts {
			rules += len(vh.Rules)
		}
	}
	if rules < benchRoutes {
		b.Fatalf("%d rules, want at least %d", rules, benchRoutes)
	}
	b.ReportAllocs()
	for b.Loop() {
		fingerprint(res.LoadBalancer)
	}
}

// statusWriter stands in for the API server's status subresource: each
// write gets a new resourceVersion, and the cache (routes) is given the
// written object, as the watch would.
type statusWriter struct {
	client.SubResourceWriter
	routes map[types.NamespacedName]*gwv1.HTTPRoute
	rv     int
}

func (w *statusWriter) Update(_ context.Context, obj client.Object, _ ...client.SubResourceUpdateOption) error {
	w.rv++
	obj.SetResourceVersion("w" + strconv.Itoa(w.rv))
	*w.routes[client.ObjectKeyFromObject(obj)] = *obj.(*gwv1.HTTPRoute)
	return nil
}

type statusClient struct {
	client.Client
	w *statusWriter
}

func (c statusClient) Status() client.SubResourceWriter { return c.w }

// BenchmarkRouteStatuses is the route status step of a reconcile (the memo,
// the comparisons, and the one write) for 3,000 routes of which one changed
// since the last reconcile, and routesProgrammed after it.
func BenchmarkRouteStatuses(b *testing.B) {
	snap := benchSnapshot(benchRoutes)
	res := mapping.Build(snap)
	byKey := map[types.NamespacedName]*gwv1.HTTPRoute{}
	for _, r := range snap.HTTPRoutes {
		byKey[client.ObjectKeyFromObject(r)] = r
	}
	w := &statusWriter{routes: byKey}
	r := &GatewayReconciler{Client: statusClient{w: w}, APIReader: statusClient{w: w},
		Providers:  map[gwv1.GatewayController]providers.Provider{"cloudgate.dev/emulated": fakeProvider{}},
		routeClock: &routeClock{}}
	owner := parents{gateway: client.ObjectKeyFromObject(snap.Gateway)}
	ctx := context.Background()
	reconcile := func() {
		memo := r.routeStatusMemo(owner)
		for _, kind := range routeSets(snap, res) {
			if err := r.writeRouteStatuses(ctx, owner, kind.routes, kind.desired, memo); err != nil {
				b.Fatal(err)
			}
		}
		memo.done()
	}
	reconcile() // every route gets its status
	changed := snap.HTTPRoutes[len(snap.HTTPRoutes)-1]
	key := client.ObjectKeyFromObject(changed)
	b.Run("writeRouteStatuses", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			// The route's spec changed: a new generation, which its
			// status reports.
			changed.Generation++
			changed.ResourceVersion = "s" + strconv.FormatInt(changed.Generation, 10)
			// A new Build's statuses for it, as mapping gives them.
			want := slices.Clone(res.Routes[key])
			want[0].Conditions = slices.Clone(want[0].Conditions)
			for i := range want[0].Conditions {
				want[0].Conditions[i].ObservedGeneration = changed.Generation
			}
			res.Routes[key] = want
			before := w.rv
			reconcile()
			if w.rv != before+1 {
				b.Fatalf("%d status writes, want 1", w.rv-before)
			}
		}
	})
	b.Run("routesProgrammed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			changed.Generation++
			r.routeClock.seen(changed, changed.CreationTimestamp.Time)
			r.routesProgrammed(routeSets(snap, res), changed.CreationTimestamp.Time)
			if len(r.routeClock.pending) != 0 {
				b.Fatal("the changed route is still timed")
			}
		}
	})
}

// BenchmarkLoadSnapshot is loadSnapshot for 3,000 routes, with the fake
// client standing in for the cache (timing only: its reads of the few other
// objects cost what they cost, not what the cache's do).
func BenchmarkLoadSnapshot(b *testing.B) {
	snap := benchSnapshot(benchRoutes)
	scheme, err := NewScheme()
	if err != nil {
		b.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(snap.Namespaces[0], snap.Services[0], snap.EndpointSlices[0]).Build()
	routes := objects(snap.HTTPRoutes)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s, err := loadSnapshot(ctx, c, c, snap.GatewayClass, snap.Gateway, nil, routes)
		if err != nil {
			b.Fatal(err)
		}
		if len(s.HTTPRoutes) != benchRoutes || len(s.Services) != 1 {
			b.Fatalf("%d routes, %d Services", len(s.HTTPRoutes), len(s.Services))
		}
	}
}

// BenchmarkRefusedRoutes is the per-reconcile bookkeeping of refused
// routes, with none refused.
func BenchmarkRefusedRoutes(b *testing.B) {
	snap := benchSnapshot(benchRoutes)
	var o observations
	key := client.ObjectKeyFromObject(snap.Gateway)
	b.ReportAllocs()
	for b.Loop() {
		gens := routeGenerations(snap)
		snap.Refused = o.refusedRoutes(key, "gw-uid", gens)
		o.setRefused(key, "gw-uid", snap.Refused, gens)
	}
}

// BenchmarkGatewayRoutes finds a Gateway's 3,000 routes in an informer's
// store: by routeIndex, and as a cache List (UnsafeDisableDeepCopy) did
// before it, re-enacted here since controller-runtime's cache reader is
// internal: the same index lookup, then meta.SetList into a typed list.
func BenchmarkGatewayRoutes(b *testing.B) {
	snap := benchSnapshot(benchRoutes)
	x, err := newRouteIndex(context.Background(), &informers{byType: map[string]toolscache.SharedIndexInformer{}})
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range snap.HTTPRoutes {
		if err := x.stores[0].Add(r); err != nil {
			b.Fatal(err)
		}
	}
	gw := client.ObjectKeyFromObject(snap.Gateway)
	b.Run("index", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			routes, err := x.routes(gw.String())
			if err != nil || len(routes) != benchRoutes {
				b.Fatalf("%d routes, %v", len(routes), err)
			}
		}
	})
	b.Run("list", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			items, err := x.stores[0].ByIndex(routeGatewayIndex, gw.String())
			if err != nil {
				b.Fatal(err)
			}
			objs := make([]runtime.Object, 0, len(items))
			for _, it := range items {
				objs = append(objs, it.(runtime.Object))
			}
			var list gwv1.HTTPRouteList
			if err := apimeta.SetList(&list, objs); err != nil {
				b.Fatal(err)
			}
			if routes := appendItems(nil, &list); len(routes) != benchRoutes {
				b.Fatalf("%d routes", len(routes))
			}
		}
	})
}
