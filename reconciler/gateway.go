package reconciler

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// DefaultResyncPeriod is the drift resync period of a provider that names none.
const DefaultResyncPeriod = 10 * time.Minute

// maxRefusalRounds bounds how often one reconcile leaves out refused routes and
// asks the cloud again.
const maxRefusalRounds = 3

// resyncer is implemented by providers whose API read limits call for a
// resync period of their own.
type resyncer interface {
	DefaultResyncPeriod() time.Duration
}

// GatewayReconciler turns a Gateway and its routes into a load balancer.
type GatewayReconciler struct {
	Client      client.Client
	ClusterName string
	Providers   map[gwv1.GatewayController]providers.Provider
	// APIReader reads from the API server, uncached (the manager's API
	// reader): the Secrets listeners refer to, so that no Secret data sits
	// in the cache, and objects again after a write conflict. Nil reads
	// through Client.
	APIReader client.Reader
	// Events records what happened to the load balancer on the Gateway, for
	// `kubectl describe`; nil records nothing.
	Events events.EventRecorder
	// ResyncPeriod is how often each Gateway's cloud resources are read
	// again to repair drift; zero means the provider's default.
	ResyncPeriod time.Duration

	observed observations
	// listenerSets remembers the ListenerSets each Gateway owned
	// (listenersets.go).
	listenerSets listenerSetMemory
	// routeClock times route changes (metrics_routes.go); nil times none.
	routeClock *routeClock
	// builds holds each Gateway's mapping.Cache, so that a change
	// converts only the routes whose inputs changed.
	builds sync.Map // types.NamespacedName -> *mapping.Cache
	// routeStatuses holds each Gateway's routeStatusMemo.
	routeStatuses sync.Map // types.NamespacedName -> *routeStatusMemo
	// routeIndex finds a Gateway's routes in the cache's stores; nil
	// lists them (routeindex.go).
	routeIndex *routeIndex
}

// cachedBuildMinRoutes is how many routes a Gateway needs before it keeps a
// mapping.Cache. Below it a whole Build costs little, while a cache per
// Gateway costs memory where Gateways are many: with a cache each,
// BenchmarkThousandGateways (5 routes each) went from 131 to 162 MiB RSS.
const cachedBuildMinRoutes = 100

// routeCount is how many routes of every kind the snapshot holds.
func routeCount(s *mapping.Snapshot) int {
	return len(s.HTTPRoutes) + len(s.GRPCRoutes) + len(s.TLSRoutes) + len(s.TCPRoutes) + len(s.UDPRoutes)
}

// buildCache is the Gateway's mapping.Cache.
func (r *GatewayReconciler) buildCache(gw types.NamespacedName) *mapping.Cache {
	if c, ok := r.builds.Load(gw); ok {
		return c.(*mapping.Cache)
	}
	c, _ := r.builds.LoadOrStore(gw, &mapping.Cache{})
	return c.(*mapping.Cache)
}

func (r *GatewayReconciler) apiReader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}

func (r *GatewayReconciler) resyncPeriod(p providers.Provider) time.Duration {
	if r.ResyncPeriod > 0 {
		return r.ResyncPeriod
	}
	if rs, ok := p.(resyncer); ok && rs.DefaultResyncPeriod() > 0 {
		return rs.DefaultResyncPeriod()
	}
	return DefaultResyncPeriod
}

// event records an event on the Gateway when a recorder is set; a note
// longer than the API server takes is cut.
func (r *GatewayReconciler) event(gw *gwv1.Gateway, eventType, reason, action, note string) {
	if r.Events != nil {
		r.Events.Eventf(gw, nil, eventType, reason, action, "%s", bounded(note, maxEventNote))
	}
}

