package mapping

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// Build translates one Gateway and everything it depends on into the desired
// load balancer and the status of the Gateway and of every route (HTTP,
// GRPC, TLS, TCP, UDP) that names it. It is pure and total: any input, however
// broken, gives a Result.
func Build(s *Snapshot) Result {
	return build(s, nil)
}

// build is Build, through c when it is not nil.
func build(s *Snapshot, c *Cache) Result {
	res := Result{
		Routes:     map[types.NamespacedName][]gwv1.RouteParentStatus{},
		GRPCRoutes: map[types.NamespacedName][]gwv1.RouteParentStatus{},
		TCPRoutes:  map[types.NamespacedName][]gwv1.RouteParentStatus{},
		UDPRoutes:  map[types.NamespacedName][]gwv1.RouteParentStatus{},
		TLSRoutes:  map[types.NamespacedName][]gwv1.RouteParentStatus{},
		Sources:    map[string][]RouteRef{},

		ListenerSets:       map[types.NamespacedName]gwv1.ListenerSetStatus{},
		BackendTLSPolicies: map[types.NamespacedName]gwv1.PolicyAncestorStatus{},
	}
	// A Gateway read from the API server always has a namespace and a
	// name; without them there is no owner to build for.
	if s == nil || s.Gateway == nil || s.Gateway.Namespace == "" || s.Gateway.Name == "" {
		return res
	}
	params, gwProblem, b := gatewayBuilder(s, c)
	if c != nil {
		defer c.end()
	}

	res.Parameters = params.effective
	b.backendClientCond = b.resolveBackendClientCert()
	listeners := b.evaluateListeners()
	routes := b.evaluateRoutes(listeners, gwProblem.ok())
	res.BackendTLSPolicies = b.policyStatuses()
	for _, r := range routes {
		if len(r.statuses) == 0 {
			continue
		}
		switch r.kind {
		case kindGRPCRoute:
			res.GRPCRoutes[r.key] = r.statuses
		case kindTCPRoute:
			res.TCPRoutes[r.key] = r.statuses
		case kindUDPRoute:
			res.UDPRoutes[r.key] = r.statuses
		case kindTLSRoute:
			res.TLSRoutes[r.key] = r.statuses
		default:
			res.Routes[r.key] = r.statuses
		}
	}

	programmable := gwProblem.ok() && slices.ContainsFunc(listeners, (*listenerState).programmable)
	var accepted bool
	res.Gateway, accepted = b.gatewayStatus(listeners, gwProblem, programmable)
	var attachedSets int32
	res.ListenerSets, attachedSets = b.listenerSetStatuses(listeners, accepted)
	// Only Gateways that take part in ListenerSets report the count, so
	// that the status of every other Gateway stays as it was.
	if b.gw.Spec.AllowedListeners != nil || len(b.sets) > 0 {
		res.Gateway.AttachedListenerSets = &attachedSets
	}
	if !accepted {
		// Nothing should exist in the cloud for a Gateway that is not
		// accepted.
		return res
	}
	var model *lb.LoadBalancer
	var sources map[string][]RouteRef
	if b.fitted != nil {
		model, sources = b.fitted.lb, b.fitted.sources
	} else {
		model, sources = b.model(listeners, routes)
	}
	model.Options = params.opts
	model.Tags = params.tags
	withHealthCheck(model.TargetGroups, params.healthCheck)
	res.LoadBalancer = model
	res.Sources = sources
	return res
}

// builder holds a Snapshot indexed for lookups. It lives for one Build.
type builder struct {
	gw         *gwv1.Gateway
	gen        int64
	caps       lb.Capabilities
	cluster    string
	class      *gwv1.GatewayClass
	controller gwv1.GatewayController
	// routes are the routes of every kind, in compareRoutes order; twice
	// says some route is there twice (two objects with one kind and name,
	// which an API server never holds), whose rules would share names.
	routes []*route
	twice  bool
	// fitted is the model fitRules made last, when the routes it settled
	// are those the Build goes on with: the model Build returns, made once.
	fitted *fittedModel

	params     map[types.NamespacedName]*v1alpha1.LoadBalancerParameters
	namespaces map[string]*corev1.Namespace
	services   map[types.NamespacedName]*corev1.Service
	// slices are EndpointSlices by the Service they belong to.
	slices  map[types.NamespacedName][]*discoveryv1.EndpointSlice
	secrets map[types.NamespacedName]*corev1.Secret
	// configMaps hold CA bundles for client certificate validation.
	configMaps map[types.NamespacedName]*corev1.ConfigMap
	// grants are ReferenceGrants by their (target) namespace.
	grants map[string][]*gwv1beta1.ReferenceGrant
	// refused is Snapshot.Refused.
	refused map[RouteRef]string
	// certRefs are the parameters' certificate references
	// (gatewayParams.certRefs).
	certRefs []paramCertRefs
	// sets are the ListenerSets naming the Gateway, in precedence order,
	// and setsByKey the same by namespace/name (listenersets.go).
	sets      []*listenerSet
	setsByKey map[types.NamespacedName]*listenerSet
	// policies are the BackendTLSPolicies by the Service they target,
	// policyUses those this Gateway's backends use (backendtls.go).
	policies   map[types.NamespacedName][]policyTarget
	policyUses map[types.NamespacedName]*policyUse
	// backendClientCert is the Gateway's spec.tls.backend client
	// certificate when it resolves; backendClientCond the Gateway's
	// ResolvedRefs condition about it (nil when it names none).
	backendClientCert *lb.Certificate
	backendClientCond *metav1.Condition

	// cache is the Cache of this Build (nil without one), rec the lookups
	// of the route whose rules are converting (nil when not recording).
	cache *Cache
	// states and entries hand out the Build's routeStates and
	// precedence entries, thousands of each, in chunks.
	states  arena[routeState]
	entries arena[entry]
	rec     *reads
}

