package main

import (
	"context"
	"flag"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/cloudgate-dev/cloudgate/cmd/internal/manager"
)

func runCommand(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var o manager.Options
	o.Bind(fs)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	ctrl.Log.Info("Starting Cloudgate", "version", version, "revision", revision)
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return err
	}
	return manager.Run(ctx, cfg, o, nil)
}
