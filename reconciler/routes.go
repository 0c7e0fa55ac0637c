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
)

// writeRouteStatuses replaces, on each route, the parent statuses our
// controllers wrote for this Gateway with desired's, and keeps every other
// parent status (other Gateways', other controllers'). With desired nil it
// removes ours, as when the Gateway goes away.
func (r *GatewayReconciler) writeRouteStatuses(ctx context.Context, gwKey types.NamespacedName, routes []client.Object, desired map[types.NamespacedName][]gwv1.RouteParentStatus) error {
	now := metav1.Now()
	for _, route := range routes {
		current, ok := partsOf(route)
		if !ok {
			continue
		}
		want := desired[client.ObjectKeyFromObject(route)]
		next := route.DeepCopyObject().(client.Object)
		nextParts, _ := partsOf(next)
		parents := make([]gwv1.RouteParentStatus, 0, len(current.status.Parents)+len(want))
		old := map[string][]metav1.Condition{}
		for _, p := range current.status.Parents {
			if r.Providers[p.ControllerName] != nil && parentIs(p.ParentRef, route.GetNamespace(), gwKey) {
				old[parentKey(p.ParentRef)] = p.Conditions
				continue
			}
			parents = append(parents, p)
		}
		for _, p := range want {
			p.Conditions = mergeConditions(old[parentKey(p.ParentRef)], p.Conditions, now)
			parents = append(parents, p)
		}
		nextParts.status.Parents = parents
		if equality.Semantic.DeepEqual(current.status, nextParts.status) {
			continue
		}
		log.FromContext(ctx).V(1).Info("Updating route status", "route", client.ObjectKeyFromObject(route))
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
