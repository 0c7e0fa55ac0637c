package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"

	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
)

func emulatedCloudCommand(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("emulated-cloud", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8090", "address of the emulated cloud's API (port 0 picks a free one; the URL is printed)")
	rng := fs.String("address-range", "127.100.0.0/16", "range load balancer addresses come from")
	if err := fs.Parse(args); err != nil {
		return err
	}
	prefix, err := netip.ParsePrefix(*rng)
	if err != nil {
		return fmt.Errorf("--address-range: %w", err)
	}
	srv, err := cloud.Start(ctx, cloud.Config{AddressRange: prefix}, *listen)
	if err != nil {
		return err
	}
	// The bound address, so that --listen 127.0.0.1:0 (a free port) tells
	// whoever started this process where the API is.
	fmt.Printf("Emulated cloud API on %s, load balancer addresses from %s\n", srv.URL(), prefix)
	<-ctx.Done()
	return srv.Close()
}
