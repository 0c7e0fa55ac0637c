// Package controlplane starts a real kube-apiserver and etcd (through
// controller-runtime's envtest) with Cloudgate's and the Gateway API's CRDs
// installed. Tests and `cloudgate dev` share it.
//
// kube-apiserver and etcd have no prebuilt downloads on the machines Cloudgate
// is developed and tested on, so the binaries are built from the Go module proxy
// by the tools modules under test/tools into bin/k8s, once; EnsureBinaries does
// that when they are missing.
package controlplane