// Reconcile implements reconcile.Reconciler.
func (r *GatewayReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var gw gwv1.Gateway
	if err := r.Client.Get(ctx, req.NamespacedName, &gw); err != nil {
		if apierrors.IsNotFound(err) {
			r.observed.forget(req.NamespacedName)
			r.listenerSets.set(req.NamespacedName, nil)
			r.builds.Delete(req.NamespacedName)
			r.routeStatuses.Delete(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	logger := log.FromContext(ctx).WithValues("gateway", req.NamespacedName)
	ctx = log.IntoContext(ctx, logger)

	var gc gwv1.GatewayClass
	switch err := r.Client.Get(ctx, client.ObjectKey{Name: string(gw.Spec.GatewayClassName)}, &gc); {
	case apierrors.IsNotFound(err):
		if !gw.DeletionTimestamp.IsZero() {
			return ctrl.Result{}, r.release(ctx, &gw)
		}
		// A missing class says nothing about who owns the Gateway: it may
		// be recreated a moment later. Keep the load balancer serving.
		return ctrl.Result{}, r.classMissing(ctx, &gw)
	case err != nil:
		return ctrl.Result{}, err
	}
	provider, ours := r.Providers[gc.Spec.ControllerName]
	if !gw.DeletionTimestamp.IsZero() || !ours {
		// Being deleted, or now naming a class of another controller:
		// remove what we built, then let go.
		return ctrl.Result{}, r.release(ctx, &gw)
	}
	if !controllerutil.ContainsFinalizer(&gw, Finalizer) {
		patch := client.MergeFromWithOptions(gw.DeepCopy(), client.MergeFromWithOptimisticLock{})
		controllerutil.AddFinalizer(&gw, Finalizer)
		if err := r.Client.Patch(ctx, &gw, patch); err != nil {
			return ctrl.Result{}, ignoreGone(err)
		}
	}

	sets, routes, owner, err := r.gatewayObjects(ctx, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, err
	}
	snap, err := loadSnapshot(ctx, r.Client, r.apiReader(), &gc, &gw, sets, routes)
	if err != nil {
		return ctrl.Result{}, err
	}
	snap.ClusterName = r.ClusterName
	snap.Capabilities = provider.Capabilities()
	var out realized
	if dry, invalidValue := dryRunOf(&gw); dry {
		out = r.plan(ctx, &gw, provider, snap, invalidValue)
	} else {
		out = r.realize(ctx, &gw, provider, snap)
	}
	res, status, cloud := out.res, out.status, out.cloud
	invalid := errors.Is(cloud, providers.ErrInvalid)

	var errs []error
	if err := r.writeGatewayStatus(ctx, &gw, out); err != nil {
		errs = append(errs, err)
	}
	gatewayProgrammed := out.programmed(gw.Generation).Status == metav1.ConditionTrue
	if err := r.writeListenerSetStatuses(ctx, sets, out, gatewayProgrammed); err != nil {
		errs = append(errs, err)
	}
	memo := r.routeStatusMemo(owner)
	kinds := routeSets(snap, res)
	for _, kind := range kinds {
		if err := r.writeRouteStatuses(ctx, owner, kind.routes, kind.desired, memo); err != nil {
			errs = append(errs, err)
		}
	}
	memo.done()
	if err := r.writePolicyStatuses(ctx, req.NamespacedName, res.BackendTLSPolicies); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		r.rememberListenerSets(req.NamespacedName, sets)
	}
	if len(errs) == 0 && cloud == nil && out.programmed(gw.Generation).Status == metav1.ConditionTrue {
		r.routesProgrammed(kinds, time.Now())
	}
	switch {
	case cloud != nil && !invalid:
		return ctrl.Result{}, cloud // back off
	case len(errs) > 0:
		return ctrl.Result{}, errors.Join(errs...)
	case out.dryRun != nil:
		// Plan again at the resync, as a drift repair would read again:
		// not sooner, since nothing is provisioning.
		return ctrl.Result{RequeueAfter: out.resync}, nil
	case res.LoadBalancer != nil && cloud == nil && !status.Ready:
		return ctrl.Result{RequeueAfter: notReadyRequeue}, nil
	case cloud == nil:
		// Come back when the cloud is due to be read again, for drift.
		return ctrl.Result{RequeueAfter: out.resync}, nil
	}
	return ctrl.Result{}, nil
}

// realized is what one reconcile made of a Gateway.
type realized struct {
	res    mapping.Result
	status lb.Status
	cloud  error
	// resync is how long until the cloud is due to be read again.
	resync time.Duration
	// dryRun is set when the Gateway asked for a dry run (dryrun.go).
	dryRun *dryRun
}

// programmed is the Gateway's Programmed condition after this reconcile.
func (out realized) programmed(gen int64) metav1.Condition {
	if out.dryRun != nil && out.dryRun.programmed != nil {
		return *out.dryRun.programmed
	}
	return programmedCondition(gen, out.res, out.status, out.cloud)
}

// realize builds the model and makes the cloud match it. When the cloud
// refuses parts of the model and names them, the routes behind those parts are
// left out (and told so), and the rest is applied: one route never blocks its
// Gateway.
func (r *GatewayReconciler) realize(ctx context.Context, gw *gwv1.Gateway, p providers.Provider, snap *mapping.Snapshot) realized {
	key := client.ObjectKeyFromObject(gw)
	gens := routeGenerations(snap)
	snap.Refused = r.observed.refusedRoutes(key, string(gw.UID), gens)
	var out realized
	build := mapping.Build
	if routeCount(snap) >= cachedBuildMinRoutes {
		build = r.buildCache(key).Build
	} else {
		r.builds.Delete(key)
	}
	for round := 0; ; round++ {
		out = r.ensure(ctx, gw, p, build(snap))
		var refusal *providers.InvalidError
		if !errors.As(out.cloud, &refusal) || round == maxRefusalRounds {
			break
		}
		r.event(gw, corev1.EventTypeWarning, "LoadBalancerRefused", "Ensure", out.cloud.Error())
		added := false
		for _, el := range refusal.Elements {
			for _, ref := range out.res.Sources[el] {
				if _, ok := snap.Refused[ref]; ok {
					continue
				}
				if snap.Refused == nil {
					snap.Refused = map[mapping.RouteRef]string{}
				}
				// Static text: the cloud's own words (with request
				// ids) go to the event above.
				snap.Refused[ref] = "the cloud refused the configuration of its rules (see the Gateway's events)"
				added = true
			}
		}
		if !added {
			break // nothing left to leave out: the refusal is the Gateway's own
		}
	}
	r.observed.setRefused(key, string(gw.UID), snap.Refused, gens)
	return out
}

// ensure applies one model (nil: no load balancer) unless the cloud already
// holds it and is not due to be read again.
func (r *GatewayReconciler) ensure(ctx context.Context, gw *gwv1.Gateway, p providers.Provider, res mapping.Result) realized {
	key := client.ObjectKeyFromObject(gw)
	fp := fingerprint(res.LoadBalancer)
	now := time.Now()
	if st, wait, ok := r.observed.fresh(key, string(gw.UID), fp, now); ok {
		return realized{res: res, status: st, resync: wait}
	}
	out := realized{res: res}
	if res.LoadBalancer == nil {
		out.cloud = p.Delete(ctx, r.owner(gw))
	} else {
		var done providers.Result
		done, out.cloud = p.Ensure(ctx, res.LoadBalancer)
		out.status = done.Status
		r.reportApplied(ctx, gw, providerLabel(p), done.Applied)
	}
	switch {
	case errors.Is(out.cloud, providers.ErrInvalid):
		r.observed.invalidate(key)
		var refusal *providers.InvalidError
		if !errors.As(out.cloud, &refusal) || len(refusal.Elements) == 0 {
			r.event(gw, corev1.EventTypeWarning, "LoadBalancerRefused", "Ensure", out.cloud.Error())
		}
	case out.cloud != nil:
		r.observed.invalidate(key)
		log.FromContext(ctx).Info("Cloud call failed; will retry with backoff", "error", out.cloud.Error())
		r.event(gw, corev1.EventTypeWarning, "CloudError", "Ensure", "The cloud API failed; retrying with backoff: "+out.cloud.Error())
	case res.LoadBalancer != nil && !out.status.Ready:
		// Still provisioning: read again soon, not at the next resync.
		r.observed.invalidate(key)
	default:
		out.resync = r.observed.record(key, string(gw.UID), fp, out.status, r.resyncPeriod(p), now)
	}
	return out
}

// routeGenerations looks up the generation of the snapshot's routes, for
// refusals. Its index is made at the first lookup: most reconciles have no
// refused route to look up, and for them an index of 3,000 routes would be
// garbage.
func routeGenerations(s *mapping.Snapshot) func(mapping.RouteRef) (int64, bool) {
	var index map[mapping.RouteRef]int64
	return func(ref mapping.RouteRef) (int64, bool) {
		if index == nil {
			index = make(map[mapping.RouteRef]int64, routeCount(s))
			for _, kind := range routeSets(s, mapping.Result{}) {
				for _, o := range kind.routes {
					index[mapping.RouteRef{Kind: kind.kind, Namespace: o.GetNamespace(), Name: o.GetName()}] = o.GetGeneration()
				}
			}
		}
		g, ok := index[ref]
		return g, ok
	}
}

// routeSet is one kind's routes of a snapshot beside the parent statuses
// mapping computed for them.
type routeSet struct {
	kind    string
	routes  []client.Object
	desired map[types.NamespacedName][]gwv1.RouteParentStatus
}

// routeSets lists the snapshot's routes kind by kind, for what is done to
// every route alike (status writes, route timings).
func routeSets(snap *mapping.Snapshot, res mapping.Result) []routeSet {
	return []routeSet{
		{"HTTPRoute", objects(snap.HTTPRoutes), res.Routes},
		{"GRPCRoute", objects(snap.GRPCRoutes), res.GRPCRoutes},
		{"TLSRoute", objects(snap.TLSRoutes), res.TLSRoutes},
		{"TCPRoute", objects(snap.TCPRoutes), res.TCPRoutes},
		{"UDPRoute", objects(snap.UDPRoutes), res.UDPRoutes},
	}
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

// classMissing reports, on a Gateway we manage, that its GatewayClass is gone,
// and keeps its load balancer: only the Gateway's deletion, or a class of
// another controller, removes it.
func (r *GatewayReconciler) classMissing(ctx context.Context, gw *gwv1.Gateway) error {
	if !controllerutil.ContainsFinalizer(gw, Finalizer) {
		return nil // never ours
	}
	c := metav1.Condition{
		Type: string(gwv1.GatewayConditionAccepted), Status: metav1.ConditionFalse,
		Reason: string(gwv1.GatewayReasonInvalid), ObservedGeneration: gw.Generation,
		Message: fmt.Sprintf("GatewayClass %q does not exist; the load balancer keeps serving the last accepted configuration until the class exists again or the Gateway is deleted", gw.Spec.GatewayClassName),
	}
	return r.updateGatewayStatus(ctx, gw, func(cur *gwv1.Gateway) *gwv1.Gateway {
		next := cur.DeepCopy()
		next.Status.Conditions = mergeConditions(cur.Status.Conditions, []metav1.Condition{c}, metav1.Now())
		return next
	})
}

// release deletes the Gateway's load balancer from every provider that may
// hold it, and then removes the finalizer.
func (r *GatewayReconciler) release(ctx context.Context, gw *gwv1.Gateway) error {
	if !controllerutil.ContainsFinalizer(gw, Finalizer) {
		return nil
	}
	for _, p := range r.Providers {
		if err := p.Delete(ctx, r.owner(gw)); err != nil {
			r.event(gw, corev1.EventTypeWarning, "CloudError", "Delete", "Deleting the load balancer failed; retrying with backoff: "+err.Error())
			return fmt.Errorf("deleting the load balancer from %s: %w", p.ControllerName(), err)
		}
	}
	r.observed.forget(client.ObjectKeyFromObject(gw))
	log.FromContext(ctx).Info("Deleted load balancer")
	r.event(gw, corev1.EventTypeNormal, "LoadBalancerDeleted", "Delete", "Deleted the load balancer and freed its address")
	_, routes, owner, err := r.gatewayObjects(ctx, client.ObjectKeyFromObject(gw))
	if err != nil {
		return err
	}
	r.routeStatuses.Delete(owner.gateway)
	if err := r.writeRouteStatuses(ctx, owner, routes, nil, nil); err != nil {
		return err
	}
	r.listenerSets.set(owner.gateway, nil)
	if err := r.writePolicyStatuses(ctx, client.ObjectKeyFromObject(gw), nil); err != nil {
		return err
	}
	// A patch, not an update: the Gateway's status may have moved on since
	// it was read, and a conflict here would only cost another cloud call.
	patch := client.MergeFrom(gw.DeepCopy())
	controllerutil.RemoveFinalizer(gw, Finalizer)
	return ignoreGone(r.Client.Patch(ctx, gw, patch))
}

// updateGatewayStatus writes next(gw)'s status when it differs from gw's
// (writeStatus retries conflicts).
func (r *GatewayReconciler) updateGatewayStatus(ctx context.Context, gw *gwv1.Gateway, next func(*gwv1.Gateway) *gwv1.Gateway) error {
	var was, written *gwv1.Gateway
	err := writeStatus(ctx, r.Client, r.apiReader(), gw, func(cur *gwv1.Gateway) (*gwv1.Gateway, bool) {
		n := next(cur)
		changed := !equality.Semantic.DeepEqual(cur.Status, n.Status)
		was, written = nil, nil
		if changed {
			log.FromContext(ctx).V(1).Info("Updating Gateway status")
			was, written = cur, n
		}
		return n, changed
	})
	if err == nil && written != nil {
		r.reportGatewayRefusals(was, written)
	}
	return err
}

// writeGatewayStatus merges mapping's verdict with the provider's and writes
// it when it changed.
func (r *GatewayReconciler) writeGatewayStatus(ctx context.Context, gw *gwv1.Gateway, out realized) error {
	res, st, cloud := out.res, out.status, out.cloud
	desired := res.Gateway
	programmed := out.programmed(gw.Generation)
	desired.Conditions = boundConditions(setCondition(append([]metav1.Condition(nil), desired.Conditions...), programmed))
	if out.dryRun != nil {
		// Bounded on its own: the plan may use the API server's whole limit.
		desired.Conditions = append(desired.Conditions, out.dryRun.condition)
	}

	listenerReady := map[gwv1.PortNumber]bool{}
	if res.LoadBalancer != nil && cloud == nil {
		for _, l := range res.LoadBalancer.Listeners {
			ls, ok := st.Listeners[l.Name]
			listenerReady[gwv1.PortNumber(l.Port)] = st.Ready || (ok && ls.Ready)
		}
	}
	return r.updateGatewayStatus(ctx, gw, func(gw *gwv1.Gateway) *gwv1.Gateway {
		now := metav1.Now()
		next := gw.DeepCopy()
		// The dry run's condition goes with the dry run,
		// InsecureFrontendValidationMode with the insecure mode, and
		// ResolvedRefs with spec.tls.backend's client certificate.
		next.Status.Conditions = dropUnless(mergeConditions(gw.Status.Conditions, desired.Conditions, now), desired.Conditions,
			ConditionDryRun, string(gwv1.GatewayConditionInsecureFrontendValidationMode), string(gwv1.GatewayConditionResolvedRefs))
		if cloud == nil {
			// After a failed call the last addresses stay: the load
			// balancer behind them most likely still serves.
			next.Status.Addresses = nil
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
		next.Status.AttachedListenerSets = desired.AttachedListenerSets
		next.Status.Listeners = make([]gwv1.ListenerStatus, 0, len(desired.Listeners))
		for _, l := range desired.Listeners {
			conds := boundConditions(append([]metav1.Condition(nil), l.Conditions...))
			if c := findCondition(conds, string(gwv1.ListenerConditionProgrammed)); c != nil && c.Status == metav1.ConditionTrue && !listenerReady[ports[l.Name]] {
				c.Status, c.Reason = metav1.ConditionFalse, string(gwv1.ListenerReasonPending)
				c.Message = "Waiting for the load balancer's listener"
			}
			l.Conditions = dropUnless(mergeConditions(old[l.Name], conds, now), conds, string(gwv1.ListenerConditionOverlappingTLSConfig))
			next.Status.Listeners = append(next.Status.Listeners, l)
		}
		return next
	})
}

// programmedCondition lowers mapping's Programmed=True while the cloud is not
// ready or refused the load balancer. Its messages are static: the cloud's
// own words (request ids, timestamps) go to Events, so that an error that
// repeats does not rewrite status.
func programmedCondition(gen int64, res mapping.Result, st lb.Status, cloud error) metav1.Condition {
	c := metav1.Condition{Type: string(gwv1.GatewayConditionProgrammed), ObservedGeneration: gen}
	if m := findCondition(res.Gateway.Conditions, string(gwv1.GatewayConditionProgrammed)); m != nil {
		c = *m
	}
	if c.Status != metav1.ConditionTrue && res.LoadBalancer == nil {
		return c
	}
	switch {
	case errors.Is(cloud, providers.ErrAddressNotUsable):
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gwv1.GatewayReasonAddressNotUsable), "The cloud cannot give the load balancer the addresses spec.addresses requests; the Gateway's events hold its answer"
	case errors.Is(cloud, providers.ErrInvalid):
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gwv1.GatewayReasonInvalid), "The cloud refused the load balancer's configuration; the Gateway's events hold its answer"
	case cloud != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gwv1.GatewayReasonPending), "The cloud API failed; retrying with backoff"
	case !st.Ready:
		msg := st.Message
		if msg == "" {
			msg = "Waiting for the load balancer"
		}
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gwv1.GatewayReasonPending), withNotes(msg, st.Notes)
	case len(st.Addresses) == 0:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gwv1.GatewayReasonAddressNotAssigned), "The load balancer has no address yet"
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, string(gwv1.GatewayReasonProgrammed), withNotes("The load balancer is programmed", st.Notes)
	}
	return c
}

// withNotes appends the provider's notes (static, as lb.Status says) to a
// Programmed message, where users look to see how their Gateway was
// realized.
func withNotes(msg string, notes []string) string {
	for _, n := range notes {
		msg += "; " + n
	}
	return msg
}
