// Package emulated is the provider adapter for Cloudgate's emulated cloud
// (package cloud, with its Go data plane in package dataplane). It implements
// providers.Provider for the controllerName "cloudgate.dev/emulated".
//
// The adapter talks to the cloud only through its HTTP API, with
// go-retryablehttp: throttling (429) and server errors (5xx) are retried with
// short backoff, then returned as transient errors. Ensure reads what the owner
// has (by the ownership tags cloudgate.dev/cluster and
// cloudgate.dev/gateway-uid), computes a Plan (a printable list of steps, each
// with a reason) and applies it.
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
