// Package conformance runs the official Gateway API conformance suite
// (sigs.k8s.io/gateway-api/conformance) against Cloudgate with the emulated
// provider, on a local cluster of processes (test/localcluster).
package conformance
