package reconciler

import (
	"context"
	"errors"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// GatewayServiceReconciler gives each Gateway of our classes a Service in
// its namespace, GatewayServiceName(gateway), through which in-cluster
// clients reach the Gateway by name: an ExternalName alias of the load
// balancer's hostname, or a headless Service whose EndpointSlices hold its
// IP addresses (why headless: see serviceKind). It depends on nothing but
// the Gateway's status addresses and listeners, so every provider gets the
// same. The Service and its EndpointSlices carry the Gateway's
// spec.infrastructure labels and annotations (GEP-1867), the spec's
// gateway-name label and LabelManagedBy, and a controller owner reference
// to the Gateway, so that the garbage collector removes them with it.
//
// It runs as a controller of its own, beside the Gateway reconciler, woken
// by the Gateway's addresses, spec and lifecycle, its class, and changes to
// its Service and EndpointSlices. Rules:
//   - A Service or EndpointSlice that is not ours (LabelManagedBy and a
//     controller reference to a Gateway of that name) is never changed or
//     deleted: a Service of another owner with the name makes the condition
//     ConditionInClusterService False/NameTaken and a Warning Event, and our
//     EndpointSlices for that name are removed, so that they never add
//     addresses to someone else's Service.
//   - No address (not programmed yet, not accepted), a Gateway being
//     deleted, or a class of another controller: the Service and its
//     slices are deleted. A missing class keeps them, as the load balancer
//     keeps serving.
//   - The condition is there only while something is wrong; it is removed
//     when the Service matches the addresses again.
type GatewayServiceReconciler struct {
	Client client.Client
	// APIReader reads the Gateway again after a status write conflict
	// (nil: Client).
	APIReader client.Reader
	// Controllers are the controller names of enabled providers.
	Controllers map[gwv1.GatewayController]bool
	// Events records refusals on the Gateway; nil records nothing.
	Events events.EventRecorder
}

// conflictRequeue is how soon a reconcile that lost a write race runs again:
// a conflict is routine (the Gateway reconciler writes the same status),
// not an error to log.
const conflictRequeue = 200 * time.Millisecond

// SetupWithManager registers the reconciler with mgr.
func (r *GatewayServiceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("gatewayservice").
		For(&gwv1.Gateway{}, builder.WithPredicates(serviceInputsChanged)).
		Watches(&gwv1.GatewayClass{}, handler.EnqueueRequestsFromMapFunc(r.forClass), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// Services by name rather than owner: a foreign Service that frees
		// the name must wake the Gateway too.
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(r.forService)).
		Owns(&discoveryv1.EndpointSlice{}).
		Complete(r)
}

// serviceInputsChanged passes the Gateway updates that change its Service:
// spec (listeners, infrastructure: generation), status addresses, deletion.
// The Gateway reconciler's other status writes do not.
var serviceInputsChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*gwv1.Gateway)
		n, ok2 := e.ObjectNew.(*gwv1.Gateway)
		if !ok1 || !ok2 {
			return true
		}
		return o.Generation != n.Generation || o.DeletionTimestamp.IsZero() != n.DeletionTimestamp.IsZero() ||
			!equality.Semantic.DeepEqual(o.Status.Addresses, n.Status.Addresses)
	},
}

func (r *GatewayServiceReconciler) forClass(ctx context.Context, o client.Object) []reconcile.Request {
	var gws gwv1.GatewayList
	if err := r.Client.List(ctx, &gws); err != nil {
		log.FromContext(ctx).Error(err, "Listing Gateways")
		return nil
	}
	var out []reconcile.Request
	for i := range gws.Items {
		if string(gws.Items[i].Spec.GatewayClassName) == o.GetName() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&gws.Items[i])})
		}
	}
	return out
}

