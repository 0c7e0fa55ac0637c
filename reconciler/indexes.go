package reconciler

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Field index names. Each answers "which objects depend on this one?" so that a
// watch event enqueues only the Gateways it affects.
const (
	// indexGatewayClass: Gateway by spec.gatewayClassName.
	indexGatewayClass = "cloudgate.gatewayClass"
	// indexGatewaySecret: Gateway by "namespace/name" of each certificateRef.
	indexGatewaySecret = "cloudgate.gatewaySecret"
	// indexGatewayParameters: Gateway by "namespace/name" of its parametersRef.
	indexGatewayParameters = "cloudgate.gatewayParameters"
	// indexGatewayUsesSelector: Gateway by "true" when a listener selects route
	// namespaces by label.
	indexGatewayUsesSelector = "cloudgate.gatewayUsesSelector"
	// indexClassParameters: GatewayClass by "namespace/name" of its parametersRef.
	indexClassParameters = "cloudgate.classParameters"
	// indexRouteGateway: HTTPRoute by "namespace/name" of each Gateway in its
	// parentRefs, and of each Gateway in its status (so that a route that left
	// a Gateway still gets its stale status removed).
	indexRouteGateway = "cloudgate.routeGateway"
	// indexRouteService: HTTPRoute by "namespace/name" of each Service backendRef.
	indexRouteService = "cloudgate.routeService"
)

func setupIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	indexes := []struct {
		obj   client.Object
		field string
		fn    client.IndexerFunc
	}{
		{&gwv1.Gateway{}, indexGatewayClass, func(o client.Object) []string {
			return []string{string(o.(*gwv1.Gateway).Spec.GatewayClassName)}
		}},
		{&gwv1.Gateway{}, indexGatewaySecret, gatewaySecretKeys},
		{&gwv1.Gateway{}, indexGatewayParameters, func(o client.Object) []string {
			gw := o.(*gwv1.Gateway)
			if ref := gatewayParametersRef(gw); ref != nil {
				return []string{gw.Namespace + "/" + ref.Name}
			}
			return nil
		}},
		{&gwv1.Gateway{}, indexGatewayUsesSelector, func(o client.Object) []string {
			for _, l := range o.(*gwv1.Gateway).Spec.Listeners {
				if ar := l.AllowedRoutes; ar != nil && ar.Namespaces != nil && ar.Namespaces.From != nil && *ar.Namespaces.From == gwv1.NamespacesFromSelector {
					return []string{"true"}
				}
			}
			return nil
		}},
		{&gwv1.GatewayClass{}, indexClassParameters, func(o client.Object) []string {
			ref := o.(*gwv1.GatewayClass).Spec.ParametersRef
			if ref == nil || ref.Namespace == nil {
				return nil
			}
			return []string{string(*ref.Namespace) + "/" + ref.Name}
		}},
		{&gwv1.HTTPRoute{}, indexRouteGateway, func(o client.Object) []string {
			return keys(routeGateways(o.(*gwv1.HTTPRoute)))
		}},
		{&gwv1.HTTPRoute{}, indexRouteService, routeServiceKeys},
	}
	for _, ix := range indexes {
		if err := indexer.IndexField(ctx, ix.obj, ix.field, ix.fn); err != nil {
			return err
		}
	}
	return nil
}

func gatewaySecretKeys(o client.Object) []string {
	gw := o.(*gwv1.Gateway)
	var out []string
	for _, l := range gw.Spec.Listeners {
		if l.TLS == nil {
			continue
		}
		for _, ref := range l.TLS.CertificateRefs {
			if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
				continue
			}
			ns := gw.Namespace
			if ref.Namespace != nil {
				ns = string(*ref.Namespace)
			}
			out = append(out, ns+"/"+string(ref.Name))
		}
	}
	return out
}

func gatewayParametersRef(gw *gwv1.Gateway) *gwv1.LocalParametersReference {
	if gw.Spec.Infrastructure == nil || gw.Spec.Infrastructure.ParametersRef == nil {
		return nil
	}
	// A reference of the wrong group or kind is indexed too: its Gateway must
	// still hear about it, to be told that it is invalid.
	return gw.Spec.Infrastructure.ParametersRef
}

// routeGateways returns the Gateways a route names in its parentRefs or its
// status.
func routeGateways(r *gwv1.HTTPRoute) map[types.NamespacedName]bool {
	out := map[types.NamespacedName]bool{}
	add := func(ref gwv1.ParentReference) {
		if ref.Group != nil && *ref.Group != gwv1.GroupName {
			return
		}
		if ref.Kind != nil && *ref.Kind != "Gateway" {
			return
		}
		ns := r.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		out[types.NamespacedName{Namespace: ns, Name: string(ref.Name)}] = true
	}
	for _, ref := range r.Spec.ParentRefs {
		add(ref)
	}
	for _, p := range r.Status.Parents {
		add(p.ParentRef)
	}
	return out
}

func routeServiceKeys(o client.Object) []string {
	r := o.(*gwv1.HTTPRoute)
	seen := map[string]bool{}
	for _, rule := range r.Spec.Rules {
		for _, b := range rule.BackendRefs {
			if (b.Group != nil && *b.Group != "") || (b.Kind != nil && *b.Kind != "Service") {
				continue
			}
			ns := r.Namespace
			if b.Namespace != nil {
				ns = string(*b.Namespace)
			}
			seen[ns+"/"+string(b.Name)] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	return out
}

func keys(m map[types.NamespacedName]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k.String())
	}
	return out
}

// serviceOfSlice names the Service an EndpointSlice belongs to.
func serviceOfSlice(o client.Object) (types.NamespacedName, bool) {
	name, ok := o.GetLabels()["kubernetes.io/service-name"]
	if !ok || name == "" {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: o.GetNamespace(), Name: name}, true
}
