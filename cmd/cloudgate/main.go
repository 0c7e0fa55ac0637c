// Command cloudgate runs the Cloudgate controller, or the emulated cloud on
// its own. It is the binary of the container image, so it links no test
// code; the local development setup is cmd/cloudgate-dev.
//
//	cloudgate [run] [flags]        the controller (in a cluster or against a kubeconfig)
//	cloudgate emulated-cloud       the emulated cloud's API and data plane as a process
//	cloudgate version              the version and revision this binary was built from
package main

import (
	"context"
	"errors"
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
	case "version":
		versionCommand()
	case "dev":
		err = errors.New("the local development setup is its own binary now: run `make dev` or cloudgate-dev")
	case "help":
		fmt.Println("usage: cloudgate [run|emulated-cloud|version] [flags]; cloudgate COMMAND -h for flags")
	default:
		err = fmt.Errorf("unknown command %q (want run, emulated-cloud or version)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cloudgate:", err)
		os.Exit(1)
	}
}
