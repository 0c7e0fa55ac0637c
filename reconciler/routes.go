package reconciler

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// maxRouteParents is the CRD's bound on status.parents: a write with more
// entries is refused whole.
const maxRouteParents = 32

// writeRouteStatuses replaces, on each route, the parent statuses our
// controllers wrote for this Gateway and the ListenerSets it owns (owner)
// with desired's, and keeps every other parent status (other Gateways',
// other controllers'). With desired nil it removes ours, as when the
// Gateway goes away.
//
// One route's failed write does not stop the others': every route is tried,
// and the errors come back together.
//
// memo (may be nil) skips the routes whose status this Gateway last found
// or wrote as desired, unchanged since (same resourceVersion).
func (r *GatewayReconciler) writeRouteStatuses(ctx context.Context, owner parents, routes []client.Object, desired map[types.NamespacedName][]gwv1.RouteParentStatus, memo *routeStatusMemo) error {
	var errs []error
	for _, route := range routes {
		want := desired[client.ObjectKeyFromObject(route)]
		if memo.holds(route, want) {
			continue
		}
		rv, err := r.writeRouteStatus(ctx, owner, route, want)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		memo.remember(route, rv, want)
	}
	return errors.Join(errs...)
}

// writeRouteStatus writes one route's status when it changed (writeStatus
// retries conflicts), and returns the resourceVersion of the route that
// has it.
func (r *GatewayReconciler) writeRouteStatus(ctx context.Context, owner parents, route client.Object, want []gwv1.RouteParentStatus) (string, error) {
	var was, written client.Object
	var rv string
	err := writeStatus(ctx, r.Client, r.apiReader(), route, func(cur client.Object) (client.Object, bool) {
		next, changed := r.nextRouteStatus(owner, cur, want)
		was, written = nil, nil
		rv = cur.GetResourceVersion()
		if changed {
			log.FromContext(ctx).V(1).Info("Updating route status", "route", client.ObjectKeyFromObject(cur))
			was, written = cur, next
		}
		return next, changed
	})
	if err == nil && written != nil {
		r.reportRouteRefusals(owner, was, written)
		rv = written.GetResourceVersion()
	}
	return rv, err
}

// routeStatusMemo is, for one Gateway, each route's parent statuses as
// last found or written, by UID, with the resourceVersion they were in: a
// route with the same resourceVersion and the same desired statuses needs
// no comparison with the status it holds, nor a write. It holds for the
// ListenerSets the Gateway owned when it was made (they decide which
// parent statuses are ours).
//
// Its entries are kept from one reconcile to the next and marked with the
// reconcile that used them, rather than copied into a new map each time:
// at 3,000 routes the copy was most of the memo's cost and 300 KB of
// garbage per change.
type routeStatusMemo struct {
	sets   map[types.NamespacedName]bool
	routes map[types.UID]*routeStatusEntry
	// epoch counts reconciles; an entry no reconcile used since the last
	// began is dropped by done.
	epoch uint64
}

type routeStatusEntry struct {
	version string
	want    []gwv1.RouteParentStatus
	epoch   uint64
}

// routeStatusMemo is the Gateway's memo for a reconcile; done ends it.
func (r *GatewayReconciler) routeStatusMemo(owner parents) *routeStatusMemo {
	m, _ := r.routeStatuses.Load(owner.gateway)
	memo, _ := m.(*routeStatusMemo)
	if memo == nil || !maps.Equal(memo.sets, owner.sets) {
		memo = &routeStatusMemo{sets: maps.Clone(owner.sets), routes: map[types.UID]*routeStatusEntry{}}
		r.routeStatuses.Store(owner.gateway, memo)
	}
	memo.epoch++
	return memo
}

// holds says whether route's status is as want says, by what the memo
// last saw of it: first by resourceVersion, which rules out most routes of
// a changed Gateway without a look at their statuses.
func (m *routeStatusMemo) holds(route client.Object, want []gwv1.RouteParentStatus) bool {
	if m == nil || route.GetUID() == "" {
		return false
	}
	e := m.routes[route.GetUID()]
	if e == nil || e.version != route.GetResourceVersion() || !sameParentStatuses(e.want, want) {
		return false
	}
	// The statuses mapping's Cache handed out this time, equal to those
	// remembered: kept, so that the next reconcile, handed the same
	// slice, compares one pointer rather than every condition.
	e.want, e.epoch = want, m.epoch
	return true
}

func (m *routeStatusMemo) remember(route client.Object, version string, want []gwv1.RouteParentStatus) {
	if m == nil || route.GetUID() == "" || version == "" {
		return
	}
	if e := m.routes[route.GetUID()]; e != nil {
		e.version, e.want, e.epoch = version, want, m.epoch
		return
	}
	m.routes[route.GetUID()] = &routeStatusEntry{version: version, want: want, epoch: m.epoch}
}

