// Command build builds the local cluster's binaries (etcd, kube-apiserver,
// kube-controller-manager, kubectl, echo-basic, coredns) into bin/k8s, skipping
// those already there. `make cluster-binaries` runs it, so that a first build's
// minutes show up as progress instead of inside a test's timeout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/cloudgate-dev/cloudgate/test/controlplane"
)

func main() {
	all := flag.Bool("all", false, "also build what the local cluster needs beyond etcd and kube-apiserver")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	root, err := controlplane.RepoRoot()
	if err == nil {
		names := []string{"etcd", "kube-apiserver"}
		if *all {
			names = append(names, "kube-controller-manager", "kubectl", "echo-basic", "coredns")
		}
		err = controlplane.Build(ctx, root, filepath.Join(root, "bin", "k8s"), os.Stdout, names...)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
}
