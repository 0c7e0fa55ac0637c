package reconciler

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/cloudgate-dev/cloudgate/mapping"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// Snapshot reads through r, a reader of the API server without the
// controller's field indexes, the same snapshot of gw that the reconciler
// reads from its cache, with the provider's capabilities and the cluster
// name its model needs: `cloudgate describe` builds the model the
// controller builds. The routes the cloud refused (Snapshot.Refused), which
// the controller remembers, are found by the status it gave them.
func Snapshot(ctx context.Context, r client.Reader, clusterName string, p providers.Provider, gc *gwv1.GatewayClass, gw *gwv1.Gateway) (*mapping.Snapshot, error) {
	all, err := listRoutes(ctx, r)
	if err != nil {
		return nil, err
	}
	// What indexListenerSetGateway and routeGatewayIndex would find: the
	// ListenerSets naming gw, and the routes naming gw or one of them in
	// their parentRefs or their status.
	key := client.ObjectKeyFromObject(gw)
	var list gwv1.ListenerSetList
	if err := r.List(ctx, &list); err != nil {
		return nil, err
	}
	var sets []*gwv1.ListenerSet
	owned := map[types.NamespacedName]bool{}
	for i := range list.Items {
		if parent, ok := listenerSetParent(&list.Items[i]); ok && parent == key {
			sets = append(sets, &list.Items[i])
			owned[client.ObjectKeyFromObject(&list.Items[i])] = true
		}
	}
	var routes []client.Object
	for _, o := range all {
		named := routeGateways(o)[key]
		for ls := range routeListenerSets(o) {
			named = named || owned[ls]
		}
		if named {
			routes = append(routes, o)
		}
	}
	s, err := loadSnapshot(ctx, r, r, gc, gw, sets, routes)
	if err != nil {
		return nil, err
	}
	s.Refused = refusedByStatus(routes, gc, key)
	s.ClusterName = clusterName
	s.Capabilities = p.Capabilities()
	return s, nil
}

// refusedByStatus finds the routes the controller left out because the
// cloud refused them, by the status it gave them for the Gateway key:
// what the controller remembers (observations) and a reader without its
// memory does not.
func refusedByStatus(routes []client.Object, gc *gwv1.GatewayClass, key types.NamespacedName) map[mapping.RouteRef]string {
	var out map[mapping.RouteRef]string
	for _, o := range routes {
		p, ok := partsOf(o)
		if !ok {
			continue
		}
		for _, ps := range p.status.Parents {
			ns := o.GetNamespace()
			if ps.ParentRef.Namespace != nil {
				ns = string(*ps.ParentRef.Namespace)
			}
			if ps.ControllerName != gc.Spec.ControllerName || ns != key.Namespace || string(ps.ParentRef.Name) != key.Name {
				continue
			}
			accepted := findCondition(ps.Conditions, string(gwv1.RouteConditionAccepted))
			if msg, ok := mapping.RefusedByCloud(accepted, o.GetGeneration()); ok {
				if out == nil {
					out = map[mapping.RouteRef]string{}
				}
				out[mapping.RouteRef{Kind: routeKind(o), Namespace: o.GetNamespace(), Name: o.GetName()}] = msg
			}
		}
	}
	return out
}

// routeKind is a route's kind, as mapping.RouteRef names it.
func routeKind(o client.Object) string {
	switch o.(type) {
	case *gwv1.GRPCRoute:
		return "GRPCRoute"
	case *gwv1.TLSRoute:
		return "TLSRoute"
	case *gwv1.TCPRoute:
		return "TCPRoute"
	case *gwv1.UDPRoute:
		return "UDPRoute"
	}
	return "HTTPRoute"
}

