package reconciler

import (
	"context"
	"slices"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The route kinds Cloudgate reconciles. Everything in this package that
// handles routes goes through these functions, so that adding a kind means
// adding it here (and to mapping), not in every watch and status writer.

// routeKinds are empty objects of each route kind, for watches and indexes.
func routeKinds() []client.Object {
	return []client.Object{&gwv1.HTTPRoute{}, &gwv1.GRPCRoute{}, &gwv1.TLSRoute{}, &gwv1.TCPRoute{}, &gwv1.UDPRoute{}}
}

// routeLists are empty lists of each route kind.
func routeLists() []client.ObjectList {
	return []client.ObjectList{&gwv1.HTTPRouteList{}, &gwv1.GRPCRouteList{}, &gwv1.TLSRouteList{}, &gwv1.TCPRouteList{}, &gwv1.UDPRouteList{}}
}

// routeParts is what the reconciler needs of any route's parents: its
// parentRefs and its status.
type routeParts struct {
	parentRefs []gwv1.ParentReference
	status     *gwv1.RouteStatus
}

func partsOf(o client.Object) (routeParts, bool) {
	switch r := o.(type) {
	case *gwv1.HTTPRoute:
		return routeParts{r.Spec.ParentRefs, &r.Status.RouteStatus}, true
	case *gwv1.GRPCRoute:
		return routeParts{r.Spec.ParentRefs, &r.Status.RouteStatus}, true
	case *gwv1.TLSRoute:
		return routeParts{r.Spec.ParentRefs, &r.Status.RouteStatus}, true
	case *gwv1.TCPRoute:
		return routeParts{r.Spec.ParentRefs, &r.Status.RouteStatus}, true
	case *gwv1.UDPRoute:
		return routeParts{r.Spec.ParentRefs, &r.Status.RouteStatus}, true
	}
	return routeParts{}, false
}

// routeStatus is a route's status alone, for what runs on every route of
// a Gateway at each reconcile.
func routeStatus(o client.Object) (*gwv1.RouteStatus, bool) {
	p, ok := partsOf(o)
	return p.status, ok
}

// eachBackend calls fn with each backend of a route's rules: its
// backendRefs and its RequestMirror filters' backends (a mirror's Service
// is loaded, indexed and watched exactly like a backendRef's). It
// collects nothing, since loadSnapshot calls it for each of a Gateway's
// thousands of routes at each reconcile.
func eachBackend(o client.Object, fn func(gwv1.BackendObjectReference)) {
	switch r := o.(type) {
	case *gwv1.HTTPRoute:
		for _, rule := range r.Spec.Rules {
			eachMirror(rule.Filters, httpMirror, fn)
			for _, b := range rule.BackendRefs {
				fn(b.BackendObjectReference)
				eachMirror(b.Filters, httpMirror, fn)
			}
		}
	case *gwv1.GRPCRoute:
		for _, rule := range r.Spec.Rules {
			eachMirror(rule.Filters, grpcMirror, fn)
			for _, b := range rule.BackendRefs {
				fn(b.BackendObjectReference)
				eachMirror(b.Filters, grpcMirror, fn)
			}
		}
	case *gwv1.TLSRoute:
		for _, rule := range r.Spec.Rules {
			eachRef(rule.BackendRefs, fn)
		}
	case *gwv1.TCPRoute:
		for _, rule := range r.Spec.Rules {
			eachRef(rule.BackendRefs, fn)
		}
	case *gwv1.UDPRoute:
		for _, rule := range r.Spec.Rules {
			eachRef(rule.BackendRefs, fn)
		}
	}
}

func eachMirror[F any](filters []F, mirror func(*F) *gwv1.HTTPRequestMirrorFilter, fn func(gwv1.BackendObjectReference)) {
	for i := range filters {
		if m := mirror(&filters[i]); m != nil {
			fn(m.BackendRef)
		}
	}
}

func eachRef(refs []gwv1.BackendRef, fn func(gwv1.BackendObjectReference)) {
	for _, b := range refs {
		fn(b.BackendObjectReference)
	}
}

func httpMirror(f *gwv1.HTTPRouteFilter) *gwv1.HTTPRequestMirrorFilter { return f.RequestMirror }
func grpcMirror(f *gwv1.GRPCRouteFilter) *gwv1.HTTPRequestMirrorFilter { return f.RequestMirror }

// eachService calls fn with the namespace and name of each Service a
// route's rules refer to (repeats included).
func eachService(o client.Object, fn func(namespace, name string)) {
	eachBackend(o, func(b gwv1.BackendObjectReference) {
		if (b.Group != nil && *b.Group != "") || (b.Kind != nil && *b.Kind != "Service") {
			return
		}
		ns := o.GetNamespace()
		if b.Namespace != nil {
			ns = string(*b.Namespace)
		}
		fn(ns, string(b.Name))
	})
}

// appendItems appends the routes in a list filled by List.
func appendItems(out []client.Object, l client.ObjectList) []client.Object {
	switch l := l.(type) {
	case *gwv1.HTTPRouteList:
		return appendPointers(out, l.Items)
	case *gwv1.GRPCRouteList:
		return appendPointers(out, l.Items)
	case *gwv1.TLSRouteList:
		return appendPointers(out, l.Items)
	case *gwv1.TCPRouteList:
		return appendPointers(out, l.Items)
	case *gwv1.UDPRouteList:
		return appendPointers(out, l.Items)
	}
	return out
}

func appendPointers[T any, PT interface {
	*T
	client.Object
}](out []client.Object, items []T) []client.Object {
	out = slices.Grow(out, len(items))
	for i := range items {
		out = append(out, PT(&items[i]))
	}
	return out
}

// listRoutes lists the routes of every kind that match opts.
func listRoutes(ctx context.Context, c client.Reader, opts ...client.ListOption) ([]client.Object, error) {
	var out []client.Object
	for _, l := range routeLists() {
		if err := c.List(ctx, l, opts...); err != nil {
			return nil, err
		}
		out = appendItems(out, l)
	}
	return out, nil
}

// routeGateways returns the Gateways a route names in its parentRefs or its
// status.
func routeGateways(o client.Object) map[types.NamespacedName]bool {
	return routeParents(o, func(ref gwv1.ParentReference) bool {
		return (ref.Group == nil || *ref.Group == gwv1.GroupName) && (ref.Kind == nil || *ref.Kind == "Gateway")
	})
}

// routeParents returns the parents a route names in its parentRefs or its
// status that match keeps, by namespace and name (a ref's namespace
// defaults to the route's).
func routeParents(o client.Object, match func(gwv1.ParentReference) bool) map[types.NamespacedName]bool {
	out := map[types.NamespacedName]bool{}
	p, ok := partsOf(o)
	if !ok {
		return out
	}
	add := func(ref gwv1.ParentReference) {
		if !match(ref) {
			return
		}
		ns := o.GetNamespace()
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		out[types.NamespacedName{Namespace: ns, Name: string(ref.Name)}] = true
	}
	for _, ref := range p.parentRefs {
		add(ref)
	}
	for _, s := range p.status.Parents {
		add(s.ParentRef)
	}
	return out
}

// routeServiceKeys returns "namespace/name" of each Service a route's rules
// refer to.
func routeServiceKeys(o client.Object) []string {
	seen := map[string]bool{}
	var out []string
	eachService(o, func(ns, name string) {
		if k := ns + "/" + name; !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	})
	return out
}
