// Package reconciler holds Cloudgate's controller-runtime reconcilers.
//
// One reconcile of a Gateway reads a snapshot of everything the Gateway depends
// on from the cache, calls the pure mapping.Build, hands the model to the
// provider of the Gateway's class, and writes the status of each object once,
// and only when it changed. It is level-based: it looks at the whole state,
// never at which event woke it.
//
// Watches on routes, Services, EndpointSlices, Secrets, ReferenceGrants,
// LoadBalancerParameters, Namespaces and GatewayClasses enqueue only the
// Gateways they affect, found through field indexes (indexes.go).
//
// Rules: no cloud SDK here (providers own that); no status write when nothing
// changed; conditions of other controllers are preserved; transient cloud
// errors back off, permanent ones become conditions.
package reconciler
