// Package awse2e tests the controller end to end with the AWS provider: a
// real kube-apiserver and etcd (envtest), the controller in-process
// (test/harness), and the real AWS SDK against moto (localstack), with every
// expectation checked through the SDK's Describe calls against moto, never
// through the provider's own state.
//
// It also checks deploy/aws/iam-policy.json against the operations the
// provider called during the run: the policy grants exactly those.
package awse2e
