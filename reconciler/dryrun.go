package reconciler

import (
	"context"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// A dry run. With DryRunAnnotation "true" on a Gateway, a reconcile maps
// the Gateway as always and asks the provider for its Plan (which reads
// the cloud and never writes), instead of Ensure. It reports the plan in
// the condition ConditionDryRun (its summary and steps), in a Normal
// Event DryRun (the summary, when it differs from the one the condition
// held: a resync that finds the same plan records nothing) and, whole,
// in the log at V(1). The cloud is left as it is:
//
//   - Programmed is False (Pending) while the plan has changes: the
//     Gateway as it is now is not programmed. A load balancer that exists
//     keeps serving what was applied before, at the addresses in status.
//   - Programmed stays True when it was True and the plan has no changes:
//     the cloud already matches the Gateway.
//   - A Gateway that is not accepted keeps mapping's Programmed=False; its
//     load balancer, which a normal reconcile would delete, is kept.
//
// Removing the annotation (or setting "false") applies the plan at the next
// reconcile, which the annotation's change triggers. Deleting a Gateway in
// a dry run still deletes its load balancer: the finalizer is held in a
// dry run too, and deletion does not look at the annotation, so nothing
// leaks. Any other value is refused with reason InvalidValue and read as a
// dry run, since whoever set it meant to hold changes back.
const (
	// DryRunAnnotation on a Gateway, "true", computes and reports the plan
	// without applying it.
	DryRunAnnotation = "cloudgate.dev/dry-run"
	// ConditionDryRun is the Gateway condition that holds the pending plan
	// during a dry run; it is removed when the dry run ends.
	ConditionDryRun = "cloudgate.dev/DryRun"
	// ReasonPlanComputed: the condition's message is the plan not applied.
	ReasonPlanComputed = "PlanComputed"
	// ReasonInvalidDryRun: the annotation is neither "true" nor "false".
	ReasonInvalidDryRun = "InvalidValue"
	// ReasonPlanFailed: the cloud could not be read to plan.
	ReasonPlanFailed = "PlanFailed"
	// ReasonDryRun is the Programmed reason and the Event reason of a
	// dry run.
	ReasonDryRun = "DryRun"
)

// maxDryRunMessage keeps the plan within the API server's 32768-byte
// limit on a condition message.
const maxDryRunMessage = 32768

// maxEventNote is events.k8s.io's limit on a note.
const maxEventNote = 1024

// dryRunOf says whether gw asks for a dry run, and the value when it is
// not one the annotation takes.
func dryRunOf(gw *gwv1.Gateway) (dry bool, invalid string) {
	v, ok := gw.Annotations[DryRunAnnotation]
	if !ok {
		return false, ""
	}
	switch v {
	case "true":
		return true, ""
	case "false":
		return false, ""
	}
	return true, v
}

// dryRunChanged passes Gateway updates that change the annotation, which
// changes no generation.
var dryRunChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		if e.ObjectOld == nil || e.ObjectNew == nil {
			return false
		}
		o, oOK := e.ObjectOld.GetAnnotations()[DryRunAnnotation]
		n, nOK := e.ObjectNew.GetAnnotations()[DryRunAnnotation]
		return o != n || oOK != nOK
	},
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
}

// dryRun is a dry run's verdict on the Gateway's status.
type dryRun struct {
	condition  metav1.Condition
	programmed *metav1.Condition
}

