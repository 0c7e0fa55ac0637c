package reconciler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
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
	c := mgr.GetClient()
	e := enqueuer{c: c}

	classes := &GatewayClassReconciler{Client: c, Providers: byName}
	if err := ctrl.NewControllerManagedBy(mgr).
		Named("gatewayclass").
		For(&gwv1.GatewayClass{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.LoadBalancerParameters{}, handler.EnqueueRequestsFromMapFunc(e.classesForParameters)).
		Complete(classes); err != nil {
		return err
	}

	gateways := &GatewayReconciler{Client: c, ClusterName: cfg.ClusterName, Providers: byName,
		SecretReader: mgr.GetAPIReader(), Events: mgr.GetEventRecorder("cloudgate")}
	// Status writes do not change generation, so our own writes do not wake us.
	gen := builder.WithPredicates(predicate.GenerationChangedPredicate{})
	b := ctrl.NewControllerManagedBy(mgr).
		Named("gateway").
		For(&gwv1.Gateway{}, gen).
		Watches(&gwv1.GatewayClass{}, handler.EnqueueRequestsFromMapFunc(e.forClass), gen)
	for _, kind := range routeKinds() {
		b = b.Watches(kind, handler.EnqueueRequestsFromMapFunc(e.forRoute), gen)
	}
	return b.
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(e.forService)).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(e.forEndpointSlice)).
		// Metadata only: a change to a referenced Secret wakes its Gateways,
		// but no Secret's data sits in the cache.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(e.forSecret), builder.OnlyMetadata).
		Watches(&gwv1beta1.ReferenceGrant{}, handler.EnqueueRequestsFromMapFunc(e.forReferenceGrant)).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(e.forNamespace), builder.WithPredicates(predicate.LabelChangedPredicate{})).
		Watches(&v1alpha1.LoadBalancerParameters{}, handler.EnqueueRequestsFromMapFunc(e.forParameters), gen).
		Complete(gateways)
}
