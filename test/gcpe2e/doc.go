// Package gcpe2e tests the controller end to end with the GCP provider: a
// real kube-apiserver and etcd (envtest), the controller in-process
// (test/harness), and the provider's real Compute Engine apiv1 REST clients
// against the stateful Compute Engine double (providers/gcp/gcptest), with
// every expectation checked by reading the double's state and its call
// counts, never the provider's own.
//
// It also checks deploy/gcp/cloudgate-role.yaml against the methods the
// provider called during the run: each one's permissions are in the role.
package gcpe2e
