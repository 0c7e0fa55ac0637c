package harness

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
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
	// NewProvider, when set, builds the provider under test (each start
	// and restart calls it again, so nothing is remembered across a
	// restart) instead of the emulated one; Controller.Cloud is then nil.
	NewProvider func() (providers.Provider, error)
}

// Controller is a running controller and its emulated cloud.
type Controller struct {
	// Cloud is the emulated cloud's API server (nil with Config.NewProvider).
	Cloud *cloud.Server
	// Client reads and writes through the API server directly (no cache), so
	// tests see what is stored.
	Client client.Client

	rest *rest.Config
	cfg  Config
	// ensures counts the provider's Ensure calls, across restarts.
	ensures atomic.Int64
	cancel  context.CancelFunc
	done    chan error
}

// Start starts the emulated cloud and the manager, and returns once the
// manager's caches are in sync.
func Start(ctx context.Context, restCfg *rest.Config, cfg Config) (*Controller, error) {
	c := &Controller{rest: restCfg, cfg: cfg}
	if cfg.NewProvider == nil {
		srv, err := cloud.Start(ctx, cloud.Config{AddressRange: cfg.AddressRange}, "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("starting the emulated cloud: %w", err)
		}
		c.Cloud = srv
	}
	scheme, err := reconciler.NewScheme()
	if err == nil {
		c.Client, err = client.New(restCfg, client.Options{Scheme: scheme})
	}
	if err == nil {
		err = c.startManager(ctx)
	}
	if err != nil {
		c.closeCloud()
		return nil, err
	}
	return c, nil
}

func (c *Controller) closeCloud() {
	if c.Cloud != nil {
		_ = c.Cloud.Close()
	}
}

// newProvider builds the provider of a (re)start.
func (c *Controller) newProvider() (providers.Provider, error) {
	if c.cfg.NewProvider != nil {
		return c.cfg.NewProvider()
	}
	// Counted as the controller binary counts, so that tests read the
	// same metrics.
	return emulated.New(emulated.Config{Endpoint: c.Cloud.URL(), CountCall: reconciler.CountCloudCalls("emulated")})
}

// startManager starts a new manager with a new provider (so nothing is
// remembered from an earlier one) against the same cloud.
func (c *Controller) startManager(ctx context.Context) error {
	prov, err := c.newProvider()
	if err != nil {
		return err
	}
	scheme, err := reconciler.NewScheme()
	if err != nil {
		return err
	}
	// A restarted controller registers its controllers' names again in
	// this process; a new process would not see the old ones.
	skip := true
	mgr, err := ctrl.NewManager(c.rest, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: &skip}})
	if err != nil {
		return err
	}
	mctx, cancel := context.WithCancel(ctx)
	counted := &countingProvider{Provider: prov, ensures: &c.ensures}
	if err := reconciler.Setup(mctx, mgr, reconciler.Config{ClusterName: c.cfg.ClusterName, Providers: []providers.Provider{counted},
		ResyncPeriod: c.cfg.ResyncPeriod, Concurrency: c.cfg.Concurrency}); err != nil {
		cancel()
		return err
	}
	c.cancel, c.done = cancel, make(chan error, 1)
	go func() {
		err := mgr.Start(mctx)
		if err != nil || mctx.Err() == nil {
			// Tests would otherwise just time out waiting for a status.
			fmt.Fprintf(os.Stderr, "harness: the controller stopped early: %v\n", err)
		}
		c.done <- err
	}()
	if !mgr.GetCache().WaitForCacheSync(mctx) {
		c.stopManager()
		return fmt.Errorf("the controller's caches did not sync")
	}
	return nil
}

func (c *Controller) stopManager() {
	c.cancel()
	<-c.done
}

// Restart stops the controller and starts a new one, as a new process would
// start, against the same cloud: the cloud keeps every load balancer, and the
// new controller has to find them. cfg replaces the controller's settings.
func (c *Controller) Restart(ctx context.Context, cfg Config) error {
	c.stopManager()
	c.cfg = cfg
	return c.startManager(ctx)
}

// Ensures is how many times the controllers called the provider's Ensure.
func (c *Controller) Ensures() int64 { return c.ensures.Load() }

// Stop stops the manager, then the emulated cloud (closing every load
// balancer's sockets).
func (c *Controller) Stop() {
	c.stopManager()
	c.closeCloud()
}

// countingProvider counts Ensure calls, so that a test can tell a reconcile
// that asked the cloud nothing from one that never ran.
type countingProvider struct {
	providers.Provider
	ensures *atomic.Int64
}

func (p *countingProvider) Ensure(ctx context.Context, desired *lb.LoadBalancer) (providers.Result, error) {
	p.ensures.Add(1)
	return p.Provider.Ensure(ctx, desired)
}

// DefaultResyncPeriod passes the provider's own period through.
func (p *countingProvider) DefaultResyncPeriod() time.Duration {
	if rs, ok := p.Provider.(interface{ DefaultResyncPeriod() time.Duration }); ok {
		return rs.DefaultResyncPeriod()
	}
	return 0
}
