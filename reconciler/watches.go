package reconciler

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
)

// The functions here map a changed object to the Gateways it affects. They
// answer from the cache through field indexes; on a cache error they log and
// enqueue nothing, since the next resync will catch up.

type enqueuer struct {
	c client.Client
}

func requests(set map[types.NamespacedName]bool) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(set))
	for k := range set {
		out = append(out, reconcile.Request{NamespacedName: k})
	}
	return out
}

func (e enqueuer) gatewaysBy(ctx context.Context, field, value string, into map[types.NamespacedName]bool) {
	var list gwv1.GatewayList
	if err := e.c.List(ctx, &list, client.MatchingFields{field: value}); err != nil {
		log.FromContext(ctx).Error(err, "Listing Gateways by index", "index", field)
		return
	}
	for i := range list.Items {
		into[client.ObjectKeyFromObject(&list.Items[i])] = true
	}
}

func (e enqueuer) gatewaysOfRoutes(ctx context.Context, opts []client.ListOption, into map[types.NamespacedName]bool) {
	// Read only: the cache's objects need no copy (a Service behind
	// thousands of routes would copy them all on each EndpointSlice change).
	routes, err := listRoutes(ctx, e.c, append(opts, client.UnsafeDisableDeepCopy)...)
	if err != nil {
		log.FromContext(ctx).Error(err, "Listing routes")
		return
	}
	for _, r := range routes {
		e.routeParentGateways(ctx, r, into)
	}
}

func (e enqueuer) forRoute(ctx context.Context, o client.Object) []reconcile.Request {
	out := map[types.NamespacedName]bool{}
	e.routeParentGateways(ctx, o, out)
	return requests(out)
}

func (e enqueuer) forService(ctx context.Context, o client.Object) []reconcile.Request {
	out := map[types.NamespacedName]bool{}
	e.gatewaysOfRoutes(ctx, []client.ListOption{client.MatchingFields{indexRouteService: o.GetNamespace() + "/" + o.GetName()}}, out)
	return requests(out)
}

func (e enqueuer) forEndpointSlice(ctx context.Context, o client.Object) []reconcile.Request {
	svc, ok := serviceOfSlice(o)
	if !ok {
		return nil
	}
	out := map[types.NamespacedName]bool{}
	e.gatewaysOfRoutes(ctx, []client.ListOption{client.MatchingFields{indexRouteService: svc.String()}}, out)
	return requests(out)
}

func (e enqueuer) forSecret(ctx context.Context, o client.Object) []reconcile.Request {
	out := map[types.NamespacedName]bool{}
	e.gatewaysBy(ctx, indexGatewaySecret, o.GetNamespace()+"/"+o.GetName(), out)
	e.listenerSetGateways(ctx, indexListenerSetSecret, o.GetNamespace()+"/"+o.GetName(), out)
	e.gatewaysOfPolicies(ctx, indexPolicySecret, o.GetNamespace()+"/"+o.GetName(), out)
	return requests(out)
}

func (e enqueuer) forConfigMap(ctx context.Context, o client.Object) []reconcile.Request {
	out := map[types.NamespacedName]bool{}
	e.gatewaysBy(ctx, indexGatewayConfigMap, o.GetNamespace()+"/"+o.GetName(), out)
	e.gatewaysOfPolicies(ctx, indexPolicyConfigMap, o.GetNamespace()+"/"+o.GetName(), out)
	return requests(out)
}

