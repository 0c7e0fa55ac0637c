// Package emulated is the provider adapter for Cloudgate's emulated cloud
// (package cloud, with its Go data plane in package dataplane). It implements
// providers.Provider for the controllerName "cloudgate.dev/emulated".
//
// The adapter talks to the cloud only through its HTTP API, with
// go-retryablehttp: throttling (429) and server errors (5xx) are retried
// twice within a fraction of a second, then returned as transient errors for
// the controller's backoff. Ensure reads what the owner has (one list by the
// ownership tags cloudgate.dev/cluster and cloudgate.dev/gateway-uid),
// computes a providers.Plan and applies it; a no-op Ensure is that one read.
// The cloud holds a whole load balancer in one resource, so one write (a
// create, replace or delete) carries out the steps of the load balancer and
// of each of its parts (listeners, rules, streams, target groups,
// certificates), which the plan lists one by one so that it reads as it
// would on a cloud with a resource per part. After a restart, one paged list of the
// whole cluster stands in for every Gateway's first read (observe.go).
//
// A model the cloud refuses (400) comes back as a *providers.InvalidError
// that names the model's rules, streams, target groups, listeners or
// certificates at fault, as the cloud's error body names them, so that the
// reconciler can leave out the routes behind them.
//
// Config.CountCall hears of every API call, after the retries, by operation
// (OpList, OpCreate, OpReplace, OpDelete) and outcome (Outcome: success,
// throttled for 429, invalid for 400, not-found for 404, error for the rest),
// for the controller's cloudgate_cloud_api_calls_total. Errors carry the
// cloud's code and request id (APIError.RequestID), and so do refusals'
// messages: they reach Events and logs, never conditions.
//
// Rules of this package:
//   - A load balancer without our ownership tags is never changed or deleted,
//     even when it has the name we want: Ensure refuses with an error wrapping
//     providers.ErrInvalid instead of adopting it.
//   - Names are deterministic (LoadBalancerName) so that a create retried after
//     a lost response finds its own earlier result (409, then ours by tags).
//   - Errors are classified with errors.As on *APIError, never by text.
//   - No gateway-api or controller-runtime imports; mapping/lb is the input.
package emulated
