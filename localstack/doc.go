// Package localstack runs an AWS API double for the AWS provider's tests:
// LocalStack where a container engine and a LocalStack auth token exist,
// moto (moto_server, extended by localstack/motoext) otherwise. It starts
// the double through start.sh, which also creates a VPC with tagged public
// and private subnets in two zones, and hands back the endpoint and the ids.
//
// Rules:
//   - Start (tests) and StartContext return only once the API answers and the
//     network exists; Stop leaves no process behind, and a test binary that
//     dies without its cleanups takes its moto server with it (the server
//     watches the test's pid).
//   - Where moto lacks something that ELBv2 has, motoext teaches moto the AWS
//     behaviour (storing a field, refusing what AWS refuses, with AWS's error
//     code). Production code never knows whether it talks to moto.
//   - A missing moto_server fails the caller with the install hint; nothing
//     here skips a test.
//   - No Kubernetes code: the AWS provider's tests import this package, and
//     providers import no Kubernetes code.
package localstack
