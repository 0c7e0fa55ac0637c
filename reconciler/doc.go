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
// Gateways they affect, found through field indexes (indexes.go). A mirror's
// Service is indexed and loaded exactly like a backendRef's.
//
// Cloud calls (observations.go): a reconcile whose model is the one the cloud
// last accepted, and whose last read is younger than the resync period, makes
// no cloud call. Every Gateway is requeued for the end of its (jittered)
// period, and that reconcile reads the cloud and repairs drift. Gateways
// reconcile in parallel (Config.Concurrency); a failing one backs off
// exponentially on its own.
//
// One tenant never blocks another: when the cloud refuses elements of a model
// and names them (providers.InvalidError), the routes behind them are left out
// and told so, and the rest is applied; they are offered again when they
// change or at the next resync.
//
// Lifecycle: a load balancer is deleted only when its Gateway is deleted or
// names a class of another controller, never because its class is missing. A
// GatewayClass in use carries the spec's gateway-exists finalizer.
//
// Rules: no cloud SDK here (providers own that); no status write when nothing
// changed, and none the API server could refuse (bounded messages, at most 32
// route parents); condition messages are static, the cloud's own words go to
// Events; conditions of other controllers are preserved; transient cloud
// errors back off, permanent ones become conditions; objects already gone are
// not errors.
package reconciler
