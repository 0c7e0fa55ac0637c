package reconciler

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/providers"
)

func ancestor(gw, controller string, conds ...metav1.Condition) gwv1.PolicyAncestorStatus {
	g, k, ns := gwv1.Group(gwv1.GroupName), gwv1.Kind("Gateway"), gwv1.Namespace("ns")
	return gwv1.PolicyAncestorStatus{AncestorRef: gwv1.ParentReference{Group: &g, Kind: &k, Namespace: &ns, Name: gwv1.ObjectName(gw)},
		ControllerName: gwv1.GatewayController(controller), Conditions: conds}
}

// Our entry for the Gateway is replaced in place (keeping a condition's
// time while its status holds, dropping types no longer given), another
// controller's entry and another Gateway's stay as they are, and a nil
// entry removes ours.
func TestPolicyAncestorsKeepOthers(t *testing.T) {
	r := &GatewayReconciler{Providers: map[gwv1.GatewayController]providers.Provider{"cloudgate.dev/emulated": fakeProvider{}}}
	gw := types.NamespacedName{Namespace: "ns", Name: "gw"}
	then := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	foreign := ancestor("gw", "example.com/other", metav1.Condition{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", LastTransitionTime: then})
	otherGateway := ancestor("gw2", "cloudgate.dev/emulated", metav1.Condition{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", LastTransitionTime: then})
	p := &gwv1.BackendTLSPolicy{}
	p.Namespace, p.Name, p.Generation = "ns", "p", 2
	p.Status.Ancestors = []gwv1.PolicyAncestorStatus{foreign,
		ancestor("gw", "cloudgate.dev/emulated",
			metav1.Condition{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: 1, LastTransitionTime: then},
			metav1.Condition{Type: "cloudgate.dev/BackendCertificateVerified", Status: metav1.ConditionFalse, LastTransitionTime: then}),
		otherGateway}
	want := ancestor("gw", "cloudgate.dev/emulated",
		metav1.Condition{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: 2},
		metav1.Condition{Type: "ResolvedRefs", Status: metav1.ConditionTrue, Reason: "ResolvedRefs", ObservedGeneration: 2})
	next, changed := r.nextPolicyStatus(gw, p, &want)
	if !changed {
		t.Fatal("no change")
	}
	got := next.Status.Ancestors
	if len(got) != 3 || !equality.Semantic.DeepEqual(got[0], foreign) || !equality.Semantic.DeepEqual(got[2], otherGateway) {
		t.Fatalf("ancestors = %+v, want the foreign entry first and the other Gateway's last, untouched", got)
	}
	ours := got[1].Conditions
	if len(ours) != 2 || ours[0].Type != "Accepted" || ours[0].ObservedGeneration != 2 || !ours[0].LastTransitionTime.Equal(&then) || ours[1].Type != "ResolvedRefs" {
		t.Errorf("our conditions = %+v, want Accepted (its time kept, generation 2) and ResolvedRefs", ours)
	}
	if _, changed := r.nextPolicyStatus(gw, next, &want); changed {
		t.Error("writing the same entry again changed the status")
	}
	gone, changed := r.nextPolicyStatus(gw, next, nil)
	if !changed || len(gone.Status.Ancestors) != 2 || gone.Status.Ancestors[0].ControllerName != "example.com/other" || gone.Status.Ancestors[1].AncestorRef.Name != "gw2" {
		t.Errorf("removing ours: %+v", gone.Status.Ancestors)
	}
	if !r.hasAncestor(p, gw) || r.hasAncestor(gone, gw) {
		t.Error("hasAncestor does not follow our entry")
	}
}
