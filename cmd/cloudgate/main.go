// Command cloudgate runs the Cloudgate controller, or the emulated cloud on
// its own. It is the binary of the container image, so it links no test
// code; the local development setup is cmd/cloudgate-dev.
//
//	cloudgate [run] [flags]        the controller (in a cluster or against a kubeconfig)
//	cloudgate emulated-cloud       the emulated cloud's API and data plane as a process
//	cloudgate gcp-double           a stateful double of the GCP compute API as a process
//	cloudgate version              the version and revision this binary was built from
//	cloudgate describe gateway NS/NAME
//	                               what the controller makes of a Gateway: effective
//	                               parameters and their sources, routes, the plan and
//	                               the cloud resources (it only reads)
//
// Installed as kubectl-cloudgate (a link to this binary on PATH, which
// `make build` writes next to it), it is the kubectl plugin `kubectl
// cloudgate describe gateway NS/NAME`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
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
	if plugin := filepath.Base(os.Args[0]) == "kubectl-cloudgate"; plugin {
		// A kubectl plugin runs no controller: `kubectl cloudgate`
		// without a command is a question, not a deployment.
		switch cmd {
		case "describe", "version":
		case "run", "help":
			cmd = "plugin-help"
		default:
			err = fmt.Errorf("unknown command %q (want describe or version)", cmd)
		}
	}
	switch {
	case err != nil:
	case cmd == "plugin-help":
		fmt.Println("usage: kubectl cloudgate describe gateway [NAMESPACE/]NAME [flags]; kubectl cloudgate describe -h for flags")
	default:
		err = runSubcommand(ctx, cmd, args)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cloudgate:", err)
		os.Exit(1)
	}
}

func runSubcommand(ctx context.Context, cmd string, args []string) error {
	var err error
	switch cmd {
	case "run":
		err = runCommand(ctx, args)
	case "emulated-cloud":
		err = emulatedCloudCommand(ctx, args)
	case "gcp-double":
		err = gcpDoubleCommand(ctx, args)
	case "version":
		versionCommand()
	case "dev":
		err = errors.New("the local development setup is its own binary now: run `make dev` or cloudgate-dev")
	case "describe":
		err = describeCommand(ctx, args, os.Stdout)
	case "help":
		fmt.Println("usage: cloudgate [run|emulated-cloud|gcp-double|describe|version] [flags]; cloudgate COMMAND -h for flags")
	default:
		err = fmt.Errorf("unknown command %q (want run, emulated-cloud, gcp-double, describe or version)", cmd)
	}
	return err
}
