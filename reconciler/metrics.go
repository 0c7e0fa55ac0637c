package reconciler

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/cloudgate-dev/cloudgate/providers"
)

// The metrics of this file sit next to controller-runtime's own on its
// registry (metrics.Registry), so that the manager's metrics endpoint serves
// them all. See doc.go for what each one measures, from where to where.

// cloudAPICalls counts the providers' cloud API calls.
var cloudAPICalls = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "cloudgate_cloud_api_calls_total",
	Help: "Cloud API calls by provider, operation and outcome (success, throttled, invalid, not-found, error), " +
		"each counted once after the provider's in-client retries.",
}, []string{"provider", "operation", "outcome"})

// planSteps counts the plan steps that ran.
var planSteps = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "cloudgate_plan_steps_applied_total",
	Help: "Plan steps applied to the cloud by provider, resource kind and action (Create, Update, Recreate, Delete); " +
		"the steps of a plan that failed half way count up to the failure.",
}, []string{"provider", "kind", "action"})

// routeProgrammed times route changes.
var routeProgrammed = prometheus.NewHistogram(prometheus.HistogramOpts{
	Name: "cloudgate_route_programmed_seconds",
	Help: "Seconds from the moment the controller saw a route's new generation (or the new route) in its watch " +
		"to the end of the first reconcile of a parent Gateway that had that generation applied in the cloud, " +
		"with the Gateway's status reporting Programmed=True and the route's status written.",
	// 50ms (a reconcile with one cloud write) to 5 minutes (the backoff's
	// cap, after cloud errors), about 1.8x apart.
	Buckets: prometheus.ExponentialBucketsRange(0.05, 300, 16),
})

func init() {
	metrics.Registry.MustRegister(cloudAPICalls, planSteps, routeProgrammed)
}

// CountCloudCalls returns the hook through which a provider's adapter
// reports its cloud API calls (aws.CountCalls, emulated.Config.CountCall)
// into cloudgate_cloud_api_calls_total, labelled with provider ("aws",
// "emulated").
func CountCloudCalls(provider string) func(operation, outcome string) {
	return func(operation, outcome string) {
		cloudAPICalls.WithLabelValues(provider, operation, outcome).Inc()
	}
}

// providerLabel is a provider's name in metrics: its controllerName without
// the cloudgate.dev/ prefix ("emulated", "aws").
func providerLabel(p providers.Provider) string {
	name := p.ControllerName()
	if _, rest, ok := strings.Cut(name, "/"); ok {
		return rest
	}
	return name
}

// countApplied counts the steps of a plan that did something.
func countApplied(provider string, applied providers.Plan) {
	for _, s := range applied.Steps {
		if s.Action != providers.ActionNothing {
			planSteps.WithLabelValues(provider, string(s.Kind), string(s.Action)).Inc()
		}
	}
}

// observeRouteProgrammed records one route change's time to Programmed.
func observeRouteProgrammed(d time.Duration) {
	routeProgrammed.Observe(d.Seconds())
}

// registerWhileRunning is a manager Runnable that keeps a collector on the
// registry while the manager runs, and only on the elected leader (it needs
// leader election, as Runnables do by default): the replicas that wait
// would count the same Gateways again. A manager started again in the same
// process (tests) registers its own.
type registerWhileRunning struct {
	collector prometheus.Collector
}

func (r registerWhileRunning) Start(ctx context.Context) error {
	if err := metrics.Registry.Register(r.collector); err != nil {
		// Another manager of this process reports already; a metric is
		// no reason to stop the controllers.
		log.FromContext(ctx).Error(err, "Registering a metric")
		return nil
	}
	<-ctx.Done()
	metrics.Registry.Unregister(r.collector)
	return nil
}
