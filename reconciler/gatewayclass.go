package reconciler

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
	"github.com/cloudgate-dev/cloudgate/mapping"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// GatewayClassReconciler accepts the GatewayClasses of enabled providers,
// publishes their supported features, and holds a class in use with the
// spec's gateway-exists finalizer, so that deleting a class never pulls the
// load balancers out from under its Gateways.
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
	if err := r.holdWhileUsed(ctx, &gc); err != nil {
		return ctrl.Result{}, err
	}
	if !gc.DeletionTimestamp.IsZero() {
		// Its status no longer matters; its Gateways keep working until
		// they are deleted or the class comes back.
		return ctrl.Result{}, nil
	}
	params, err := classParameters(ctx, r.Client, &gc)
	if err != nil {
		return ctrl.Result{}, err
	}
	res := mapping.BuildClass(&gc, params, p.Capabilities())

	next := gc.DeepCopy()
	next.Status.Conditions = mergeConditions(gc.Status.Conditions, boundConditions(res.Conditions), metav1.Now())
	next.Status.SupportedFeatures = res.SupportedFeatures
	if equality.Semantic.DeepEqual(gc.Status, next.Status) {
		return ctrl.Result{}, nil
	}
	log.FromContext(ctx).V(1).Info("Updating GatewayClass status", "gatewayClass", gc.Name)
	return ctrl.Result{}, ignoreGone(r.Client.Status().Update(ctx, next))
}

// holdWhileUsed adds the gateway-exists finalizer while any Gateway names the
// class, and removes it once none does (the spec's SHOULD). The cache may lag
// a Gateway's creation by a moment; the Gateway's own watch event brings the
// class back here, so the finalizer follows within one event.
func (r *GatewayClassReconciler) holdWhileUsed(ctx context.Context, gc *gwv1.GatewayClass) error {
	var gws gwv1.GatewayList
	if err := r.Client.List(ctx, &gws, client.MatchingFields{indexGatewayClass: gc.Name}); err != nil {
		return err
	}
	used := len(gws.Items) > 0
	if used == controllerutil.ContainsFinalizer(gc, gwv1.GatewayClassFinalizerGatewaysExist) {
		return nil
	}
	patch := client.MergeFromWithOptions(gc.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if used {
		controllerutil.AddFinalizer(gc, gwv1.GatewayClassFinalizerGatewaysExist)
	} else {
		controllerutil.RemoveFinalizer(gc, gwv1.GatewayClassFinalizerGatewaysExist)
	}
	log.FromContext(ctx).V(1).Info("Updating GatewayClass finalizer", "gatewayClass", gc.Name, "inUse", used)
	return ignoreGone(r.Client.Patch(ctx, gc, patch))
}

// ignoreGone treats an object deleted under us as done: the write it was for
// no longer matters.
func ignoreGone(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// classParameters returns the LoadBalancerParameters a class refers to, or
// none when the reference is absent, of another kind, or does not resolve
// (mapping then reports InvalidParameters).
func classParameters(ctx context.Context, c client.Reader, gc *gwv1.GatewayClass) ([]*v1alpha1.LoadBalancerParameters, error) {
	ref := gc.Spec.ParametersRef
	if ref == nil || ref.Namespace == nil || string(ref.Group) != v1alpha1.GroupVersion.Group || string(ref.Kind) != v1alpha1.KindLoadBalancerParameters {
		return nil, nil
	}
	return getParameters(ctx, c, types.NamespacedName{Namespace: string(*ref.Namespace), Name: ref.Name})
}

func getParameters(ctx context.Context, c client.Reader, key types.NamespacedName) ([]*v1alpha1.LoadBalancerParameters, error) {
	var p v1alpha1.LoadBalancerParameters
	if err := c.Get(ctx, key, &p); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return []*v1alpha1.LoadBalancerParameters{&p}, nil
}
