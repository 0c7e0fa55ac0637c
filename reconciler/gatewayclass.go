package reconciler

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
	"github.com/cloudgate-dev/cloudgate/mapping"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// GatewayClassReconciler accepts the GatewayClasses of enabled providers and
// publishes their supported features.
type GatewayClassReconciler struct {
	Client    client.Client
	Providers map[gwv1.GatewayController]providers.Provider
}

// Reconcile implements reconcile.Reconciler.
func (r *GatewayClassReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var gc gwv1.GatewayClass
	if err := r.Client.Get(ctx, req.NamespacedName, &gc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	p, ok := r.Providers[gc.Spec.ControllerName]
	if !ok {
		return ctrl.Result{}, nil
	}
	params, err := classParameters(ctx, r.Client, &gc)
	if err != nil {
		return ctrl.Result{}, err
	}
	res := mapping.BuildClass(&gc, params, p.Capabilities())

	next := gc.DeepCopy()
	next.Status.Conditions = mergeConditions(gc.Status.Conditions, res.Conditions, metav1.Now())
	next.Status.SupportedFeatures = res.SupportedFeatures
	if equality.Semantic.DeepEqual(gc.Status, next.Status) {
		return ctrl.Result{}, nil
	}
	log.FromContext(ctx).V(1).Info("Updating GatewayClass status", "gatewayClass", gc.Name)
	return ctrl.Result{}, r.Client.Status().Update(ctx, next)
}

// classParameters returns the LoadBalancerParameters a class refers to, or
// none when the reference is absent, of another kind, or does not resolve
// (mapping then reports InvalidParameters).
func classParameters(ctx context.Context, c client.Client, gc *gwv1.GatewayClass) ([]*v1alpha1.LoadBalancerParameters, error) {
	ref := gc.Spec.ParametersRef
	if ref == nil || ref.Namespace == nil || string(ref.Group) != v1alpha1.GroupVersion.Group || string(ref.Kind) != v1alpha1.KindLoadBalancerParameters {
		return nil, nil
	}
	return getParameters(ctx, c, types.NamespacedName{Namespace: string(*ref.Namespace), Name: ref.Name})
}

func getParameters(ctx context.Context, c client.Client, key types.NamespacedName) ([]*v1alpha1.LoadBalancerParameters, error) {
	var p v1alpha1.LoadBalancerParameters
	if err := c.Get(ctx, key, &p); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return []*v1alpha1.LoadBalancerParameters{&p}, nil
}
