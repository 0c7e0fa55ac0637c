package reconciler

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/providers"
)

// A Gateway's reconcile replaces our route entries for itself and for the
// ListenerSets it owns, and leaves those for a ListenerSet of the same
// name as the Gateway, for another Gateway's ListenerSet, and other
// controllers' alone.
func TestRouteEntriesOfOwnedListenerSetsAreReplaced(t *testing.T) {
	r := &GatewayReconciler{Providers: map[gwv1.GatewayController]providers.Provider{"cloudgate.dev/emulated": fakeProvider{}}}
	lsKind := gwv1.Kind("ListenerSet")
	entry := func(kind *gwv1.Kind, name, controller, reason string) gwv1.RouteParentStatus {
		return gwv1.RouteParentStatus{ParentRef: gwv1.ParentReference{Kind: kind, Name: gwv1.ObjectName(name)},
			ControllerName: gwv1.GatewayController(controller),
			Conditions:     []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionFalse, Reason: reason}}}
	}
	route := &gwv1.HTTPRoute{}
	route.Namespace, route.Name = "ns", "r"
	route.Status.Parents = []gwv1.RouteParentStatus{
		entry(nil, "gw", "cloudgate.dev/emulated", "Old"),
		entry(&lsKind, "mine", "cloudgate.dev/emulated", "Old"),
		entry(&lsKind, "gw", "cloudgate.dev/emulated", "Kept"),
		entry(&lsKind, "theirs", "cloudgate.dev/emulated", "Kept"),
		entry(&lsKind, "mine", "example.com/other", "Kept"),
	}
	owner := parents{gateway: types.NamespacedName{Namespace: "ns", Name: "gw"},
		sets: map[types.NamespacedName]bool{{Namespace: "ns", Name: "mine"}: true}}
	want := []gwv1.RouteParentStatus{entry(&lsKind, "mine", "cloudgate.dev/emulated", "New")}
	next, changed := r.nextRouteStatus(owner, route, want)
	if !changed {
		t.Fatal("no change reported")
	}
	got := next.(*gwv1.HTTPRoute).Status.Parents
	if len(got) != 4 {
		t.Fatalf("parents %+v, want the three kept and the new one", got)
	}
	for _, p := range got[:3] {
		if p.Conditions[0].Reason != "Kept" {
			t.Errorf("entry %+v was not kept", p)
		}
	}
	if p := got[3]; p.ParentRef.Name != "mine" || p.Conditions[0].Reason != "New" {
		t.Errorf("last entry %+v, want the new one for ListenerSet mine", p)
	}
}

func TestListenerSetParentDefaultsToItsNamespace(t *testing.T) {
	ls := &gwv1.ListenerSet{}
	ls.Namespace = "team"
	ls.Spec.ParentRef = gwv1.ParentGatewayReference{Name: "gw"}
	if gw, ok := listenerSetParent(ls); !ok || gw != (types.NamespacedName{Namespace: "team", Name: "gw"}) {
		t.Errorf("parent %v %v, want team/gw", gw, ok)
	}
	other := gwv1.Kind("Other")
	ls.Spec.ParentRef.Kind = &other
	if _, ok := listenerSetParent(ls); ok {
		t.Error("a parentRef of another kind names a Gateway")
	}
}
