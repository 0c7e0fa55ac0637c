// Package e2e tests Cloudgate end to end: a real kube-apiserver and etcd
// (envtest), the controller, the emulated cloud's API and data plane, and
// backends that answer real HTTP requests from a network namespace the test
// made. Assertions are on what users see: responses through the load
// balancer's address, object status, and the cloud's API.
package e2e
