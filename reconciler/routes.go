package reconciler

import (
	"context"
	"strconv"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping"
)

// writeRouteStatuses replaces, on each route, the parent statuses this
// controller wrote for this Gateway with mapping's, and keeps every other
// parent status (other Gateways', other controllers').
func (r *GatewayReconciler) writeRouteStatuses(ctx context.Context, gw *gwv1.Gateway, snap *mapping.Snapshot, res mapping.Result) error {
	controller := snap.GatewayClass.Spec.ControllerName
	gwKey := client.ObjectKeyFromObject(gw)
	now := metav1.Now()
	for _, route := range snap.HTTPRoutes {
		desired := res.Routes[client.ObjectKeyFromObject(route)]
		next := route.DeepCopy()
		next.Status.Parents = next.Status.Parents[:0]
		old := map[string][]metav1.Condition{}
		for _, p := range route.Status.Parents {
			if p.ControllerName == controller && parentIs(p.ParentRef, route.Namespace, gwKey) {
				old[parentKey(p.ParentRef)] = p.Conditions
				continue
			}
			next.Status.Parents = append(next.Status.Parents, p)
		}
		for _, p := range desired {
			p.Conditions = mergeConditions(old[parentKey(p.ParentRef)], p.Conditions, now)
			next.Status.Parents = append(next.Status.Parents, p)
		}
		if equality.Semantic.DeepEqual(route.Status, next.Status) {
			continue
		}
		log.FromContext(ctx).V(1).Info("Updating HTTPRoute status", "httpRoute", client.ObjectKeyFromObject(route))
		if err := r.Client.Status().Update(ctx, next); err != nil {
			return err
		}
	}
	return nil
}

func parentIs(ref gwv1.ParentReference, routeNamespace string, gw types.NamespacedName) bool {
	if ref.Group != nil && *ref.Group != gwv1.GroupName || ref.Kind != nil && *ref.Kind != "Gateway" {
		return false
	}
	ns := routeNamespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	return ns == gw.Namespace && string(ref.Name) == gw.Name
}

// parentKey identifies a parentRef within one route's status.
func parentKey(ref gwv1.ParentReference) string {
	k := string(ref.Name)
	if ref.Namespace != nil {
		k = string(*ref.Namespace) + "/" + k
	}
	if ref.SectionName != nil {
		k += "#" + string(*ref.SectionName)
	}
	if ref.Port != nil {
		k += ":" + strconv.Itoa(int(*ref.Port))
	}
	return k
}