// loadSnapshot reads from the cache everything mapping.Build needs for one
// Gateway whose ListenerSets and routes are given. It reads only what the
// Gateway, its ListenerSets and its routes can refer to.
//
// Secrets and ConfigMaps are the exception: they are read from the API
// server (uncached), only those the Gateway's listeners, client
// certificate validation and backend client certificate, and the
// BackendTLSPolicies' CA references, name, so that the controller never caches the
// contents of every Secret and ConfigMap in the cluster; it watches only
// their metadata.
func loadSnapshot(ctx context.Context, c client.Reader, uncached client.Reader, gc *gwv1.GatewayClass, gw *gwv1.Gateway, sets []*gwv1.ListenerSet, routes []client.Object) (*mapping.Snapshot, error) {
	s := &mapping.Snapshot{GatewayClass: gc, Gateway: gw, ListenerSets: sets}

	params, err := classParameters(ctx, c, gc)
	if err != nil {
		return nil, err
	}
	s.Parameters = append(s.Parameters, params...)
	if ref := gatewayParametersRef(gw); ref != nil {
		p, err := getParameters(ctx, c, types.NamespacedName{Namespace: gw.Namespace, Name: ref.Name})
		if err != nil {
			return nil, err
		}
		s.Parameters = append(s.Parameters, p...)
	}

	// Sized first: a Gateway's thousands of routes would grow each slice
	// a dozen times per reconcile.
	var httpRoutes int
	for _, r := range routes {
		if _, ok := r.(*gwv1.HTTPRoute); ok {
			httpRoutes++
		}
	}
	if httpRoutes > 0 {
		s.HTTPRoutes = make([]*gwv1.HTTPRoute, 0, httpRoutes)
	}
	backendNamespaces := map[string]bool{}
	// Most routes refer to Services of their own namespace, and a
	// Gateway's routes come namespace by namespace: the map is written
	// only when the namespace differs from the last one, not for each of
	// thousands of backends.
	last := ""
	addNamespace := func(ns, _ string) {
		if ns != last || len(backendNamespaces) == 0 {
			backendNamespaces[ns], last = true, ns
		}
	}
	for _, r := range routes {
		switch r := r.(type) {
		case *gwv1.HTTPRoute:
			s.HTTPRoutes = append(s.HTTPRoutes, r)
		case *gwv1.GRPCRoute:
			s.GRPCRoutes = append(s.GRPCRoutes, r)
		case *gwv1.TLSRoute:
			s.TLSRoutes = append(s.TLSRoutes, r)
		case *gwv1.TCPRoute:
			s.TCPRoutes = append(s.TCPRoutes, r)
		case *gwv1.UDPRoute:
			s.UDPRoutes = append(s.UDPRoutes, r)
		}
		addNamespace(r.GetNamespace(), "")
		eachService(r, addNamespace)
	}

	// Every List below is only read (mapping is pure), so it takes the
	// cache's objects rather than deep copies: a cluster's namespaces, a
	// backend namespace's Services and EndpointSlices, on every reconcile.
	var namespaces corev1.NamespaceList
	if err := c.List(ctx, &namespaces, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	for i := range namespaces.Items {
		s.Namespaces = append(s.Namespaces, &namespaces.Items[i])
	}

	for ns := range backendNamespaces {
		var svcs corev1.ServiceList
		if err := c.List(ctx, &svcs, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		for i := range svcs.Items {
			s.Services = append(s.Services, &svcs.Items[i])
		}
		var slices discoveryv1.EndpointSliceList
		if err := c.List(ctx, &slices, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		for i := range slices.Items {
			s.EndpointSlices = append(s.EndpointSlices, &slices.Items[i])
		}
	}

	policies, policyConfigMaps, policySecrets, err := loadPolicies(ctx, c, backendNamespaces)
	if err != nil {
		return nil, err
	}
	s.BackendTLSPolicies = policies
	secretKeys := gatewaySecretKeys(gw)
	for _, ls := range sets {
		secretKeys = append(secretKeys, listenerSetSecretKeys(ls)...)
	}
	for _, key := range dedupe(append(secretKeys, policySecrets...)) {
		ns, name, _ := cutKey(key)
		var sec corev1.Secret
		switch err := uncached.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &sec); {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, err
		default:
			s.Secrets = append(s.Secrets, &sec)
		}
	}
	for _, key := range dedupe(append(gatewayConfigMapKeys(gw), policyConfigMaps...)) {
		ns, name, _ := cutKey(key)
		var cm corev1.ConfigMap
		switch err := uncached.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &cm); {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, err
		default:
			s.ConfigMaps = append(s.ConfigMaps, &cm)
		}
	}

	var grants gwv1beta1.ReferenceGrantList
	if err := c.List(ctx, &grants, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	for i := range grants.Items {
		s.ReferenceGrants = append(s.ReferenceGrants, &grants.Items[i])
	}
	return s, nil
}

func cutKey(key string) (namespace, name string, ok bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:], true
		}
	}
	return "", key, false
}

// dedupe returns keys without repeats, in their first order.
func dedupe(keys []string) []string {
	seen := make(map[string]bool, len(keys))
	out := keys[:0:0]
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