// forService maps a Service to the Gateway that owns it, or whose name it
// takes.
func (r *GatewayServiceReconciler) forService(ctx context.Context, o client.Object) []reconcile.Request {
	if ref := metav1.GetControllerOf(o); ref != nil && ref.Kind == "Gateway" {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: ref.Name}}}
	}
	if !strings.HasSuffix(o.GetName(), serviceSuffix) {
		return nil
	}
	var gws gwv1.GatewayList
	if err := r.Client.List(ctx, &gws, client.InNamespace(o.GetNamespace())); err != nil {
		log.FromContext(ctx).Error(err, "Listing Gateways", "namespace", o.GetNamespace())
		return nil
	}
	for i := range gws.Items {
		if GatewayServiceName(gws.Items[i].Name) == o.GetName() {
			return []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(&gws.Items[i])}}
		}
	}
	return nil
}

// Reconcile implements reconcile.Reconciler.
func (r *GatewayServiceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var gw gwv1.Gateway
	if err := r.Client.Get(ctx, req.NamespacedName, &gw); err != nil {
		if apierrors.IsNotFound(err) {
			// Gone: the garbage collector would remove what it owned, but
			// not before the next Gateway of that name wants the name.
			return r.done(r.removeAll(ctx, req.Namespace, req.Name, ""))
		}
		return ctrl.Result{}, err
	}
	var gc gwv1.GatewayClass
	switch err := r.Client.Get(ctx, client.ObjectKey{Name: string(gw.Spec.GatewayClassName)}, &gc); {
	case apierrors.IsNotFound(err):
		if gw.DeletionTimestamp.IsZero() {
			return ctrl.Result{}, nil // the load balancer keeps serving; so does its Service
		}
	case err != nil:
		return ctrl.Result{}, err
	}
	want := desiredGatewayService(&gw)
	if !gw.DeletionTimestamp.IsZero() {
		// No condition to clear: the Gateway goes too.
		return r.done(r.removeAll(ctx, gw.Namespace, gw.Name, ""))
	}
	if !r.Controllers[gc.Spec.ControllerName] || want.kind == noService {
		if err := r.removeAll(ctx, gw.Namespace, gw.Name, ""); err != nil {
			return r.done(err)
		}
		return r.done(r.setCondition(ctx, &gw, nil))
	}

	problem, err := r.ensureService(ctx, &gw, want)
	if err == nil {
		keep := ""
		if problem == nil || problem.reason != ReasonServiceNameTaken {
			keep = want.name
			err = r.ensureSlices(ctx, &gw, want)
		}
		if err == nil {
			// Whatever else is ours (a Service of an earlier name scheme,
			// slices of the name that is taken) goes.
			err = r.removeAll(ctx, gw.Namespace, gw.Name, keep)
		}
	}
	if err != nil {
		return r.done(err)
	}
	if problem == nil {
		problem = want.problem
	}
	return r.done(r.setCondition(ctx, &gw, problem))
}

// done turns a write conflict into a quick requeue: another writer (the
// Gateway reconciler, a user) got there first, which is routine.
func (r *GatewayServiceReconciler) done(err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return ctrl.Result{RequeueAfter: conflictRequeue}, nil
	}
	// A namespace being deleted refuses new objects; its Gateways go too.
	if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, err
}

// ensureService creates or updates the Service; a Service of that name that
// is not ours is left alone and reported.
func (r *GatewayServiceReconciler) ensureService(ctx context.Context, gw *gwv1.Gateway, want gatewayService) (*serviceProblem, error) {
	var cur corev1.Service
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: gw.Namespace, Name: want.name}, &cur)
	switch {
	case apierrors.IsNotFound(err):
		return nil, r.createService(ctx, gw, want)
	case err != nil:
		return nil, err
	}
	if !controlledBy(&cur, gw.Name) {
		return &serviceProblem{ReasonServiceNameTaken, "Service " + want.name + " exists and is not Cloudgate's: in-cluster clients cannot reach the Gateway through it; delete or rename that Service to have Cloudgate create it"}, nil
	}
	next := cur.DeepCopy()
	metaChanged := setMetadata(next, gw)
	ownerChanged := setOwner(next, gw)
	specChanged, recreate := setServiceSpec(next, want)
	if recreate {
		log.FromContext(ctx).Info("Recreating Gateway Service", "service", want.name, "type", want.kind)
		err := r.Client.Delete(ctx, &cur, client.Preconditions{UID: &cur.UID, ResourceVersion: &cur.ResourceVersion})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
		return nil, r.createService(ctx, gw, want)
	}
	if !metaChanged && !ownerChanged && !specChanged {
		return nil, nil
	}
	log.FromContext(ctx).V(1).Info("Updating Gateway Service", "service", want.name)
	return nil, r.Client.Update(ctx, next) // the cache's resourceVersion: a change since is a conflict
}

