package reconciler

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/providers"
)

// TestRouteStatusMemo checks that a route whose status is as this Gateway
// last wrote it is not written again, and that one whose status someone
// else changed since is: the memo holds only at the resourceVersion it saw.
func TestRouteStatusMemo(t *testing.T) {
	ctx := context.Background()
	route := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "r", UID: "uid-r"}}
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	writes := 0
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(route).WithStatusSubresource(route).
		WithInterceptorFuncs(interceptor.Funcs{SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			writes++
			return c.SubResource(sub).Update(ctx, obj, opts...)
		}}).Build()
	r := &GatewayReconciler{Client: c, Providers: map[gwv1.GatewayController]providers.Provider{"cloudgate.dev/emulated": fakeProvider{}}}
	owner := parents{gateway: types.NamespacedName{Namespace: "ns", Name: "gw"}}
	want := map[types.NamespacedName][]gwv1.RouteParentStatus{{Namespace: "ns", Name: "r"}: {{
		ParentRef: gwv1.ParentReference{Name: "gw"}, ControllerName: "cloudgate.dev/emulated",
		Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", Message: "ok"}},
	}}}
	reconcile := func() {
		t.Helper()
		var cur gwv1.HTTPRoute
		if err := c.Get(ctx, client.ObjectKeyFromObject(route), &cur); err != nil {
			t.Fatal(err)
		}
		memo := r.routeStatusMemo(owner)
		if err := r.writeRouteStatuses(ctx, owner, []client.Object{&cur}, want, memo); err != nil {
			t.Fatal(err)
		}
		memo.done()
	}

	holds := func() bool {
		t.Helper()
		var cur gwv1.HTTPRoute
		if err := c.Get(ctx, client.ObjectKeyFromObject(route), &cur); err != nil {
			t.Fatal(err)
		}
		memo := r.routeStatusMemo(owner)
		return memo.holds(&cur, want[client.ObjectKeyFromObject(route)])
	}

	reconcile()
	if !holds() {
		t.Error("the status just written is not remembered")
	}
	reconcile()
	if writes != 1 {
		t.Fatalf("%d status writes for one change, want 1", writes)
	}

	// Someone else clears our status: the route's resourceVersion moves,
	// and the next reconcile writes it back.
	var cur gwv1.HTTPRoute
	if err := c.Get(ctx, client.ObjectKeyFromObject(route), &cur); err != nil {
		t.Fatal(err)
	}
	cur.Status.Parents = nil
	if err := c.Status().Update(ctx, &cur); err != nil {
		t.Fatal(err)
	}
	if holds() {
		t.Error("the memo holds after another writer changed the route")
	}
	writes = 0
	reconcile()
	if err := c.Get(ctx, client.ObjectKeyFromObject(route), &cur); err != nil {
		t.Fatal(err)
	}
	if writes != 1 || len(cur.Status.Parents) != 1 {
		t.Fatalf("after another writer: %d writes, parents %+v; want our status written back", writes, cur.Status.Parents)
	}
}

// TestRouteStatusMemoKeepsTheLatestEqualStatuses checks that a memo entry
// found equal to new statuses takes them. mapping's Cache hands a route
// the same statuses from one Build to the next until its inputs change;
// an entry that kept the statuses of an earlier Build would compare every
// condition of every route at each reconcile (it did: none of the 3,000
// routes of the e2e benchmark ever matched by pointer).
func TestRouteStatusMemoKeepsTheLatestEqualStatuses(t *testing.T) {
	statuses := func() []gwv1.RouteParentStatus {
		return []gwv1.RouteParentStatus{{
			ParentRef: gwv1.ParentReference{Name: "gw"}, ControllerName: "cloudgate.dev/emulated",
			Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", Message: "ok"}},
		}}
	}
	route := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "r", UID: "uid-r", ResourceVersion: "7"}}
	r := &GatewayReconciler{}
	owner := parents{gateway: types.NamespacedName{Namespace: "ns", Name: "gw"}}

	memo := r.routeStatusMemo(owner)
	first := statuses()
	memo.remember(route, "7", first)
	memo.done()

	memo = r.routeStatusMemo(owner)
	later := statuses() // equal, from another Build
	if !memo.holds(route, later) {
		t.Fatal("equal statuses at the same resourceVersion do not hold")
	}
	memo.done()
	if got := memo.routes[route.UID].want; len(got) == 0 || &got[0] != &later[0] {
		t.Error("the memo kept the earlier Build's statuses; the next reconcile compares every condition again")
	}

	memo = r.routeStatusMemo(owner)
	changed := statuses()
	changed[0].Conditions[0].Message = "changed"
	if memo.holds(route, changed) {
		t.Error("changed statuses hold")
	}
}
