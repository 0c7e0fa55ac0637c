package harness

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"time"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/emulated"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
	"github.com/cloudgate-dev/cloudgate/reconciler"
)

// Config configures the controller under test.
type Config struct {
	// ClusterName goes into ownership tags.
	ClusterName string
	// AddressRange is the emulated cloud's range; pick one no other test uses.
	AddressRange netip.Prefix
	// ResyncPeriod and Concurrency are passed to the reconcilers; zero
	// means their defaults.
	ResyncPeriod time.Duration
	Concurrency  int
}

// Controller is a running controller and its emulated cloud.
type Controller struct {
	// Cloud is the emulated cloud's API server.
	Cloud *cloud.Server
	// Client reads and writes through the API server directly (no cache), so
	// tests see what is stored.
	Client client.Client

	cancel context.CancelFunc
	done   chan error
}

// Start starts the emulated cloud and the manager, and returns once the
// manager's caches are in sync.
func Start(ctx context.Context, restCfg *rest.Config, cfg Config) (*Controller, error) {
	srv, err := cloud.Start(ctx, cloud.Config{AddressRange: cfg.AddressRange}, "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the emulated cloud: %w", err)
	}
	prov, err := emulated.New(emulated.Config{Endpoint: srv.URL()})
	if err != nil {
		_ = srv.Close()
		return nil, err
	}
	scheme, err := reconciler.NewScheme()
	if err != nil {
		_ = srv.Close()
		return nil, err
	}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		_ = srv.Close()
		return nil, err
	}
	mctx, cancel := context.WithCancel(ctx)
	if err := reconciler.Setup(mctx, mgr, reconciler.Config{ClusterName: cfg.ClusterName, Providers: []providers.Provider{prov},
		ResyncPeriod: cfg.ResyncPeriod, Concurrency: cfg.Concurrency}); err != nil {
		cancel()
		_ = srv.Close()
		return nil, err
	}
	c := &Controller{Cloud: srv, cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := mgr.Start(mctx)
		if err != nil || mctx.Err() == nil {
			// Tests would otherwise just time out waiting for a status.
			fmt.Fprintf(os.Stderr, "harness: the controller stopped early: %v\n", err)
		}
		c.done <- err
	}()
	if !mgr.GetCache().WaitForCacheSync(mctx) {
		c.Stop()
		return nil, fmt.Errorf("the controller's caches did not sync")
	}
	c.Client, err = client.New(restCfg, client.Options{Scheme: scheme})
	if err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// Stop stops the manager, then the emulated cloud (closing every load
// balancer's sockets).
func (c *Controller) Stop() {
	c.cancel()
	<-c.done
	_ = c.Cloud.Close()
}