// gatewayBuilder makes the builder for s: the Gateway's parameters decide
// the capabilities (quotas) the routes are converted with, and so which of
// c's conversions still hold.
func gatewayBuilder(s *Snapshot, c *Cache) (gatewayParams, problem, *builder) {
	b := newBuilder(s)
	params, gwProblem := b.gatewayParams()
	b.certRefs = params.certRefs
	if a := params.opts.AWS; a != nil {
		// An account with raised quotas takes more rules and certificates:
		// the limits checked from here on are the raised ones.
		b.caps = b.caps.WithQuotas(a.Quotas)
	}
	if c != nil {
		c.begin(b.caps)
		b.cache = c
	}
	b.addRoutes(s, c)
	return params, gwProblem, b
}

func newBuilder(s *Snapshot) *builder {
	b := &builder{
		gw:         s.Gateway,
		gen:        s.Gateway.Generation,
		caps:       s.Capabilities,
		cluster:    s.ClusterName,
		class:      s.GatewayClass,
		params:     map[types.NamespacedName]*v1alpha1.LoadBalancerParameters{},
		namespaces: map[string]*corev1.Namespace{},
		services:   map[types.NamespacedName]*corev1.Service{},
		slices:     map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
		secrets:    map[types.NamespacedName]*corev1.Secret{},
		configMaps: map[types.NamespacedName]*corev1.ConfigMap{},
		grants:     map[string][]*gwv1beta1.ReferenceGrant{},
		refused:    s.Refused,
		policies:   map[types.NamespacedName][]policyTarget{},
		policyUses: map[types.NamespacedName]*policyUse{},
	}
	b.indexPolicies(s.BackendTLSPolicies)
	if s.GatewayClass != nil {
		b.controller = s.GatewayClass.Spec.ControllerName
	}
	b.params = indexParams(s.Parameters)
	for _, n := range s.Namespaces {
		if n != nil {
			b.namespaces[n.Name] = n
		}
	}
	for _, o := range s.Services {
		if o != nil {
			b.services[key(o.Namespace, o.Name)] = o
		}
	}
	for _, o := range s.EndpointSlices {
		if o == nil {
			continue
		}
		svc, ok := o.Labels[discoveryv1.LabelServiceName]
		if !ok {
			continue
		}
		k := key(o.Namespace, svc)
		b.slices[k] = append(b.slices[k], o)
	}
	for _, o := range s.Secrets {
		if o != nil {
			b.secrets[key(o.Namespace, o.Name)] = o
		}
	}
	for _, o := range s.ConfigMaps {
		if o != nil {
			b.configMaps[key(o.Namespace, o.Name)] = o
		}
	}
	for _, o := range s.ReferenceGrants {
		if o != nil {
			b.grants[o.Namespace] = append(b.grants[o.Namespace], o)
		}
	}
	b.indexListenerSets(s.ListenerSets)
	return b
}

