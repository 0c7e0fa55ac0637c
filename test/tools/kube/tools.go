//go:build tools

// Package kube pins the Kubernetes control-plane commands that the test harness
// builds into bin/.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