// forReferenceGrant enqueues the Gateways whose references the grant may
// allow or, once deleted, forbid: Gateways in the namespaces it grants from
// (certificate refs), the parents of ListenerSets there (theirs), and the
// Gateways of routes there (backend refs).
func (e enqueuer) forReferenceGrant(ctx context.Context, o client.Object) []reconcile.Request {
	g, ok := o.(*gwv1beta1.ReferenceGrant)
	if !ok {
		return nil
	}
	out := map[types.NamespacedName]bool{}
	for _, from := range g.Spec.From {
		ns := string(from.Namespace)
		var gws gwv1.GatewayList
		if err := e.c.List(ctx, &gws, client.InNamespace(ns)); err == nil {
			for i := range gws.Items {
				out[client.ObjectKeyFromObject(&gws.Items[i])] = true
			}
		}
		var sets gwv1.ListenerSetList
		if err := e.c.List(ctx, &sets, client.InNamespace(ns)); err == nil {
			for i := range sets.Items {
				if gw, ok := listenerSetParent(&sets.Items[i]); ok {
					out[gw] = true
				}
			}
		}
		e.gatewaysOfRoutes(ctx, []client.ListOption{client.InNamespace(ns)}, out)
	}
	return requests(out)
}

// forNamespace enqueues Gateways that select route or ListenerSet
// namespaces by label, the parents of ListenerSets that select route
// namespaces by label, and the Gateways of routes in the namespace.
func (e enqueuer) forNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	out := map[types.NamespacedName]bool{}
	e.gatewaysBy(ctx, indexGatewayUsesSelector, "true", out)
	e.listenerSetGateways(ctx, indexListenerSetUsesSelector, "true", out)
	e.gatewaysOfRoutes(ctx, []client.ListOption{client.InNamespace(o.GetName())}, out)
	return requests(out)
}

func (e enqueuer) forParameters(ctx context.Context, o client.Object) []reconcile.Request {
	key := o.GetNamespace() + "/" + o.GetName()
	out := map[types.NamespacedName]bool{}
	e.gatewaysBy(ctx, indexGatewayParameters, key, out)
	var classes gwv1.GatewayClassList
	if err := e.c.List(ctx, &classes, client.MatchingFields{indexClassParameters: key}); err == nil {
		for _, gc := range classes.Items {
			e.gatewaysBy(ctx, indexGatewayClass, gc.Name, out)
		}
	}
	return requests(out)
}

func (e enqueuer) forClass(ctx context.Context, o client.Object) []reconcile.Request {
	out := map[types.NamespacedName]bool{}
	e.gatewaysBy(ctx, indexGatewayClass, o.GetName(), out)
	return requests(out)
}

// classesForParameters maps parameters to the GatewayClasses that use them.
func (e enqueuer) classesForParameters(ctx context.Context, o client.Object) []reconcile.Request {
	var classes gwv1.GatewayClassList
	if err := e.c.List(ctx, &classes, client.MatchingFields{indexClassParameters: o.GetNamespace() + "/" + o.GetName()}); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(classes.Items))
	for _, gc := range classes.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: gc.Name}})
	}
	return out
}

// classUse enqueues the GatewayClasses whose use a Gateway event changes: its
// class on creation and deletion, and both the old and the new class when
// spec.gatewayClassName changes.
type classUse struct{}

var _ handler.EventHandler = classUse{}

func classRequest(o client.Object) (reconcile.Request, bool) {
	gw, ok := o.(*gwv1.Gateway)
	if !ok || gw.Spec.GatewayClassName == "" {
		return reconcile.Request{}, false
	}
	return reconcile.Request{NamespacedName: types.NamespacedName{Name: string(gw.Spec.GatewayClassName)}}, true
}

func (classUse) Create(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if r, ok := classRequest(e.Object); ok {
		q.Add(r)
	}
}

func (classUse) Update(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	o, ok1 := classRequest(e.ObjectOld)
	n, ok2 := classRequest(e.ObjectNew)
	if ok1 && ok2 && o == n {
		return // the class's use did not change
	}
	if ok1 {
		q.Add(o)
	}
	if ok2 {
		q.Add(n)
	}
}

func (classUse) Delete(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if r, ok := classRequest(e.Object); ok {
		q.Add(r)
	}
}

func (classUse) Generic(context.Context, event.GenericEvent, workqueue.TypedRateLimitingInterface[reconcile.Request]) {
}
