// Package reconciler holds Cloudgate's controller-runtime reconcilers.
//
// One reconcile of a Gateway reads a snapshot of everything the Gateway depends
// on from the cache, calls the pure mapping.Build, hands the model to the
// provider of the Gateway's class, and writes the status of each object once,
// and only when it changed. It is level-based: it looks at the whole state,
// never at which event woke it.
//
// Watches on routes, ListenerSets (listenersets.go: a Gateway's reconcile
// owns the ListenerSets naming it, their status and the route entries for
// them), Services, EndpointSlices, Secrets and ConfigMaps (both metadata
// only), ReferenceGrants, LoadBalancerParameters, Namespaces,
// BackendTLSPolicies and GatewayClasses enqueue only the Gateways they
// affect, found through field indexes (indexes.go, policies.go). A mirror's
// Service is indexed and loaded exactly like a backendRef's.
//
// BackendTLSPolicies (policies.go): a Gateway's reconcile loads every policy
// of its backends' namespaces (mapping decides precedence among all of a
// target's), reads their CA ConfigMaps and Secrets uncached, and writes its
// own ancestor entry on each policy mapping reports, removing its entries
// from the others; other Gateways' and controllers' entries stay as they
// are, in place.
//
// In-cluster Services (gatewayservice.go, a controller of its own): each
// Gateway of our classes with an address gets a Service of its name plus
// "-cloudgate" in its namespace, an ExternalName alias of a hostname
// address or a headless Service with EndpointSlices of its IPs, carrying
// spec.infrastructure's labels and annotations and owned by the Gateway. A
// Service of that name that is not ours is never touched: the Gateway's
// condition cloudgate.dev/InClusterService says so.
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
// Events (events.k8s.io, recorded as "cloudgate"): every applied plan that
// changed something is one Normal Event on the Gateway with the plan's
// summary (LoadBalancerCreated, LoadBalancerUpdated; plans.go), and a
// deletion is LoadBalancerDeleted. Every refused configuration is a Warning
// Event named by the condition's reason, on the Gateway for the Gateway's
// own and its listeners' refusals, on the route for a route's (naming the
// parent Gateway): it is recorded when a status write makes a condition
// say so (Accepted or ResolvedRefs False; Conflicted, PartiallyInvalid or
// OverlappingTLSConfig True) or changes its reason or message, so a refusal
// that stays is told once (refusals.go). Every cloud error is a Warning
// Event on the Gateway, CloudError or LoadBalancerRefused, whose note holds
// the cloud's own words (code, request id), which conditions leave out. A
// failing Gateway backs off exponentially (100ms doubling to 5 minutes), so
// an error that persists is recorded a few times in its first seconds and
// then at most every 5 minutes; the recorder folds repeats of one reason
// into a series that keeps the first note.
//
// Metrics (metrics*.go), on controller-runtime's registry next to its own:
//   - cloudgate_cloud_api_calls_total{provider,operation,outcome}: each
//     cloud API call once, after the adapter's in-client retries, by
//     outcome success, throttled, invalid, not-found or error (the
//     adapters classify: aws.CountCalls, emulated.Outcome). Throttles that
//     a retry got past are not seen.
//   - cloudgate_plan_steps_applied_total{provider,kind,action}: the steps
//     of applied plans that changed something, up to the failure for a plan
//     that failed half way. Provider.Delete returns no plan, so the steps of
//     a Gateway's deletion are not counted.
//   - cloudgate_gateways{programmed}: Gateways of enabled providers' classes
//     (or with our finalizer and no class), by their Programmed condition's
//     status as written, Unknown without one; computed from the cache at
//     each scrape, by the leader only.
//   - cloudgate_route_programmed_seconds: from the moment the route watch
//     delivered a new route or a route's new generation to this controller,
//     to the end of the first reconcile of a parent Gateway that included
//     that generation, accepted it, had the cloud apply it, wrote its status
//     and the route's, and has the Gateway Programmed=True: what a user
//     waits between `kubectl apply` and a status that says the change
//     serves. Backoff after cloud errors is included. Routes that changed
//     while no controller ran (the initial list after a start) are not
//     timed; a route with several parents is timed by the first.
//
// Rules: no cloud SDK here (providers own that); no status write when nothing
// changed, and none the API server could refuse (bounded messages, at most 32
// route parents); condition messages are static, the cloud's own words go to
// Events; conditions of other controllers are preserved; transient cloud
// errors back off, permanent ones become conditions; objects already gone are
// not errors.
package reconciler
