package mapping

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// Snapshot is everything one Gateway's load balancer depends on, read by the
// reconciler from its cache. Build reads nothing else.
type Snapshot struct {
	// ClusterName goes into the ownership tags.
	ClusterName string
	// Capabilities of the GatewayClass's provider.
	Capabilities lb.Capabilities

	GatewayClass *gwv1.GatewayClass
	Gateway      *gwv1.Gateway

	// Parameters holds the LoadBalancerParameters that the class's and the
	// Gateway's parametersRef may name (the reconciler passes those it found;
	// a reference to one that is absent here does not resolve).
	Parameters []*v1alpha1.LoadBalancerParameters

	// HTTPRoutes are all HTTPRoutes with a parentRef that names the Gateway.
	HTTPRoutes []*gwv1.HTTPRoute
	// GRPCRoutes are all GRPCRoutes with a parentRef that names the Gateway.
	GRPCRoutes []*gwv1.GRPCRoute
	// TCPRoutes, UDPRoutes and TLSRoutes are all routes of those kinds with a
	// parentRef that names the Gateway. All three are apis/v1 types: since
	// gateway-api v1.6 v1 is the storage version of their CRDs and the
	// version the conformance suite creates (v1alpha2 is only served).
	TCPRoutes []*gwv1.TCPRoute
	UDPRoutes []*gwv1.UDPRoute
	TLSRoutes []*gwv1.TLSRoute

	// ListenerSets are the ListenerSets whose parentRef names the
	// Gateway, whether its allowedListeners allows them or not (those it
	// does not get a status saying so); others are ignored.
	ListenerSets []*gwv1.ListenerSet

	// Namespaces are all namespaces, for allowedRoutes selectors.
	Namespaces []*corev1.Namespace
	// Services, EndpointSlices, Secrets and ReferenceGrants are those the routes
	// and listeners may refer to (the reconciler may pass more).
	Services        []*corev1.Service
	EndpointSlices  []*discoveryv1.EndpointSlice
	Secrets         []*corev1.Secret
	ReferenceGrants []*gwv1beta1.ReferenceGrant
	// ConfigMaps are those the Gateway's spec.tls.frontend
	// caCertificateRefs and the BackendTLSPolicies' caCertificateRefs may
	// name (the reconciler may pass more).
	ConfigMaps []*corev1.ConfigMap
	// BackendTLSPolicies are those in the namespaces of the routes'
	// backends: every policy that may target a Service the routes use,
	// so that precedence among policies of one target is decided with
	// all of them. Their CA ConfigMaps (and Secrets) are in ConfigMaps
	// and Secrets, as is the Gateway's spec.tls.backend client
	// certificate.
	BackendTLSPolicies []*gwv1.BackendTLSPolicy

	// Refused names the routes whose model elements the cloud refused (the
	// reconciler finds them through Result.Sources from the elements a
	// provider's InvalidError names), each with a static message saying
	// why. Such a route is left out of the model and gets, on every
	// parentRef naming this Gateway, Accepted=False with reason
	// UnsupportedValue and the message "The cloud refused this route's
	// configuration: <message>". It is the backstop for values mapping's
	// own validation did not catch: the rest of the Gateway is applied.
	Refused map[RouteRef]string
}

// RouteRef names one route of any kind Cloudgate serves.
type RouteRef struct {
	// Kind is "HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute" or
	// "UDPRoute".
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// Result is what Build decides: the desired load balancer and the status of
// every object involved. Conditions carry no LastTransitionTime: Build reads no
// clock, and the reconciler keeps the old time of a condition that did not
// change.
type Result struct {
	// LoadBalancer is the desired model, or nil when the Gateway is not
	// Accepted (then nothing should exist in the cloud for it).
	LoadBalancer *lb.LoadBalancer

	// Gateway is the Gateway's status as far as mapping knows it: conditions
	// Accepted and Programmed, and every listener's status. Programmed=True here
	// means "valid and ready to program"; the reconciler lowers it to False
	// while the provider is not ready. Addresses are left to the provider.
	Gateway gwv1.GatewayStatus

	// Routes holds, for each HTTPRoute in the snapshot, its status for the
	// parentRefs that name this Gateway (ControllerName set).
	Routes map[types.NamespacedName][]gwv1.RouteParentStatus
	// GRPCRoutes is the same for each GRPCRoute in the snapshot.
	GRPCRoutes map[types.NamespacedName][]gwv1.RouteParentStatus
	// TCPRoutes, UDPRoutes and TLSRoutes are the same for each route of those
	// kinds in the snapshot.
	TCPRoutes map[types.NamespacedName][]gwv1.RouteParentStatus
	UDPRoutes map[types.NamespacedName][]gwv1.RouteParentStatus
	TLSRoutes map[types.NamespacedName][]gwv1.RouteParentStatus

	// ListenerSets holds the status of each ListenerSet of the snapshot
	// that names the Gateway. Programmed=True means "ready to program",
	// as on the Gateway; the reconciler lowers it while the provider is
	// not ready.
	ListenerSets map[types.NamespacedName]gwv1.ListenerSetStatus
	// BackendTLSPolicies holds, for each BackendTLSPolicy that applies
	// to a backend of the Gateway's routes (or lost precedence on one),
	// its ancestor status for this Gateway (ControllerName set). A policy
	// in the snapshot without an entry has none for this Gateway.
	BackendTLSPolicies map[types.NamespacedName]gwv1.PolicyAncestorStatus

	// Sources maps the name of every lb.Rule, lb.Stream and lb.TargetGroup
	// in LoadBalancer to the routes it was built from, sorted by kind,
	// namespace and name: one route for a Rule or Stream, every route that
	// forwards or mirrors to it for a TargetGroup. Listeners and
	// certificates come from the Gateway and have no entry. When a
	// provider refuses elements by name, these are the routes to put in
	// Snapshot.Refused.
	Sources map[string][]RouteRef

	// Parameters are the effective LoadBalancerParameters after the
	// merge, one per field, each with where its value came from, sorted
	// by path; nil when a parametersRef does not resolve. They are what
	// LoadBalancer.Options and Tags were made of (`cloudgate describe`
	// prints them).
	Parameters []Parameter
}

// ClassResult is the status Cloudgate writes on a GatewayClass.
type ClassResult struct {
	// Conditions holds Accepted (and SupportedVersion when relevant).
	Conditions []metav1.Condition
	// SupportedFeatures lists the Gateway API features the provider realizes.
	SupportedFeatures []gwv1.SupportedFeature
}