// done keeps the entries of this reconcile's routes only: those it found
// as wanted or wrote. One whose write failed is looked at again.
func (m *routeStatusMemo) done() {
	maps.DeleteFunc(m.routes, func(_ types.UID, e *routeStatusEntry) bool { return e.epoch != m.epoch })
}

// nextRouteStatus returns route with our parent statuses for owner replaced
// by want, and whether that changed anything.
func (r *GatewayReconciler) nextRouteStatus(owner parents, route client.Object, want []gwv1.RouteParentStatus) (client.Object, bool) {
	current, ok := routeStatus(route)
	if !ok {
		return nil, false
	}
	now := metav1.Now()
	parents := make([]gwv1.RouteParentStatus, 0, len(current.Parents)+len(want))
	type ourParent struct {
		key        string
		conditions []metav1.Condition
	}
	// A slice, not a map: a route has a parent or two.
	var old []ourParent
	for _, p := range current.Parents {
		if r.Providers[p.ControllerName] != nil && owner.has(p.ParentRef, route.GetNamespace()) {
			old = append(old, ourParent{parentKey(p.ParentRef), p.Conditions})
			continue
		}
		parents = append(parents, p)
	}
	oldConditions := func(key string) []metav1.Condition {
		// The last of a key, as a map would have kept it.
		for i := len(old) - 1; i >= 0; i-- {
			if old[i].key == key {
				return old[i].conditions
			}
		}
		return nil
	}
	for _, p := range want {
		if len(parents) == maxRouteParents {
			// Other parents' entries came first and stay; a route with
			// more parentRefs than the CRD can report loses the rest of
			// ours rather than every status write.
			break
		}
		p.Conditions = mergeConditions(oldConditions(parentKey(p.ParentRef)), boundConditions(p.Conditions), now)
		parents = append(parents, p)
	}
	// Compared before the route is copied, field by field: most routes of
	// a Gateway keep their status when one changes, and a copy (or a
	// reflective comparison) of each would cost more than the rest of the
	// reconcile.
	if sameParentStatuses(current.Parents, parents) {
		return nil, false
	}
	next := route.DeepCopyObject().(client.Object)
	nextStatus, _ := routeStatus(next)
	// A copy of parents too: they share conditions with route, which may be
	// the cache's own object, and the write decodes its answer into next.
	nextStatus.Parents = make([]gwv1.RouteParentStatus, len(parents))
	for i := range parents {
		parents[i].DeepCopyInto(&nextStatus.Parents[i])
	}
	return next, true
}

// sameParentStatuses is equality.Semantic.DeepEqual for parent statuses
// (nil and empty alike, times by instant), without reflection.
func sameParentStatuses(a, b []gwv1.RouteParentStatus) bool {
	// mapping's Cache hands out the same statuses for a route whose
	// inputs did not change: one comparison, not one per condition, for
	// most of a large Gateway's routes.
	if len(a) == len(b) && len(a) > 0 && &a[0] == &b[0] {
		return true
	}
	return slices.EqualFunc(a, b, func(x, y gwv1.RouteParentStatus) bool {
		return x.ControllerName == y.ControllerName && sameParentRef(x.ParentRef, y.ParentRef) &&
			slices.EqualFunc(x.Conditions, y.Conditions, sameCondition)
	})
}

func sameParentRef(x, y gwv1.ParentReference) bool {
	return x.Name == y.Name && samePtr(x.Group, y.Group) && samePtr(x.Kind, y.Kind) &&
		samePtr(x.Namespace, y.Namespace) && samePtr(x.SectionName, y.SectionName) && samePtr(x.Port, y.Port)
}

func samePtr[T comparable](x, y *T) bool {
	return x == y || x != nil && y != nil && *x == *y
}

func sameCondition(x, y metav1.Condition) bool {
	return x.Type == y.Type && x.Status == y.Status && x.ObservedGeneration == y.ObservedGeneration &&
		x.Reason == y.Reason && x.Message == y.Message && x.LastTransitionTime.Equal(&y.LastTransitionTime)
}

func parentIs(ref gwv1.ParentReference, routeNamespace string, gw types.NamespacedName) bool {
	if ref.Group != nil && *ref.Group != gwv1.GroupName || ref.Kind != nil && *ref.Kind != "Gateway" {
		return false
	}
	ns := routeNamespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	return ns == gw.Namespace && string(ref.Name) == gw.Name
}

// parentKey identifies a parentRef within one route's status.
func parentKey(ref gwv1.ParentReference) string {
	k := string(ref.Name)
	// A Gateway and a ListenerSet may share a name.
	if isListenerSetRef(ref) {
		k = "ListenerSet:" + k
	}
	if ref.Namespace != nil {
		k = string(*ref.Namespace) + "/" + k
	}
	if ref.SectionName != nil {
		k += "#" + string(*ref.SectionName)
	}
	if ref.Port != nil {
		k += ":" + strconv.Itoa(int(*ref.Port))
	}
	return k
}
