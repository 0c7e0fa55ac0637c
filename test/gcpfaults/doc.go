// Package gcpfaults tests the GCP provider under the failures Compute
// Engine has in production, on a real kube-apiserver (envtest) against the
// stateful double of providers/gcp/gcptest: throttling and server errors
// on a share of the calls, answers lost after the call took effect, a URL
// map changed by someone else between the provider's read and its write,
// and the controller killed in the middle of an apply. What it asserts is
// what users rely on: every Gateway converges, and the double then holds
// what a fault-free run holds (the same resources, URL maps and endpoints),
// no duplicate, and after the Gateways are deleted nothing of theirs.
//
// The faults and hooks are the double's own (gcptest.Fault, gcptest.Hook);
// the test reads the double's state directly (gcptest.Objects), never
// through the provider.
package gcpfaults
