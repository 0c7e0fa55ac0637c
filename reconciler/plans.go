package reconciler

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/providers"
)

// Event reasons of an applied plan.
const (
	reasonCreated = "LoadBalancerCreated"
	reasonUpdated = "LoadBalancerUpdated"
)

// reportApplied tells what a plan changed in the cloud, when it changed
// anything: the whole plan in the log at V(1), its summary in one Event on
// the Gateway, its steps in cloudgate_plan_steps_applied_total. A plan that changed nothing (every steady-state resync)
// reports nothing. It runs after errors too: what ran before one did
// happen.
func (r *GatewayReconciler) reportApplied(ctx context.Context, gw *gwv1.Gateway, provider string, applied providers.Plan) {
	if !applied.Changes() {
		return
	}
	countApplied(provider, applied)
	if l := log.FromContext(ctx).V(1); l.Enabled() { // a plan of thousands of rules prints long
		l.Info("Applied plan", "plan", applied.String())
	}
	r.event(gw, corev1.EventTypeNormal, appliedReason(applied), "Ensure", applied.Summary())
}

// appliedReason is LoadBalancerCreated for the plan that created the load
// balancer, LoadBalancerUpdated for every other.
func appliedReason(applied providers.Plan) string {
	if applied.Count(providers.ActionCreate, providers.KindLoadBalancer) > 0 {
		return reasonCreated
	}
	return reasonUpdated
}
