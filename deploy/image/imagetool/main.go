// Command imagetool builds and pushes Cloudgate's container image; `make
// image` and `make push` run it.
//
//	imagetool build [-layout bin/image] [-version V] [-revision R]   the OCI layout
//	imagetool push [-layout bin/image] REGISTRY/REPOSITORY[:TAG]       that layout, to a registry
//
// push authenticates with the default keychain: the credentials of docker
// login (~/.docker/config.json, credential helpers included).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cloudgate-dev/cloudgate/deploy/image"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := "", os.Args[1:]; {
	case len(args) == 0:
		err = errors.New("usage: imagetool build|push [flags]")
	default:
		cmd, args = args[0], args[1:]
		switch cmd {
		case "build":
			err = build(ctx, args)
		case "push":
			err = push(ctx, args)
		default:
			err = fmt.Errorf("unknown command %q (want build or push)", cmd)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagetool:", err)
		os.Exit(1)
	}
}

func build(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	dir := fs.String("layout", "bin/image", "directory of the OCI layout to write (replaced)")
	module := fs.String("module", ".", "root of the Cloudgate module")
	version := fs.String("version", "dev", "version linked into the binary and labelled")
	revision := fs.String("revision", "unknown", "source revision linked into the binary and labelled")
	source := fs.String("source", "https://github.com/cloudgate-dev/cloudgate", "source repository label")
	if err := fs.Parse(args); err != nil {
		return err
	}
	created, err := image.SourceDate(ctx, *module)
	if err != nil {
		return err
	}
	start := time.Now()
	idx, err := image.Build(ctx, image.BuildOptions{Dir: *module, Version: *version, Revision: *revision,
		Source: *source, Created: created})
	if err != nil {
		return err
	}
	if err := image.WriteLayout(*dir, idx, *version); err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("Wrote %s (OCI layout, tag %s), index %s, in %s\n", *dir, *version, digest, time.Since(start).Round(100*time.Millisecond))
	sizes, err := image.Sizes(idx)
	if err != nil {
		return err
	}
	for _, s := range sizes {
		fmt.Println("  " + s.String())
	}
	return nil
}

func push(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	dir := fs.String("layout", "bin/image", "OCI layout that imagetool build wrote")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || fs.Arg(0) == "" {
		return errors.New("usage: imagetool push [-layout DIR] REGISTRY/REPOSITORY[:TAG] (make push IMAGE=...)")
	}
	idx, err := image.ReadLayout(*dir)
	if err != nil {
		return fmt.Errorf("%w (make image writes it)", err)
	}
	ref, err := image.Push(ctx, idx, fs.Arg(0), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return err
	}
	fmt.Println("Pushed", ref)
	return nil
}
