// Package awsfaults tests the AWS provider under the failures AWS has in
// production, on a real kube-apiserver (envtest) against moto: throttling
// and server errors on a share of the calls, answers lost after the call
// took effect, and the controller killed in the middle of an apply. What
// it asserts is what users rely on: every Gateway converges, and the cloud
// then holds exactly one load balancer per Gateway, no duplicated target
// group, rule or certificate, and after the Gateways are deleted nothing
// with the test cluster's ownership tags.
//
// The faults come from localstack.FaultProxy, between the controller and
// moto; the test reads the cloud through its own SDK clients straight
// from moto, never through the proxy or the provider.
package awsfaults
