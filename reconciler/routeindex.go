package reconciler

import (
	"context"
	"fmt"
	"slices"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// routeGatewayIndex is the informer index of routes (of each kind) by
// "namespace/name" of each Gateway in their parentRefs, and of each Gateway
// in their status (so that a route that left a Gateway still gets its stale
// status removed).
const routeGatewayIndex = "cloudgate.routeGateway"

// routeIndex finds a Gateway's routes in the informers' own stores, without
// a client List: a List of 3,000 routes, even without deep copies, copies
// each route's struct into a new Items slice (1.7 MB per reconcile,
// and the GC's work after it) only for the reconcile to take their
// addresses. The stores' objects are the cache's: nothing in this package
// or in mapping changes them (status writes change copies).
type routeIndex struct {
	stores []toolscache.Indexer // one per route kind
}

// newRouteIndex adds routeGatewayIndex to the informer of each route kind;
// it returns nil when an informer does not let its store be read (a cache
// other than controller-runtime's informer cache), and the reconciler
// lists instead.
func newRouteIndex(ctx context.Context, informers cache.Informers) (*routeIndex, error) {
	var x routeIndex
	for _, kind := range routeKinds() {
		inf, err := informers.GetInformer(ctx, kind)
		if err != nil {
			return nil, err
		}
		store, ok := inf.(interface{ GetIndexer() toolscache.Indexer })
		if !ok {
			return nil, nil
		}
		if err := inf.AddIndexers(toolscache.Indexers{routeGatewayIndex: indexRouteGateways}); err != nil {
			return nil, fmt.Errorf("indexing %T by Gateway: %w", kind, err)
		}
		x.stores = append(x.stores, store.GetIndexer())
	}
	return &x, nil
}

func indexRouteGateways(obj any) ([]string, error) {
	o, ok := obj.(client.Object)
	if !ok {
		return nil, nil
	}
	return keys(routeGateways(o)), nil
}

// routes returns the routes of every kind that name gw.
func (x *routeIndex) routes(gw string) ([]client.Object, error) {
	var out []client.Object
	for _, s := range x.stores {
		items, err := s.ByIndex(routeGatewayIndex, gw)
		if err != nil {
			return nil, err
		}
		out = slices.Grow(out, len(items))
		for _, it := range items {
			if o, ok := it.(client.Object); ok {
				out = append(out, o)
			}
		}
	}
	return out, nil
}

// gatewayRoutes returns the routes of every kind that name gw in their
// parentRefs or status: the cache's own objects, not copies, since a
// Gateway with thousands of routes would copy them all on every reconcile.
// Without a routeIndex every route is listed and each looked at.
func (r *GatewayReconciler) gatewayRoutes(ctx context.Context, gw client.ObjectKey) ([]client.Object, error) {
	if r.routeIndex != nil {
		return r.routeIndex.routes(gw.String())
	}
	all, err := listRoutes(ctx, r.Client, client.UnsafeDisableDeepCopy)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(o client.Object) bool { return !routeGateways(o)[gw] }), nil
}