// addRoutes converts the snapshot's routes to the kind-neutral type, or
// takes those c holds for the same objects.
func (b *builder) addRoutes(s *Snapshot, c *Cache) {
	n := len(s.HTTPRoutes) + len(s.GRPCRoutes) + len(s.TCPRoutes) + len(s.UDPRoutes) + len(s.TLSRoutes)
	b.routes = make([]*route, 0, n)
	b.routes = appendRoutes(b.routes, c, kindHTTPRoute, s.HTTPRoutes, httpRoute)
	b.routes = appendRoutes(b.routes, c, kindGRPCRoute, s.GRPCRoutes, grpcRoute)
	b.routes = appendRoutes(b.routes, c, kindTCPRoute, s.TCPRoutes, tcpRoute)
	b.routes = appendRoutes(b.routes, c, kindUDPRoute, s.UDPRoutes, udpRoute)
	b.routes = appendRoutes(b.routes, c, kindTLSRoute, s.TLSRoutes, tlsRoute)
	hinted := 0
	if c != nil {
		b.routes, hinted = byHint(b.routes, func(r *route) int { return r.lastOrder })
	}
	b.routes = sortHinted(b.routes, hinted, compareRoutes)
	for i, r := range b.routes {
		r.order, r.lastOrder = i, i+1
		if i > 0 && compareRoutes(b.routes[i-1], r) == 0 {
			b.twice = true
		}
	}
}

func key(namespace, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: namespace, Name: name}
}

// gatewayStatus sets the Gateway's Accepted and Programmed conditions and
// the listener statuses, and says whether the Gateway is accepted.
// Addresses are the provider's to fill.
func (b *builder) gatewayStatus(listeners []*listenerState, gwProblem problem, programmable bool) (gwv1.GatewayStatus, bool) {
	var st gwv1.GatewayStatus
	accepted := condition(string(gwv1.GatewayConditionAccepted), string(gwv1.GatewayReasonAccepted), true,
		"Gateway is accepted", b.gen)
	// The Gateway is judged by its own listeners; a ListenerSet's
	// listeners are reported on the ListenerSet.
	own := ownListeners(listeners)
	var invalid []string
	for _, l := range own {
		if !l.valid() {
			invalid = append(invalid, string(l.spec.Name))
		}
	}
	switch {
	case !gwProblem.ok():
		accepted = condition(string(gwv1.GatewayConditionAccepted), gwProblem.reason, false, gwProblem.message, b.gen)
	case len(invalid) == len(own):
		accepted = condition(string(gwv1.GatewayConditionAccepted), string(gwv1.GatewayReasonListenersNotValid), false,
			"No listener is valid", b.gen)
	case len(invalid) > 0:
		// Upstream asks for ListenersNotValid whenever some listener is
		// invalid, with the invalid ones named; the Gateway stays accepted for
		// the valid ones.
		accepted = condition(string(gwv1.GatewayConditionAccepted), string(gwv1.GatewayReasonListenersNotValid), true,
			"Some listeners are not valid: "+boundedList(invalid, ", ", maxMessageBytes), b.gen)
	}
	programmed := condition(string(gwv1.GatewayConditionProgrammed), string(gwv1.GatewayReasonProgrammed), true,
		"Gateway is ready to program", b.gen)
	if !programmable {
		programmed = condition(string(gwv1.GatewayConditionProgrammed), string(gwv1.GatewayReasonInvalid), false,
			"Gateway has nothing valid to program", b.gen)
	}
	st.Conditions = append(st.Conditions, accepted, programmed)
	if c := insecureFrontendCondition(listeners, b.gen); c != nil && gwProblem.ok() {
		st.Conditions = append(st.Conditions, *c)
	}
	// Present only when spec.tls.backend names a client certificate: the
	// Gateway has no other reference of its own to resolve.
	if c := b.backendClientCond; c != nil && gwProblem.ok() {
		st.Conditions = append(st.Conditions, *c)
	}
	for _, l := range own {
		st.Listeners = append(st.Listeners, l.status(b.gen, gwProblem.ok()))
	}
	return st, accepted.Status == metav1.ConditionTrue
}

// appendRoutes converts the non-nil routes of one kind to the kind-neutral
// route type, through c when it is not nil.
func appendRoutes[T any, P interface {
	*T
	metav1.Object
}](out []*route, c *Cache, kind routeKind, in []P, convert func(P) *route) []*route {
	for _, r := range in {
		if r == nil {
			continue
		}
		if c == nil {
			out = append(out, convert(r))
			continue
		}
		out = append(out, c.route(kind, r, func() *route { return convert(r) }))
	}
	return out
}

// arena hands out zeroed values from chunks: one allocation per chunk
// rather than per value, for values made by the thousand that live as long
// as the Build that made them.
type arena[T any] struct {
	chunk []T
}

// Chunks start small and double up to maxArenaChunk, so that a Build of a
// few routes does not pay for thousands.
const minArenaChunk, maxArenaChunk = 8, 256

func (a *arena[T]) new() *T {
	if len(a.chunk) == cap(a.chunk) {
		a.chunk = make([]T, 0, min(max(2*cap(a.chunk), minArenaChunk), maxArenaChunk))
	}
	a.chunk = a.chunk[:len(a.chunk)+1]
	return &a.chunk[len(a.chunk)-1]
}
