// Command cloudgate runs the Cloudgate controller, the emulated cloud on its
// own, or a complete local development setup.
//
//	cloudgate [run] [flags]        the controller (in a cluster or against a kubeconfig)
//	cloudgate emulated-cloud       the emulated cloud's API and data plane as a process
//	cloudgate dev                  a local control plane, the emulated cloud, the
//	                               controller and a sample Gateway that serves traffic
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	args := os.Args[1:]
	cmd := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = runCommand(ctx, args)
	case "emulated-cloud":
		err = emulatedCloudCommand(ctx, args)
	case "dev":
		err = devCommand(ctx, args)
	case "help":
		fmt.Println("usage: cloudgate [run|emulated-cloud|dev] [flags]; cloudgate COMMAND -h for flags")
	default:
		err = fmt.Errorf("unknown command %q (want run, emulated-cloud or dev)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cloudgate:", err)
		os.Exit(1)
	}
}
