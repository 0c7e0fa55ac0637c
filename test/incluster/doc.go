// Package incluster installs Cloudgate's Helm chart into the local cluster
// (test/localcluster) and checks it the way an operator would after `helm
// install`: the controller runs as the chart's Pods, with only the chart's
// ServiceAccount and RBAC, talks to kube-apiserver through the in-cluster
// configuration the process kubelet gives every Pod, and drives an emulated
// cloud that runs as a separate `cloudgate emulated-cloud` process.
//
// The test proves what the chart promises: a Gateway becomes Programmed and
// answers traffic; one of the two replicas leads, and when its process is
// killed with SIGKILL the other takes over and serves a route changed after
// the kill within the lease duration plus a few seconds, without a second
// load balancer; /metrics shows reconciles and cloud API calls; `helm
// uninstall` after the Gateways are deleted leaves no load balancer behind.
//
// It needs root and the local cluster's binaries (make cluster-binaries).
package incluster
