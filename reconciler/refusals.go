package reconciler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// A refused configuration is told twice: in a condition (static text, what
// the object is now) and in a Warning Event (when it became so), named by the
// condition's reason. Events go out only when a status write turns a
// condition into a refusal, or changes its reason or message, so a refusal
// that persists across reconciles, resyncs and restarts is told once.

// maxEventReason is the API server's limit on an Event's reason (its note's
// is maxEventNote): a longer one is refused, and the Event lost.
const maxEventReason = 128

// actionValidate is the Event action of refusals: what the controller did
// when it found the fault.
const actionValidate = "Validate"

// refuses reports whether c says that the configuration was refused: not
// accepted, references not resolved, conflicting, partly invalid.
// Programmed=False is left out: it follows from these or from the cloud,
// whose answers have Events of their own.
func refuses(c metav1.Condition) bool {
	switch c.Type {
	case string(gwv1.GatewayConditionAccepted), string(gwv1.RouteConditionResolvedRefs):
		return c.Status == metav1.ConditionFalse
	case string(gwv1.ListenerConditionConflicted), string(gwv1.RouteConditionPartiallyInvalid),
		string(gwv1.ListenerConditionOverlappingTLSConfig):
		return c.Status == metav1.ConditionTrue
	}
	return false
}

// newRefusals returns the refusals of next that old did not have, with the
// same status, reason and message.
func newRefusals(old, next []metav1.Condition) []metav1.Condition {
	var out []metav1.Condition
	for _, c := range next {
		if !refuses(c) {
			continue
		}
		if o := findCondition(old, c.Type); o != nil && o.Status == c.Status && o.Reason == c.Reason && o.Message == c.Message {
			continue
		}
		out = append(out, c)
	}
	return out
}

// reportGatewayRefusals records an Event for each refusal that a status
// write put on the Gateway or its listeners.
func (r *GatewayReconciler) reportGatewayRefusals(old, next *gwv1.Gateway) {
	for _, c := range newRefusals(old.Status.Conditions, next.Status.Conditions) {
		r.warn(next, nil, c, "Gateway")
	}
	before := map[gwv1.SectionName][]metav1.Condition{}
	for _, l := range old.Status.Listeners {
		before[l.Name] = l.Conditions
	}
	for _, l := range next.Status.Listeners {
		for _, c := range newRefusals(before[l.Name], l.Conditions) {
			r.warn(next, nil, c, fmt.Sprintf("Listener %q", l.Name))
		}
	}
}

// reportRouteRefusals records an Event on the route for each refusal that a
// status write put in its status for the parents owner answers for.
func (r *GatewayReconciler) reportRouteRefusals(owner parents, old, next client.Object) {
	was, ok1 := partsOf(old)
	now, ok2 := partsOf(next)
	if !ok1 || !ok2 {
		return
	}
	before := map[string][]metav1.Condition{}
	for _, p := range was.status.Parents {
		before[parentKey(p.ParentRef)] = p.Conditions
	}
	for _, p := range now.status.Parents {
		if r.Providers[p.ControllerName] == nil || !owner.has(p.ParentRef, next.GetNamespace()) {
			continue
		}
		parent := owner.describe(p.ParentRef, next.GetNamespace())
		for _, c := range newRefusals(before[parentKey(p.ParentRef)], p.Conditions) {
			r.warn(next, nil, c, "Parent "+parent)
		}
	}
}

// warn records refusal c on obj: the condition's reason is the Event's, the
// note says which part of the object it concerns.
func (r *GatewayReconciler) warn(obj, related runtime.Object, c metav1.Condition, part string) {
	if r.Events == nil {
		return
	}
	note := fmt.Sprintf("%s: %s=%s: %s", part, c.Type, c.Status, c.Message)
	r.Events.Eventf(obj, related, corev1.EventTypeWarning, bounded(c.Reason, maxEventReason), actionValidate, "%s", bounded(note, maxEventNote))
}
