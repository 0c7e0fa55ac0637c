package manager

import (
	"context"
	"fmt"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cloudgate-dev/cloudgate/reconciler"
)

// Run runs the controller against cfg until ctx is done. ready, if not nil,
// is closed once the controllers' caches are in sync.
func Run(ctx context.Context, cfg *rest.Config, o Options, ready chan<- struct{}) error {
	if err := o.validate(); err != nil {
		return err
	}
	scheme, err := reconciler.NewScheme()
	if err != nil {
		return err
	}
	provs, closeProviders, err := startProviders(ctx, o)
	if err != nil {
		return err
	}
	defer closeProviders()

	// Copies, so that the manager never aliases o's fields.
	lease, renew, retry := o.LeaseDuration, o.RenewDeadline, o.RetryPeriod
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme,
		// Nothing reads managedFields, and at a thousand Gateways they are
		// a large share of the cached objects' memory. Updates from the
		// cache stay safe: the API server keeps an object's managedFields
		// when an update carries none.
		Cache:                   cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress:  o.ProbeAddr,
		PprofBindAddress:        o.PprofAddr,
		LeaderElection:          o.LeaderElect,
		LeaderElectionID:        "cloudgate.dev",
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		LeaseDuration:           &lease,
		RenewDeadline:           &renew,
		RetryPeriod:             &retry,
	})
	if err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	if err := reconciler.Setup(ctx, mgr, reconciler.Config{ClusterName: o.ClusterName, Providers: provs,
		ResyncPeriod: o.ResyncPeriod, Concurrency: o.Concurrency}); err != nil {
		return err
	}
	if ready != nil {
		go func() {
			if mgr.GetCache().WaitForCacheSync(ctx) {
				close(ready)
			}
		}()
	}
	return mgr.Start(ctx)
}

// validate refuses leader election timings that client-go would refuse
// only once the manager starts, with the flags' names in the message.
func (o Options) validate() error {
	if !o.LeaderElect {
		return nil
	}
	if o.LeaseDuration <= o.RenewDeadline {
		return fmt.Errorf("--leader-elect-lease-duration (%s) must be longer than --leader-elect-renew-deadline (%s)", o.LeaseDuration, o.RenewDeadline)
	}
	// client-go's leader elector jitters the retry period by up to 1.2.
	if o.RetryPeriod <= 0 || float64(o.RenewDeadline) <= 1.2*float64(o.RetryPeriod) {
		return fmt.Errorf("--leader-elect-renew-deadline (%s) must be longer than 1.2 times --leader-elect-retry-period (%s), which must be positive", o.RenewDeadline, o.RetryPeriod)
	}
	return nil
}
