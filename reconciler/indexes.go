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
	// indexGatewaySecret: Gateway by "namespace/name" of each certificateRef
	// and of its spec.tls.backend client certificate.
	indexGatewaySecret = "cloudgate.gatewaySecret"
	// indexGatewayConfigMap: Gateway by "namespace/name" of each ConfigMap
	// its spec.tls.frontend caCertificateRefs name.
	indexGatewayConfigMap = "cloudgate.gatewayConfigMap"
	// indexGatewayParameters: Gateway by "namespace/name" of its parametersRef.
	indexGatewayParameters = "cloudgate.gatewayParameters"
	// indexGatewayUsesSelector: Gateway by "true" when a listener selects route
	// namespaces by label, or its allowedListeners ListenerSet namespaces.
	indexGatewayUsesSelector = "cloudgate.gatewayUsesSelector"
	// indexClassParameters: GatewayClass by "namespace/name" of its parametersRef.
	indexClassParameters = "cloudgate.classParameters"
	// A route's Gateways are indexed in the informers themselves
	// (routeGatewayIndex, routeindex.go).
	// indexRouteService: a route (of each kind) by "namespace/name" of each Service backendRef.
	indexRouteService = "cloudgate.routeService"
)

// fieldIndex is one index: on objects like obj, field maps to fn's values.
type fieldIndex struct {
	obj   client.Object
	field string
	fn    client.IndexerFunc
}

func setupIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	indexes := []fieldIndex{
		{&gwv1.Gateway{}, indexGatewayClass, func(o client.Object) []string {
			return []string{string(o.(*gwv1.Gateway).Spec.GatewayClassName)}
		}},
		{&gwv1.Gateway{}, indexGatewaySecret, gatewaySecretKeys},
		{&gwv1.Gateway{}, indexGatewayConfigMap, gatewayConfigMapKeys},
		{&gwv1.Gateway{}, indexGatewayParameters, func(o client.Object) []string {
			gw := o.(*gwv1.Gateway)
			if ref := gatewayParametersRef(gw); ref != nil {
				return []string{gw.Namespace + "/" + ref.Name}
			}
			return nil
		}},
		{&gwv1.Gateway{}, indexGatewayUsesSelector, func(o client.Object) []string {
			gw := o.(*gwv1.Gateway)
			if al := gw.Spec.AllowedListeners; al != nil && al.Namespaces != nil && al.Namespaces.From != nil && *al.Namespaces.From == gwv1.NamespacesFromSelector {
				return []string{"true"}
			}
			for _, l := range gw.Spec.Listeners {
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
	}
	indexes = append(indexes, policyIndexes()...)
	for _, kind := range routeKinds() {
		indexes = append(indexes, fieldIndex{kind, indexRouteService, routeServiceKeys})
	}
	indexes = append(indexes, listenerSetIndexes()...)
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
	if k, ok := gatewayBackendSecretKey(gw); ok {
		out = append(out, k)
	}
	return out
}

// gatewayConfigMapKeys names the ConfigMaps the Gateway's client
// certificate validation refers to, default and per port, each once.
func gatewayConfigMapKeys(o client.Object) []string {
	gw := o.(*gwv1.Gateway)
	if gw.Spec.TLS == nil || gw.Spec.TLS.Frontend == nil {
		return nil
	}
	f := gw.Spec.TLS.Frontend
	validations := []*gwv1.FrontendTLSValidation{f.Default.Validation}
	for _, pp := range f.PerPort {
		validations = append(validations, pp.TLS.Validation)
	}
	var out []string
	seen := map[string]bool{}
	for _, v := range validations {
		if v == nil {
			continue
		}
		for _, ref := range v.CACertificateRefs {
			if ref.Group != "" || ref.Kind != "ConfigMap" {
				continue
			}
			ns := gw.Namespace
			if ref.Namespace != nil {
				ns = string(*ref.Namespace)
			}
			if k := ns + "/" + string(ref.Name); !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
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
