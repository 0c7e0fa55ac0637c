package reconciler

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// Config configures the reconcilers.
type Config struct {
	// ClusterName goes into every cloud resource's ownership tags, so that two
	// clusters sharing a cloud account never touch each other's resources.
	ClusterName string
	// Providers are the enabled providers. Each serves the GatewayClasses whose
	// controllerName equals its ControllerName().
	Providers []providers.Provider
	// ResyncPeriod is how often each Gateway's cloud resources are read
	// again to repair drift; zero means each provider's default.
	ResyncPeriod time.Duration
	// Concurrency is how many Gateways reconcile at once (default 4). A slow
	// or failing cloud call for one Gateway holds up only its own worker.
	Concurrency int
}

// DefaultConcurrency is the number of Gateway workers when Config names none.
const DefaultConcurrency = 4

// rateLimiter is the per-Gateway backoff after errors: exponential from
// 100ms, capped at 5 minutes, so that under a cloud outage the requests for a
// failing Gateway thin out quickly while a recovered cloud is seen within
// minutes. An overall token bucket bounds bursts across Gateways.
func rateLimiter() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](100*time.Millisecond, 5*time.Minute),
		&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(20), 200)},
	)
}

// Setup registers the field indexes and the GatewayClass and Gateway
// controllers with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, cfg Config) error {
	if len(cfg.Providers) == 0 {
		return fmt.Errorf("no provider enabled")
	}
	byName := make(map[gwv1.GatewayController]providers.Provider, len(cfg.Providers))
	for _, p := range cfg.Providers {
		byName[gwv1.GatewayController(p.ControllerName())] = p
	}
	if err := setupIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return fmt.Errorf("setting up field indexes: %w", err)
	}
	routes, err := newRouteIndex(ctx, mgr.GetCache())
	if err != nil {
		return fmt.Errorf("setting up the route index: %w", err)
	}
	c := mgr.GetClient()
	e := enqueuer{c: c}

	concurrency := cfg.Concurrency
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	// Status writes do not change generation, so our own writes do not wake
	// us; a deletion (which sets deletionTimestamp) or a finalizer's removal
	// must.
	gen := builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, lifecycleChanged))

	classes := &GatewayClassReconciler{Client: c, Providers: byName}
	if err := ctrl.NewControllerManagedBy(mgr).
		Named("gatewayclass").
		For(&gwv1.GatewayClass{}, gen).
		Watches(&v1alpha1.LoadBalancerParameters{}, handler.EnqueueRequestsFromMapFunc(e.classesForParameters)).
		// Gateways coming, going or changing class move the class's
		// gateway-exists finalizer.
		Watches(&gwv1.Gateway{}, classUse{}).
		Complete(classes); err != nil {
		return err
	}

	ours := make(map[gwv1.GatewayController]bool, len(byName))
	for name := range byName {
		ours[name] = true
	}
	if err := mgr.Add(registerWhileRunning{gatewayCollector{reader: c, ours: ours, timeout: 5 * time.Second}}); err != nil {
		return err
	}
	// The Gateways' in-cluster Services (gatewayservice.go).
	services := &GatewayServiceReconciler{Client: c, Controllers: ours, Events: mgr.GetEventRecorder("cloudgate")}
	if err := services.SetupWithManager(mgr); err != nil {
		return err
	}
	clock := &routeClock{}
	gateways := &GatewayReconciler{Client: c, ClusterName: cfg.ClusterName, Providers: byName,
		APIReader: mgr.GetAPIReader(), Events: mgr.GetEventRecorder("cloudgate"), ResyncPeriod: cfg.ResyncPeriod,
		routeClock: clock, routeIndex: routes}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("gateway").
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency, RateLimiter: rateLimiter()}).
		// A dry run starts and ends with an annotation, which changes no
		// generation.
		For(&gwv1.Gateway{}, builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, lifecycleChanged, dryRunChanged))).
		Watches(&gwv1.GatewayClass{}, handler.EnqueueRequestsFromMapFunc(e.forClass), gen)
	for _, kind := range routeKinds() {
		b = b.Watches(kind, routeChanges{next: handler.EnqueueRequestsFromMapFunc(e.forRoute), clock: clock}, gen)
	}
	return b.
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(e.forService)).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(e.forEndpointSlice)).
		// Metadata only: a change to a referenced Secret wakes its Gateways,
		// but no Secret's data sits in the cache.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(e.forSecret), builder.OnlyMetadata).
		// The same for the ConfigMaps that hold client validation CAs.
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(e.forConfigMap), builder.OnlyMetadata).
		// Spec changes only: our own status writes must not wake us.
		Watches(&gwv1.BackendTLSPolicy{}, handler.EnqueueRequestsFromMapFunc(e.forPolicy), gen).
		Watches(&gwv1beta1.ReferenceGrant{}, handler.EnqueueRequestsFromMapFunc(e.forReferenceGrant)).
		// Their status writes change no generation, so ours do not wake us.
		Watches(&gwv1.ListenerSet{}, handler.EnqueueRequestsFromMapFunc(e.forListenerSet), gen).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(e.forNamespace), builder.WithPredicates(predicate.LabelChangedPredicate{})).
		Watches(&v1alpha1.LoadBalancerParameters{}, handler.EnqueueRequestsFromMapFunc(e.forParameters), gen).
		Complete(gateways)
}

// lifecycleChanged passes updates that start a deletion or change finalizers,
// which GenerationChangedPredicate may not see.
var lifecycleChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		if e.ObjectOld == nil || e.ObjectNew == nil {
			return false
		}
		return e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero() ||
			len(e.ObjectOld.GetFinalizers()) != len(e.ObjectNew.GetFinalizers())
	},
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
}
