package reconciler

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// Finalizer keeps a Gateway until its load balancer is gone from the cloud.
const Finalizer = "gateway.cloudgate.dev/load-balancer"

// notReadyRequeue is how soon a Gateway whose load balancer is still
// provisioning is looked at again.
const notReadyRequeue = 2 * time.Second

// GatewayReconciler turns a Gateway and its routes into a load balancer.
type GatewayReconciler struct {
	Client      client.Client
	ClusterName string
	Providers   map[gwv1.GatewayController]providers.Provider
	// SecretReader reads the Secrets listeners refer to, uncached (the
	// manager's API reader); nil reads them through Client.
	SecretReader client.Reader
	// Events records what happened to the load balancer on the Gateway, for
	// `kubectl describe`; nil records nothing.
	Events events.EventRecorder
}

func (r *GatewayReconciler) secretReader() client.Reader {
	if r.SecretReader != nil {
		return r.SecretReader
	}
	return r.Client
}

// event records an event on the Gateway when a recorder is set.
func (r *GatewayReconciler) event(gw *gwv1.Gateway, eventType, reason, action, note string) {
	if r.Events != nil {
		r.Events.Eventf(gw, nil, eventType, reason, action, "%s", note)
	}
}

// Reconcile implements reconcile.Reconciler.
func (r *GatewayReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var gw gwv1.Gateway
	if err := r.Client.Get(ctx, req.NamespacedName, &gw); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	logger := log.FromContext(ctx).WithValues("gateway", req.NamespacedName)
	ctx = log.IntoContext(ctx, logger)

	var gc gwv1.GatewayClass
	provider, ours := providers.Provider(nil), false
	switch err := r.Client.Get(ctx, client.ObjectKey{Name: string(gw.Spec.GatewayClassName)}, &gc); {
	case err == nil:
		provider, ours = r.Providers[gc.Spec.ControllerName]
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, err
	}

	if !gw.DeletionTimestamp.IsZero() || !ours {
		// Being deleted, or no longer ours (its class is gone or belongs to
		// another controller): remove what we built, then let go.
		return ctrl.Result{}, r.release(ctx, &gw)
	}
	if controllerutil.AddFinalizer(&gw, Finalizer) {
		if err := r.Client.Update(ctx, &gw); err != nil {
			return ctrl.Result{}, err
		}
	}

	snap, err := loadSnapshot(ctx, r.Client, r.secretReader(), &gc, &gw)
	if err != nil {
		return ctrl.Result{}, err
	}
	snap.ClusterName = r.ClusterName
	snap.Capabilities = provider.Capabilities()
	res := mapping.Build(snap)

	var (
		status lb.Status
		cloud  error
	)
	if res.LoadBalancer == nil {
		cloud = provider.Delete(ctx, r.owner(&gw))
	} else {
		status, cloud = provider.Ensure(ctx, res.LoadBalancer)
	}
	invalid := errors.Is(cloud, providers.ErrInvalid)
	switch {
	case invalid:
		r.event(&gw, corev1.EventTypeWarning, "LoadBalancerRefused", "Ensure", cloud.Error())
	case cloud != nil:
		logger.Error(cloud, "Cloud call failed; will retry")
		r.event(&gw, corev1.EventTypeWarning, "CloudError", "Ensure", "The cloud API failed; retrying with backoff: "+cloud.Error())
	}

	if err := r.writeGatewayStatus(ctx, &gw, res, status, cloud); err != nil {
		return ctrl.Result{}, err
	}
	for _, kind := range []struct {
		routes  []client.Object
		desired map[types.NamespacedName][]gwv1.RouteParentStatus
	}{
		{objects(snap.HTTPRoutes), res.Routes},
		{objects(snap.GRPCRoutes), res.GRPCRoutes},
		{objects(snap.TLSRoutes), res.TLSRoutes},
		{objects(snap.TCPRoutes), res.TCPRoutes},
		{objects(snap.UDPRoutes), res.UDPRoutes},
	} {
		if err := r.writeRouteStatuses(ctx, req.NamespacedName, kind.routes, kind.desired); err != nil {
			return ctrl.Result{}, err
		}
	}
	switch {
	case cloud != nil && !invalid:
		return ctrl.Result{}, cloud // back off
	case res.LoadBalancer != nil && cloud == nil && !status.Ready:
		return ctrl.Result{RequeueAfter: notReadyRequeue}, nil
	}
	return ctrl.Result{}, nil
}

// objects converts a typed route slice for the kind-neutral status writer.
func objects[T client.Object](in []T) []client.Object {
	out := make([]client.Object, len(in))
	for i, o := range in {
		out[i] = o
	}
	return out
}

func (r *GatewayReconciler) owner(gw *gwv1.Gateway) lb.Owner {
	return lb.Owner{Cluster: r.ClusterName, Namespace: gw.Namespace, Name: gw.Name, UID: string(gw.UID)}
}

