package reconciler

// The permissions the controller needs; `make generate` writes them to
// deploy/rbac/role.yaml, and from there into the Helm chart's ClusterRole
// and Role. Each verb is one the controller calls:
//   - Gateways and GatewayClasses: read, and patch (their finalizers);
//     routes and BackendTLSPolicies: read. Status of all of them: written with Update; patch stays
//     for a status write that moves to Patch.
//   - Services, EndpointSlices, Namespaces, ReferenceGrants,
//     LoadBalancerParameters: read (watched through the cache). ListenerSets:
//     read, and their status written, by their parent Gateway's reconcile. Secrets and
//     ConfigMaps are watched as metadata only, and read when a listener
//     (a certificate), spec.tls.frontend (a CA bundle), spec.tls.backend
//     (a client certificate) or a BackendTLSPolicy (a CA bundle)
//     references one.
//   - Services and EndpointSlices: also created, updated and deleted, for
//     each Gateway's in-cluster Service (gatewayservice.go); only objects
//     the controller made (its label and owner reference) are changed.
//   - events.k8s.io events: the Gateway reconciler's recorder, in each
//     Gateway's namespace.
//   - In the controller's own namespace only (namespace= below; the chart
//     puts the release namespace there): the leader-election Lease, which
//     client-go's LeaseLock gets, creates and updates, and the core/v1 Events
//     that controller-runtime's leader election still records.
//
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gatewayclasses;gateways,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes;grpcroutes;tlsroutes;tcproutes;udproutes;listenersets;backendtlspolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gatewayclasses/status;gateways/status;httproutes/status;grpcroutes/status;tlsroutes/status;tcproutes/status;udproutes/status;listenersets/status;backendtlspolicies/status,verbs=update;patch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=referencegrants,verbs=get;list;watch
// +kubebuilder:rbac:groups=cloudgate.dev,resources=loadbalancerparameters,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets;configmaps;namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=cloudgate-system,resources=leases,verbs=get;create;update
// +kubebuilder:rbac:groups="",namespace=cloudgate-system,resources=events,verbs=create;patch
