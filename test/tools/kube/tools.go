//go:build tools

// Package kube pins the Kubernetes commands that the test harness builds into
// bin/k8s: the control plane (kube-apiserver, kube-controller-manager) and
// kubectl for people poking at a `cloudgate dev` cluster.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
