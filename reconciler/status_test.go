package reconciler

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

func TestBoundConditionsCutsLongMessagesOnARuneBoundary(t *testing.T) {
	long := strings.Repeat("é", maxMessageBytes) // two bytes each
	in := []metav1.Condition{{Type: "A", Message: "short"}, {Type: "B", Message: long}}
	out := boundConditions(in)
	if out[0].Message != "short" {
		t.Errorf("a short message changed: %q", out[0].Message)
	}
	if n := len(out[1].Message); n > maxMessageBytes {
		t.Errorf("message is %d bytes, over %d", n, maxMessageBytes)
	}
	if !utf8.ValidString(out[1].Message) || !strings.HasSuffix(out[1].Message, "…") {
		t.Errorf("cut message is not valid UTF-8 ending in an ellipsis: %q", out[1].Message[len(out[1].Message)-10:])
	}
	if in[1].Message != long {
		t.Error("boundConditions changed its input")
	}
}

func TestDropUnlessRemovesAStaleNegativeCondition(t *testing.T) {
	merged := []metav1.Condition{{Type: "Accepted"}, {Type: "OverlappingTLSConfig"}, {Type: "example.com/Other"}}
	got := dropUnless(merged, []metav1.Condition{{Type: "Accepted"}}, "OverlappingTLSConfig")
	if len(got) != 2 || got[0].Type != "Accepted" || got[1].Type != "example.com/Other" {
		t.Errorf("got %+v", got)
	}
}

// A route with more parents than the CRD allows keeps every other
// controller's entry and as many of ours as fit, so its status write is
// never refused whole.
func TestRouteParentsStayWithinTheCRDLimit(t *testing.T) {
	r := &GatewayReconciler{Providers: map[gwv1.GatewayController]providers.Provider{"cloudgate.dev/emulated": fakeProvider{}}}
	route := &gwv1.HTTPRoute{}
	route.Namespace, route.Name = "ns", "r"
	for i := range 5 {
		route.Status.Parents = append(route.Status.Parents, gwv1.RouteParentStatus{
			ParentRef: gwv1.ParentReference{Name: gwv1.ObjectName(fmt.Sprintf("theirs-%d", i))}, ControllerName: "example.com/other"})
	}
	var want []gwv1.RouteParentStatus
	for i := range 40 {
		section := gwv1.SectionName(fmt.Sprintf("l%d", i))
		want = append(want, gwv1.RouteParentStatus{ParentRef: gwv1.ParentReference{Name: "gw", SectionName: &section},
			ControllerName: "cloudgate.dev/emulated", Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted"}}})
	}
	next, changed := r.nextRouteStatus(parents{gateway: types.NamespacedName{Namespace: "ns", Name: "gw"}}, route, want)
	if !changed {
		t.Fatal("no change reported")
	}
	parents := next.(*gwv1.HTTPRoute).Status.Parents
	if len(parents) != maxRouteParents {
		t.Fatalf("%d parents, want %d", len(parents), maxRouteParents)
	}
	for i := range 5 {
		if parents[i].ControllerName != "example.com/other" {
			t.Errorf("another controller's parent %d was dropped: %+v", i, parents[i])
		}
	}
}

func TestObservationsSkipOnlyAnUnchangedModelBeforeItsResync(t *testing.T) {
	var o observations
	key := types.NamespacedName{Namespace: "ns", Name: "gw"}
	m := &lb.LoadBalancer{Owner: lb.Owner{Name: "gw"}}
	fp := fingerprint(m)
	now := time.Now()
	if _, _, ok := o.fresh(key, "uid", fp, now); ok {
		t.Fatal("fresh before any Ensure")
	}
	wait := o.record(key, "uid", fp, lb.Status{Ready: true}, time.Minute, now)
	if wait < 45*time.Second || wait > 75*time.Second {
		t.Errorf("resync in %s, want 1m ±25%%", wait)
	}
	if _, _, ok := o.fresh(key, "uid", fp, now.Add(time.Second)); !ok {
		t.Error("an unchanged model right after its Ensure should not call the cloud")
	}
	if _, _, ok := o.fresh(key, "uid", fingerprint(&lb.LoadBalancer{}), now.Add(time.Second)); ok {
		t.Error("a changed model must reach the cloud")
	}
	if _, _, ok := o.fresh(key, "other-uid", fp, now.Add(time.Second)); ok {
		t.Error("a recreated Gateway (new UID) must reach the cloud")
	}
	if _, _, ok := o.fresh(key, "uid", fp, now.Add(wait)); ok {
		t.Error("at the resync the cloud must be read again")
	}
	o.invalidate(key)
	if _, _, ok := o.fresh(key, "uid", fp, now.Add(time.Second)); ok {
		t.Error("after a failed call the cloud must be read again")
	}
}

// fakeProvider only marks a controller name as ours; nothing calls it.
type fakeProvider struct{ providers.Provider }

// A provider's notes (an AWS Gateway split across an ALB and an NLB) reach
// the Programmed message, ready or not, and only there.
func TestProgrammedCarriesProviderNotes(t *testing.T) {
	note := "listeners split across an ALB (http-80) and an NLB (tcp-5000)"
	res := mapping.Result{LoadBalancer: &lb.LoadBalancer{}}
	res.Gateway.Conditions = []metav1.Condition{{Type: string(gwv1.GatewayConditionProgrammed), Status: metav1.ConditionTrue, Reason: "Programmed"}}
	addr := []lb.Address{{Type: lb.AddressHostname, Value: "a.example"}, {Type: lb.AddressHostname, Value: "n.example"}}
	for _, c := range []struct {
		st     lb.Status
		status metav1.ConditionStatus
		msg    string
	}{
		{lb.Status{Ready: true, Addresses: addr, Notes: []string{note}}, metav1.ConditionTrue, "The load balancer is programmed; " + note},
		{lb.Status{Message: "provisioning", Notes: []string{note}}, metav1.ConditionFalse, "provisioning; " + note},
		{lb.Status{Ready: true, Addresses: addr}, metav1.ConditionTrue, "The load balancer is programmed"},
	} {
		got := programmedCondition(1, res, c.st, nil)
		if got.Status != c.status || got.Message != c.msg {
			t.Errorf("status %+v: Programmed = %s %q, want %s %q", c.st, got.Status, got.Message, c.status, c.msg)
		}
	}
}

// A requested address the cloud cannot give lowers Programmed with reason
// AddressNotUsable (the Gateway API's), another refusal with Invalid.
func TestProgrammedAddressNotUsable(t *testing.T) {
	res := mapping.Result{LoadBalancer: &lb.LoadBalancer{}}
	res.Gateway.Conditions = []metav1.Condition{{Type: string(gwv1.GatewayConditionProgrammed), Status: metav1.ConditionTrue, Reason: "Programmed"}}
	for _, c := range []struct {
		err    error
		reason gwv1.GatewayConditionReason
	}{
		{fmt.Errorf("cloud: %w", providers.ErrAddressNotUsable), gwv1.GatewayReasonAddressNotUsable},
		{&providers.InvalidError{Message: "outside the range", Cause: providers.ErrAddressNotUsable}, gwv1.GatewayReasonAddressNotUsable},
		{fmt.Errorf("cloud: %w", providers.ErrInvalid), gwv1.GatewayReasonInvalid},
	} {
		got := programmedCondition(1, res, lb.Status{}, c.err)
		if got.Status != metav1.ConditionFalse || got.Reason != string(c.reason) {
			t.Errorf("%v: Programmed = %s %s, want False %s", c.err, got.Status, got.Reason, c.reason)
		}
	}
}