// plan maps the Gateway and plans it without applying anything.
func (r *GatewayReconciler) plan(ctx context.Context, gw *gwv1.Gateway, p providers.Provider, snap *mapping.Snapshot, invalid string) realized {
	key := client.ObjectKeyFromObject(gw)
	snap.Refused = r.observed.refusedRoutes(key, string(gw.UID), routeGenerations(snap))
	res := mapping.Build(snap)
	out := realized{res: res, resync: r.resyncPeriod(p)}
	// The cloud is not touched: status keeps the addresses it has.
	for _, a := range gw.Status.Addresses {
		t := lb.AddressIP
		if a.Type != nil {
			t = lb.AddressType(*a.Type)
		}
		out.status.Addresses = append(out.status.Addresses, lb.Address{Type: t, Value: a.Value})
	}
	cond := metav1.Condition{Type: ConditionDryRun, Status: metav1.ConditionTrue, Reason: ReasonPlanComputed, ObservedGeneration: gw.Generation}
	prefix := "Not applied (" + DryRunAnnotation + "): "
	if invalid != "" {
		cond.Reason = ReasonInvalidDryRun
		prefix = DryRunAnnotation + " must be \"true\" or \"false\", not " + strconv.Quote(invalid) + "; nothing is applied until it is. "
	}
	var plan providers.Plan
	var note string // the Event's
	switch {
	case res.LoadBalancer == nil:
		cond.Message = prefix + "the Gateway is not accepted; its load balancer, if any, would be deleted"
		note = cond.Message
	default:
		plan, out.cloud = p.Plan(ctx, res.LoadBalancer)
		if out.cloud != nil {
			log.FromContext(ctx).Info("Planning failed; will retry with backoff", "error", out.cloud.Error())
			r.event(gw, corev1.EventTypeWarning, "CloudError", "Plan", "The cloud API failed; retrying with backoff: "+out.cloud.Error())
			cond.Status, cond.Reason = metav1.ConditionFalse, ReasonPlanFailed
			cond.Message = prefix + "the cloud API failed while planning; retrying with backoff"
			break
		}
		cond.Message = prefix + plan.Pending()
		note = prefix + plan.PendingSummary()
	}
	cond.Message = bounded(cond.Message, maxDryRunMessage)
	dr := &dryRun{condition: cond}
	if res.LoadBalancer != nil && out.cloud == nil {
		pc := metav1.Condition{Type: string(gwv1.GatewayConditionProgrammed), Status: metav1.ConditionFalse,
			Reason: string(gwv1.GatewayReasonPending), ObservedGeneration: gw.Generation,
			Message: "Dry run: the plan was computed, not applied"}
		if plan.Count(providers.ActionCreate, providers.KindLoadBalancer) == 0 {
			pc.Message += "; the load balancer keeps serving the configuration applied before"
		}
		if old := findCondition(gw.Status.Conditions, pc.Type); !plan.Changes() && old != nil && old.Status == metav1.ConditionTrue {
			pc.Status, pc.Reason = metav1.ConditionTrue, string(gwv1.GatewayReasonProgrammed)
			pc.Message = "The load balancer matches the Gateway (dry run: nothing to apply)"
			out.status.Ready = true
		}
		dr.programmed = &pc
	}
	out.dryRun = dr
	r.reportDryRun(ctx, gw, plan, cond, note)
	return out
}

// reportDryRun records the dry run's Event when its condition changes
// (a new plan, or a new value of the annotation), so that a resync that
// finds the same plan records nothing.
func (r *GatewayReconciler) reportDryRun(ctx context.Context, gw *gwv1.Gateway, plan providers.Plan, cond metav1.Condition, note string) {
	if l := log.FromContext(ctx).V(1); l.Enabled() {
		l.Info("Dry run: plan not applied", "plan", plan.Pending())
	}
	if old := findCondition(gw.Status.Conditions, ConditionDryRun); old != nil && old.Reason == cond.Reason && old.Message == cond.Message {
		return
	}
	switch cond.Reason {
	case ReasonPlanComputed:
		r.event(gw, corev1.EventTypeNormal, ReasonDryRun, "Plan", bounded(note, maxEventNote))
	case ReasonInvalidDryRun:
		r.event(gw, corev1.EventTypeWarning, ReasonInvalidDryRun, "Plan", bounded(note, maxEventNote))
	}
}

// bounded is msg cut to limit bytes (on a UTF-8 boundary, with an
// ellipsis) when it is longer.
func bounded(msg string, limit int) string {
	if len(msg) <= limit {
		return msg
	}
	return cutMessage(msg, limit)
}
