package reconciler

import (
	"context"
	"errors"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// ListenerSets (gateway.networking.k8s.io/v1) add listeners to the Gateway
// their spec.parentRef names. The Gateway's reconcile owns them: it reads
// the ListenerSets naming it (indexListenerSetGateway) and the routes
// naming those (indexRouteListenerSet) into its snapshot, and writes the
// ListenerSets' status and the routes' status entries for them. So a route
// entry of kind ListenerSet is rewritten by the reconcile of the
// ListenerSet's parent, and one whose ListenerSet is gone by the
// reconcile of the Gateway that last owned it (listenerSetMemory).

// Field indexes for ListenerSets.
const (
	// indexListenerSetGateway: ListenerSet by "namespace/name" of the
	// Gateway its parentRef names.
	indexListenerSetGateway = "cloudgate.listenerSetGateway"
	// indexListenerSetSecret: ListenerSet by "namespace/name" of each
	// certificateRef of its listeners.
	indexListenerSetSecret = "cloudgate.listenerSetSecret"
	// indexListenerSetUsesSelector: ListenerSet by "true" when a listener
	// selects route namespaces by label.
	indexListenerSetUsesSelector = "cloudgate.listenerSetUsesSelector"
	// indexRouteListenerSet: a route (of each kind) by "namespace/name" of
	// each ListenerSet in its parentRefs or its status.
	indexRouteListenerSet = "cloudgate.routeListenerSet"
)

func listenerSetIndexes() []fieldIndex {
	out := []fieldIndex{
		{&gwv1.ListenerSet{}, indexListenerSetGateway, func(o client.Object) []string {
			if gw, ok := listenerSetParent(o.(*gwv1.ListenerSet)); ok {
				return []string{gw.String()}
			}
			return nil
		}},
		{&gwv1.ListenerSet{}, indexListenerSetSecret, listenerSetSecretKeys},
		{&gwv1.ListenerSet{}, indexListenerSetUsesSelector, func(o client.Object) []string {
			for _, l := range o.(*gwv1.ListenerSet).Spec.Listeners {
				if ar := l.AllowedRoutes; ar != nil && ar.Namespaces != nil && ar.Namespaces.From != nil && *ar.Namespaces.From == gwv1.NamespacesFromSelector {
					return []string{"true"}
				}
			}
			return nil
		}},
	}
	for _, kind := range routeKinds() {
		out = append(out, fieldIndex{kind, indexRouteListenerSet, func(o client.Object) []string { return keys(routeListenerSets(o)) }})
	}
	return out
}

// listenerSetParent is the Gateway a ListenerSet's parentRef names.
func listenerSetParent(ls *gwv1.ListenerSet) (types.NamespacedName, bool) {
	ref := ls.Spec.ParentRef
	if ref.Group != nil && *ref.Group != gwv1.GroupName || ref.Kind != nil && *ref.Kind != "Gateway" || ref.Name == "" {
		return types.NamespacedName{}, false
	}
	ns := ls.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	return types.NamespacedName{Namespace: ns, Name: string(ref.Name)}, true
}

// listenerSetSecretKeys names the Secrets a ListenerSet's listeners refer
// to; a reference without a namespace is to the ListenerSet's.
func listenerSetSecretKeys(o client.Object) []string {
	ls := o.(*gwv1.ListenerSet)
	var out []string
	for _, l := range ls.Spec.Listeners {
		if l.TLS == nil {
			continue
		}
		for _, ref := range l.TLS.CertificateRefs {
			if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
				continue
			}
			ns := ls.Namespace
			if ref.Namespace != nil {
				ns = string(*ref.Namespace)
			}
			out = append(out, ns+"/"+string(ref.Name))
		}
	}
	return out
}

// isListenerSetRef says whether a parentRef names a ListenerSet.
func isListenerSetRef(ref gwv1.ParentReference) bool {
	return (ref.Group == nil || *ref.Group == gwv1.GroupName) && ref.Kind != nil && *ref.Kind == "ListenerSet"
}

// routeListenerSets returns the ListenerSets a route names in its
// parentRefs or its status.
func routeListenerSets(o client.Object) map[types.NamespacedName]bool {
	return routeParents(o, isListenerSetRef)
}

// parents are the parentRefs one Gateway's reconcile answers for in
// routes' status: the Gateway's own and those of the ListenerSets it owns.
type parents struct {
	gateway types.NamespacedName
	sets    map[types.NamespacedName]bool
}

func (p parents) has(ref gwv1.ParentReference, routeNamespace string) bool {
	ns := routeNamespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	k := types.NamespacedName{Namespace: ns, Name: string(ref.Name)}
	if isListenerSetRef(ref) {
		return p.sets[k]
	}
	return parentIs(ref, routeNamespace, p.gateway)
}

