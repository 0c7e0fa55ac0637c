package reconciler

import (
	"context"

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

// routeParts is what the reconciler needs of any route: its parentRefs, its
// status, and the backends of its rules (backendRefs and mirrors).
type routeParts struct {
	parentRefs []gwv1.ParentReference
	status     *gwv1.RouteStatus
	backends   []gwv1.BackendRef
}

func partsOf(o client.Object) (routeParts, bool) {
	switch r := o.(type) {
	case *gwv1.HTTPRoute:
		p := routeParts{parentRefs: r.Spec.ParentRefs, status: &r.Status.RouteStatus}
		for _, rule := range r.Spec.Rules {
			p.backends = appendMirrors(p.backends, rule.Filters, httpMirror)
			for _, b := range rule.BackendRefs {
				p.backends = append(p.backends, b.BackendRef)
				p.backends = appendMirrors(p.backends, b.Filters, httpMirror)
			}
		}
		return p, true
	case *gwv1.GRPCRoute:
		p := routeParts{parentRefs: r.Spec.ParentRefs, status: &r.Status.RouteStatus}
		for _, rule := range r.Spec.Rules {
			p.backends = appendMirrors(p.backends, rule.Filters, grpcMirror)
			for _, b := range rule.BackendRefs {
				p.backends = append(p.backends, b.BackendRef)
				p.backends = appendMirrors(p.backends, b.Filters, grpcMirror)
			}
		}
		return p, true
	case *gwv1.TLSRoute:
		return streamParts(r.Spec.ParentRefs, &r.Status.RouteStatus, r.Spec.Rules, func(x gwv1.TLSRouteRule) []gwv1.BackendRef { return x.BackendRefs }), true
	case *gwv1.TCPRoute:
		return streamParts(r.Spec.ParentRefs, &r.Status.RouteStatus, r.Spec.Rules, func(x gwv1.TCPRouteRule) []gwv1.BackendRef { return x.BackendRefs }), true
	case *gwv1.UDPRoute:
		return streamParts(r.Spec.ParentRefs, &r.Status.RouteStatus, r.Spec.Rules, func(x gwv1.UDPRouteRule) []gwv1.BackendRef { return x.BackendRefs }), true
	}
	return routeParts{}, false
}

// routeStatus is a route's status alone: partsOf without the backends,
// for what runs on every route of a Gateway at each reconcile.
func routeStatus(o client.Object) (*gwv1.RouteStatus, bool) {
	switch r := o.(type) {
	case *gwv1.HTTPRoute:
		return &r.Status.RouteStatus, true
	case *gwv1.GRPCRoute:
		return &r.Status.RouteStatus, true
	case *gwv1.TLSRoute:
		return &r.Status.RouteStatus, true
	case *gwv1.TCPRoute:
		return &r.Status.RouteStatus, true
	case *gwv1.UDPRoute:
		return &r.Status.RouteStatus, true
	}
	return nil, false
}

// appendMirrors adds the backends of RequestMirror filters: a mirror's Service
// is loaded, indexed and watched exactly like a backendRef's.
func appendMirrors[F any](out []gwv1.BackendRef, filters []F, mirror func(F) *gwv1.HTTPRequestMirrorFilter) []gwv1.BackendRef {
	for _, f := range filters {
		if m := mirror(f); m != nil {
			out = append(out, gwv1.BackendRef{BackendObjectReference: m.BackendRef})
		}
	}
	return out
}

func httpMirror(f gwv1.HTTPRouteFilter) *gwv1.HTTPRequestMirrorFilter { return f.RequestMirror }
func grpcMirror(f gwv1.GRPCRouteFilter) *gwv1.HTTPRequestMirrorFilter { return f.RequestMirror }

// streamParts collects the parts of a layer-4 route, whose rules hold plain
// BackendRefs.
func streamParts[R any](refs []gwv1.ParentReference, status *gwv1.RouteStatus, rules []R, backends func(R) []gwv1.BackendRef) routeParts {
	p := routeParts{parentRefs: refs, status: status}
	for _, rule := range rules {
		p.backends = append(p.backends, backends(rule)...)
	}
	return p
}

// listItems returns the routes in a list filled by List.
func listItems(l client.ObjectList) []client.Object {
	var out []client.Object
	switch l := l.(type) {
	case *gwv1.HTTPRouteList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *gwv1.GRPCRouteList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *gwv1.TLSRouteList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *gwv1.TCPRouteList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *gwv1.UDPRouteList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
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
		out = append(out, listItems(l)...)
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
	p, _ := partsOf(o)
	seen := map[string]bool{}
	var out []string
	for _, b := range p.backends {
		if (b.Group != nil && *b.Group != "") || (b.Kind != nil && *b.Kind != "Service") {
			continue
		}
		ns := o.GetNamespace()
		if b.Namespace != nil {
			ns = string(*b.Namespace)
		}
		if k := ns + "/" + string(b.Name); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
