package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

// gcpDoubleCommand serves the Compute Engine API double, so that the GCP
// provider can be tried without a project: point it at the printed URL.
func gcpDoubleCommand(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gcp-double", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8091", "address of the double's API (port 0 picks a free one; the URL is printed)")
	project := fs.String("project", "cloudgate-test", "the only project the double serves")
	region := fs.String("region", "us-central1", "the only region the double serves")
	zones := fs.String("zones", "", "comma-separated zones it serves (default: REGION-a, REGION-b and REGION-c)")
	delay := fs.Duration("operation-delay", 0, "how long operations take to be DONE")
	proxyOnly := fs.Bool("proxy-only-subnet", true, "seed the region with an active proxy-only subnet (named proxy-only, network default), as regional managed load balancers need")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("gcp-double takes no arguments, got %q", fs.Args())
	}
	if *delay < 0 {
		return fmt.Errorf("--operation-delay must not be negative, got %s", *delay)
	}
	cfg := gcptest.Config{
		Project:        *project,
		Region:         *region,
		OperationDelay: *delay,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	if *zones != "" {
		cfg.Zones = strings.Split(*zones, ",")
	}
	if *proxyOnly {
		cfg.Subnetworks = []*computepb.Subnetwork{gcptest.ProxyOnlySubnet()}
	}
	srv, err := gcptest.Start(ctx, cfg, *listen)
	if err != nil {
		return err
	}
	// The bound address, so that --listen 127.0.0.1:0 tells whoever
	// started this process where the API is.
	fmt.Printf("GCP compute API double on %s, project %s, region %s\n", srv.URL(), *project, *region)
	<-ctx.Done()
	return srv.Close()
}