// describe names a parentRef in an Event note.
func (p parents) describe(ref gwv1.ParentReference, routeNamespace string) string {
	ns := routeNamespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	kind := "Gateway"
	if isListenerSetRef(ref) {
		kind = "ListenerSet"
	}
	out := kind + " " + ns + "/" + string(ref.Name)
	if ref.SectionName != nil {
		out += " listener " + string(*ref.SectionName)
	}
	return out
}

// listenerSetMemory remembers, per Gateway, the ListenerSets its last
// reconcile owned, so that the route entries of one deleted since are
// removed by that Gateway: nothing else names it any more.
type listenerSetMemory struct {
	mu   sync.Mutex
	sets map[types.NamespacedName][]types.NamespacedName
}

func (m *listenerSetMemory) get(gw types.NamespacedName) []types.NamespacedName {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sets[gw]
}

func (m *listenerSetMemory) set(gw types.NamespacedName, sets []types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sets == nil {
		m.sets = map[types.NamespacedName][]types.NamespacedName{}
	}
	if len(sets) == 0 {
		delete(m.sets, gw)
		return
	}
	m.sets[gw] = sets
}

// gatewayObjects reads from the cache the ListenerSets naming the Gateway
// and the routes naming the Gateway or one of the ListenerSets it owns
// (each once), and the parents whose route entries it answers for.
func (r *GatewayReconciler) gatewayObjects(ctx context.Context, gw types.NamespacedName) ([]*gwv1.ListenerSet, []client.Object, parents, error) {
	owned := parents{gateway: gw, sets: map[types.NamespacedName]bool{}}
	var list gwv1.ListenerSetList
	if err := r.Client.List(ctx, &list, client.MatchingFields{indexListenerSetGateway: gw.String()}); err != nil {
		return nil, nil, owned, err
	}
	sets := make([]*gwv1.ListenerSet, 0, len(list.Items))
	for i := range list.Items {
		sets = append(sets, &list.Items[i])
		owned.sets[client.ObjectKeyFromObject(&list.Items[i])] = true
	}
	// A ListenerSet owned before and gone now: its route entries are
	// still this Gateway's to remove. One that names another Gateway now
	// is that Gateway's.
	for _, k := range r.listenerSets.get(gw) {
		if owned.sets[k] {
			continue
		}
		var ls gwv1.ListenerSet
		if err := r.Client.Get(ctx, k, &ls); err != nil {
			if ignoreGone(err) != nil {
				return nil, nil, owned, err
			}
			owned.sets[k] = true
		}
	}
	routes, err := r.gatewayRoutes(ctx, gw)
	if err != nil {
		return nil, nil, owned, err
	}
	// Without ListenerSets there is nothing to deduplicate.
	if len(owned.sets) == 0 {
		return sets, routes, owned, nil
	}
	type routeID struct {
		kind string
		key  types.NamespacedName
	}
	seen := make(map[routeID]bool, len(routes))
	for _, o := range routes {
		seen[routeID{routeKind(o), client.ObjectKeyFromObject(o)}] = true
	}
	for k := range owned.sets {
		more, err := listRoutes(ctx, r.Client, client.MatchingFields{indexRouteListenerSet: k.String()}, client.UnsafeDisableDeepCopy)
		if err != nil {
			return nil, nil, owned, err
		}
		for _, o := range more {
			id := routeID{routeKind(o), client.ObjectKeyFromObject(o)}
			if !seen[id] {
				seen[id] = true
				routes = append(routes, o)
			}
		}
	}
	return sets, routes, owned, nil
}

// rememberListenerSets records the ListenerSets a reconcile of gw wrote
// for, once its route statuses are written.
func (r *GatewayReconciler) rememberListenerSets(gw types.NamespacedName, sets []*gwv1.ListenerSet) {
	ks := make([]types.NamespacedName, 0, len(sets))
	for _, ls := range sets {
		ks = append(ks, client.ObjectKeyFromObject(ls))
	}
	r.listenerSets.set(gw, ks)
}