func (r *GatewayServiceReconciler) createService(ctx context.Context, gw *gwv1.Gateway, want gatewayService) error {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: gw.Namespace, Name: want.name}}
	setMetadata(svc, gw)
	setOwner(svc, gw)
	setServiceSpec(svc, want)
	log.FromContext(ctx).V(1).Info("Creating Gateway Service", "service", want.name)
	// Create, never apply: if someone else's Service took the name since
	// the cache was read, this fails instead of writing over it.
	return r.Client.Create(ctx, svc)
}

// setOwner makes gw the controller owner (a Gateway of the same name
// deleted and created again has a new UID). It reports whether that changed
// anything.
func setOwner(obj metav1.Object, gw *gwv1.Gateway) bool {
	before := metav1.GetControllerOf(obj)
	if before != nil && before.UID == gw.UID {
		return false
	}
	refs := obj.GetOwnerReferences()[:0:0]
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller == nil || !*ref.Controller {
			refs = append(refs, ref)
		}
	}
	obj.SetOwnerReferences(refs)
	// Not BlockOwnerDeletion: that needs update on gateways/finalizers where
	// the OwnerReferencesPermissionEnforcement admission runs, and nothing
	// needs the Gateway to wait for its Service.
	ref := *metav1.NewControllerRef(gw, schema.GroupVersionKind{Group: gwv1.GroupVersion.Group, Version: gwv1.GroupVersion.Version, Kind: "Gateway"})
	ref.BlockOwnerDeletion = nil
	obj.SetOwnerReferences(append(obj.GetOwnerReferences(), ref))
	return true
}

// ensureSlices makes the Service's EndpointSlices hold the Gateway's IPs,
// one slice per address family; an ExternalName Service has none.
func (r *GatewayServiceReconciler) ensureSlices(ctx context.Context, gw *gwv1.Gateway, want gatewayService) error {
	slices, err := r.ownedSlices(ctx, gw.Namespace, gw.Name)
	if err != nil {
		return err
	}
	have := map[string]*discoveryv1.EndpointSlice{}
	for _, es := range slices {
		have[es.Name] = es
	}
	for _, family := range []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6} {
		name := sliceName(want.name, family)
		cur := have[name]
		delete(have, name)
		if want.kind != headless || len(want.ips[family]) == 0 {
			if cur != nil {
				have[name] = cur // deleted below
			}
			continue
		}
		if cur != nil && cur.AddressType != family {
			// addressType is immutable.
			if err := r.deleteOwned(ctx, cur); err != nil {
				return err
			}
			cur = nil
		}
		if cur == nil {
			var taken discoveryv1.EndpointSlice
			if err := r.Client.Get(ctx, client.ObjectKey{Namespace: gw.Namespace, Name: name}, &taken); err == nil {
				// Not ours (ownedSlices would have listed it): leave it.
				continue
			} else if !apierrors.IsNotFound(err) {
				return err
			}
			es := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: gw.Namespace, Name: name}}
			setMetadata(es, gw)
			setOwner(es, gw)
			setSlice(es, want, family)
			if err := r.Client.Create(ctx, es); err != nil {
				return err
			}
			continue
		}
		next := cur.DeepCopy()
		changed := setMetadata(next, gw)
		changed = setOwner(next, gw) || changed
		changed = setSlice(next, want, family) || changed
		if changed {
			if err := r.Client.Update(ctx, next); err != nil {
				return err
			}
		}
	}
	for _, es := range have {
		if err := r.deleteOwned(ctx, es); err != nil {
			return err
		}
	}
	return nil
}