// release deletes the Gateway's load balancer from every provider that may
// hold it, and then removes the finalizer.
func (r *GatewayReconciler) release(ctx context.Context, gw *gwv1.Gateway) error {
	if !controllerutil.ContainsFinalizer(gw, Finalizer) {
		return nil
	}
	for _, p := range r.Providers {
		if err := p.Delete(ctx, r.owner(gw)); err != nil {
			return fmt.Errorf("deleting the load balancer from %s: %w", p.ControllerName(), err)
		}
	}
	log.FromContext(ctx).Info("Deleted load balancer")
	r.event(gw, corev1.EventTypeNormal, "LoadBalancerDeleted", "Delete", "Deleted the load balancer and freed its address")
	routes, err := listRoutes(ctx, r.Client, client.MatchingFields{indexRouteGateway: client.ObjectKeyFromObject(gw).String()})
	if err != nil {
		return err
	}
	if err := r.writeRouteStatuses(ctx, client.ObjectKeyFromObject(gw), routes, nil); err != nil {
		return err
	}
	controllerutil.RemoveFinalizer(gw, Finalizer)
	return r.Client.Update(ctx, gw)
}

// writeGatewayStatus merges mapping's verdict with the provider's and writes
// it when it changed.
func (r *GatewayReconciler) writeGatewayStatus(ctx context.Context, gw *gwv1.Gateway, res mapping.Result, st lb.Status, cloud error) error {
	desired := res.Gateway
	programmed := programmedCondition(gw.Generation, res, st, cloud)
	desired.Conditions = setCondition(append([]metav1.Condition(nil), desired.Conditions...), programmed)

	listenerReady := map[gwv1.PortNumber]bool{}
	if res.LoadBalancer != nil && cloud == nil {
		for _, l := range res.LoadBalancer.Listeners {
			ls, ok := st.Listeners[l.Name]
			listenerReady[gwv1.PortNumber(l.Port)] = st.Ready || (ok && ls.Ready)
		}
	}

	now := metav1.Now()
	next := gw.DeepCopy()
	next.Status.Conditions = mergeConditions(gw.Status.Conditions, desired.Conditions, now)
	next.Status.Addresses = nil
	if cloud == nil {
		for _, a := range st.Addresses {
			t := gwv1.AddressType(a.Type)
			next.Status.Addresses = append(next.Status.Addresses, gwv1.GatewayStatusAddress{Type: &t, Value: a.Value})
		}
	}
	old := map[gwv1.SectionName][]metav1.Condition{}
	for _, l := range gw.Status.Listeners {
		old[l.Name] = l.Conditions
	}
	ports := map[gwv1.SectionName]gwv1.PortNumber{}
	for _, l := range gw.Spec.Listeners {
		ports[l.Name] = l.Port
	}
	next.Status.Listeners = make([]gwv1.ListenerStatus, 0, len(desired.Listeners))
	for _, l := range desired.Listeners {
		conds := append([]metav1.Condition(nil), l.Conditions...)
		if c := findCondition(conds, string(gwv1.ListenerConditionProgrammed)); c != nil && c.Status == metav1.ConditionTrue && !listenerReady[ports[l.Name]] {
			c.Status, c.Reason = metav1.ConditionFalse, string(gwv1.ListenerReasonPending)
			c.Message = "Waiting for the load balancer's listener"
		}
		l.Conditions = mergeConditions(old[l.Name], conds, now)
		next.Status.Listeners = append(next.Status.Listeners, l)
	}
	if equality.Semantic.DeepEqual(gw.Status, next.Status) {
		return nil
	}
	log.FromContext(ctx).V(1).Info("Updating Gateway status")
	return r.Client.Status().Update(ctx, next)
}

// programmedCondition lowers mapping's Programmed=True while the cloud is not
// ready or refused the load balancer.
func programmedCondition(gen int64, res mapping.Result, st lb.Status, cloud error) metav1.Condition {
	c := metav1.Condition{Type: string(gwv1.GatewayConditionProgrammed), ObservedGeneration: gen}
	if m := findCondition(res.Gateway.Conditions, string(gwv1.GatewayConditionProgrammed)); m != nil {
		c = *m
	}
	if c.Status != metav1.ConditionTrue && res.LoadBalancer == nil {
		return c
	}
	switch {
	case errors.Is(cloud, providers.ErrInvalid):
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gwv1.GatewayReasonInvalid), cloud.Error()
	case cloud != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gwv1.GatewayReasonPending), "The cloud API failed; retrying with backoff"
	case !st.Ready:
		msg := st.Message
		if msg == "" {
			msg = "Waiting for the load balancer"
		}
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gwv1.GatewayReasonPending), msg
	case len(st.Addresses) == 0:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gwv1.GatewayReasonAddressNotAssigned), "The load balancer has no address yet"
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, string(gwv1.GatewayReasonProgrammed), "The load balancer is programmed"
	}
	return c
}