// writeListenerSetStatuses writes mapping's status of each ListenerSet,
// with Programmed lowered where the cloud is not ready yet: the
// ListenerSet's while its Gateway is not Programmed, a listener's while
// its port's load balancer listener is not.
func (r *GatewayReconciler) writeListenerSetStatuses(ctx context.Context, sets []*gwv1.ListenerSet, out realized, gatewayProgrammed bool) error {
	ready := readyPorts(out)
	var errs []error
	for _, ls := range sets {
		desired, ok := out.res.ListenerSets[client.ObjectKeyFromObject(ls)]
		if !ok {
			continue
		}
		if err := r.writeListenerSetStatus(ctx, ls, desired, ready, gatewayProgrammed); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *GatewayReconciler) writeListenerSetStatus(ctx context.Context, ls *gwv1.ListenerSet, desired gwv1.ListenerSetStatus, ready map[gwv1.PortNumber]bool, gatewayProgrammed bool) error {
	pending := func(conds []metav1.Condition, msg string) []metav1.Condition {
		conds = boundConditions(slices.Clone(conds))
		if c := findCondition(conds, string(gwv1.ListenerSetConditionProgrammed)); c != nil && c.Status == metav1.ConditionTrue {
			c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gwv1.ListenerSetReasonPending), msg
		}
		return conds
	}
	conds := boundConditions(slices.Clone(desired.Conditions))
	if !gatewayProgrammed {
		conds = pending(conds, "Waiting for the parent Gateway's load balancer")
	}
	return writeStatus(ctx, r.Client, r.apiReader(), ls, func(cur *gwv1.ListenerSet) (*gwv1.ListenerSet, bool) {
		now := metav1.Now()
		next := cur.DeepCopy()
		next.Status.Conditions = mergeConditions(cur.Status.Conditions, conds, now)
		ports := map[gwv1.SectionName]gwv1.PortNumber{}
		for _, l := range cur.Spec.Listeners {
			ports[l.Name] = l.Port
		}
		old := map[gwv1.SectionName][]metav1.Condition{}
		for _, l := range cur.Status.Listeners {
			old[l.Name] = l.Conditions
		}
		next.Status.Listeners = make([]gwv1.ListenerEntryStatus, 0, len(desired.Listeners))
		for _, l := range desired.Listeners {
			lc := boundConditions(slices.Clone(l.Conditions))
			if !ready[ports[l.Name]] {
				lc = pending(lc, "Waiting for the load balancer's listener")
			}
			l.Conditions = dropUnless(mergeConditions(old[l.Name], lc, now), lc, string(gwv1.ListenerConditionOverlappingTLSConfig))
			next.Status.Listeners = append(next.Status.Listeners, l)
		}
		changed := !equality.Semantic.DeepEqual(cur.Status, next.Status)
		if changed {
			log.FromContext(ctx).V(1).Info("Updating ListenerSet status", "listenerSet", client.ObjectKeyFromObject(cur))
		}
		return next, changed
	})
}

// readyPorts says, per port of the model, whether the cloud has its
// listener ready.
func readyPorts(out realized) map[gwv1.PortNumber]bool {
	ready := map[gwv1.PortNumber]bool{}
	if out.res.LoadBalancer == nil || out.cloud != nil {
		return ready
	}
	for _, l := range out.res.LoadBalancer.Listeners {
		ls, ok := out.status.Listeners[l.Name]
		ready[gwv1.PortNumber(l.Port)] = out.status.Ready || (ok && ls.Ready)
	}
	return ready
}

// The watches' side: the Gateways a change affects.

// listenerSetGateways adds the parent Gateways of the ListenerSets the
// index field maps value to.
func (e enqueuer) listenerSetGateways(ctx context.Context, field, value string, into map[types.NamespacedName]bool) {
	var list gwv1.ListenerSetList
	if err := e.c.List(ctx, &list, client.MatchingFields{field: value}); err != nil {
		log.FromContext(ctx).Error(err, "Listing ListenerSets by index", "index", field)
		return
	}
	for i := range list.Items {
		if gw, ok := listenerSetParent(&list.Items[i]); ok {
			into[gw] = true
		}
	}
}

// routeParentGateways adds the Gateways a route's parentRefs and status
// name, directly or through a ListenerSet (found in the cache: a
// ListenerSet that is gone has told its Gateway itself).
func (e enqueuer) routeParentGateways(ctx context.Context, o client.Object, into map[types.NamespacedName]bool) {
	for gw := range routeGateways(o) {
		into[gw] = true
	}
	for k := range routeListenerSets(o) {
		var ls gwv1.ListenerSet
		if err := e.c.Get(ctx, k, &ls); err != nil {
			continue
		}
		if gw, ok := listenerSetParent(&ls); ok {
			into[gw] = true
		}
	}
}

// forListenerSet enqueues the ListenerSet's parent Gateway (on an update,
// the old and the new one: the map function sees both).
func (e enqueuer) forListenerSet(_ context.Context, o client.Object) []reconcile.Request {
	ls, ok := o.(*gwv1.ListenerSet)
	if !ok {
		return nil
	}
	if gw, ok := listenerSetParent(ls); ok {
		return []reconcile.Request{{NamespacedName: gw}}
	}
	return nil
}