// ownedSlices lists our EndpointSlices of Gateway name.
func (r *GatewayServiceReconciler) ownedSlices(ctx context.Context, ns, name string) ([]*discoveryv1.EndpointSlice, error) {
	var list discoveryv1.EndpointSliceList
	if err := r.Client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{LabelManagedBy: ManagedBy}); err != nil {
		return nil, err
	}
	var out []*discoveryv1.EndpointSlice
	for i := range list.Items {
		if controlledBy(&list.Items[i], name) {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

// removeAll deletes the Services and EndpointSlices we made for Gateway name
// in ns, but for the Service named keep and its slices.
func (r *GatewayServiceReconciler) removeAll(ctx context.Context, ns, name, keep string) error {
	var svcs corev1.ServiceList
	if err := r.Client.List(ctx, &svcs, client.InNamespace(ns), client.MatchingLabels{LabelManagedBy: ManagedBy}); err != nil {
		return err
	}
	var errs []error
	for i := range svcs.Items {
		if s := &svcs.Items[i]; s.Name != keep && controlledBy(s, name) {
			log.FromContext(ctx).V(1).Info("Deleting Gateway Service", "service", s.Name)
			errs = append(errs, r.deleteOwned(ctx, s))
		}
	}
	slices, err := r.ownedSlices(ctx, ns, name)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, es := range slices {
		if keep == "" || es.Labels[discoveryv1.LabelServiceName] != keep {
			errs = append(errs, r.deleteOwned(ctx, es))
		}
	}
	return errors.Join(errs...)
}

// deleteOwned deletes obj if it is still the object we read (its UID): one
// that replaced it meanwhile may be someone else's.
func (r *GatewayServiceReconciler) deleteOwned(ctx context.Context, obj client.Object) error {
	uid := obj.GetUID()
	return client.IgnoreNotFound(r.Client.Delete(ctx, obj, client.Preconditions{UID: &uid}))
}

// setCondition writes ConditionInClusterService (nil: removes it) when it
// changes, with a Warning Event when it appears or changes.
func (r *GatewayServiceReconciler) setCondition(ctx context.Context, gw *gwv1.Gateway, p *serviceProblem) error {
	var desired *metav1.Condition
	if p != nil {
		desired = &metav1.Condition{Type: ConditionInClusterService, Status: metav1.ConditionFalse, Reason: p.reason,
			Message: bounded(p.message, maxMessageBytes), ObservedGeneration: gw.Generation}
	}
	cur := findCondition(gw.Status.Conditions, ConditionInClusterService)
	if desired == nil && cur == nil {
		return nil
	}
	reader := r.APIReader
	if reader == nil {
		reader = r.Client
	}
	var told *metav1.Condition
	err := writeStatus(ctx, r.Client, reader, gw, func(cur *gwv1.Gateway) (*gwv1.Gateway, bool) {
		next := cur.DeepCopy()
		old := findCondition(cur.Status.Conditions, ConditionInClusterService)
		if desired == nil {
			next.Status.Conditions = dropUnless(cur.Status.Conditions, nil, ConditionInClusterService)
		} else {
			next.Status.Conditions = mergeConditions(cur.Status.Conditions, []metav1.Condition{*desired}, metav1.Now())
		}
		told = nil
		if desired != nil && (old == nil || old.Reason != desired.Reason || old.Message != desired.Message) {
			told = desired
		}
		return next, !equality.Semantic.DeepEqual(cur.Status.Conditions, next.Status.Conditions)
	})
	if err == nil && told != nil && r.Events != nil {
		r.Events.Eventf(gw, nil, corev1.EventTypeWarning, told.Reason, "EnsureService", "%s", bounded(told.Message, maxEventNote))
	}
	return err
}

var _ reconcile.Reconciler = &GatewayServiceReconciler{}
