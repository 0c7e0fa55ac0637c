package reconciler

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// routeClock times route changes for cloudgate_route_programmed_seconds: it
// holds, per route, the newest generation the watch delivered and when, until
// a parent Gateway's reconcile has it programmed. It holds at most one entry
// per route that names a Gateway, and forgets a route when it is deleted.
type routeClock struct {
	mu      sync.Mutex
	pending map[types.UID]routeSeen
}

type routeSeen struct {
	generation int64
	at         time.Time
}

// seen notes that the controller received o's generation at at, unless it
// already had.
func (c *routeClock) seen(o client.Object, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.pending[o.GetUID()]; ok && p.generation == o.GetGeneration() {
		return
	}
	if c.pending == nil {
		c.pending = map[types.UID]routeSeen{}
	}
	c.pending[o.GetUID()] = routeSeen{generation: o.GetGeneration(), at: at}
}

func (c *routeClock) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, uid)
}

// programmed ends the timing of the route's generation, if it was being
// timed, and returns how long it took. A pending generation older than the
// one programmed was overtaken before it was measured (the cache can hand a
// reconcile a generation before the watch's handler has seen it): it is
// dropped, and the newer one is timed from when the handler sees it.
func (c *routeClock) programmed(uid types.UID, generation int64, at time.Time) (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.programmedLocked(uid, generation, at)
}

func (c *routeClock) programmedLocked(uid types.UID, generation int64, at time.Time) (time.Duration, bool) {
	p, ok := c.pending[uid]
	if !ok || p.generation > generation {
		return 0, false
	}
	delete(c.pending, uid)
	return at.Sub(p.at), p.generation == generation
}

// programmedRoutes ends the timing of every route of sets that a parent
// accepted, under one lock. Most reconciles have nothing pending (no route
// changed, or another Gateway's did): they look at no route.
func (c *routeClock) programmedRoutes(sets []routeSet, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		return
	}
	for _, kind := range sets {
		for _, route := range kind.routes {
			if _, ok := c.pending[route.GetUID()]; !ok || !acceptedByAny(kind.desired[client.ObjectKeyFromObject(route)]) {
				continue
			}
			if d, ok := c.programmedLocked(route.GetUID(), route.GetGeneration(), at); ok {
				observeRouteProgrammed(d)
			}
		}
	}
}

// routeChanges is the route watches' handler: it starts the clock of every
// new route and new route generation that names a Gateway (or a
// ListenerSet), then enqueues as
// next does. The initial list of a (re)start is not a change: a route edited
// while no controller ran is not timed, since nobody saw when.
type routeChanges struct {
	next  handler.EventHandler
	clock *routeClock
}

// namesParent says whether a route names a Gateway or a ListenerSet.
func namesParent(o client.Object) bool {
	return len(routeGateways(o)) > 0 || len(routeListenerSets(o)) > 0
}

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

func (h routeChanges) Create(ctx context.Context, e event.CreateEvent, q queue) {
	if !e.IsInInitialList && namesParent(e.Object) {
		h.clock.seen(e.Object, time.Now())
	}
	h.next.Create(ctx, e, q)
}

func (h routeChanges) Update(ctx context.Context, e event.UpdateEvent, q queue) {
	if e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() && namesParent(e.ObjectNew) {
		h.clock.seen(e.ObjectNew, time.Now())
	}
	h.next.Update(ctx, e, q)
}

func (h routeChanges) Delete(ctx context.Context, e event.DeleteEvent, q queue) {
	h.clock.forget(e.Object.GetUID())
	h.next.Delete(ctx, e, q)
}

func (h routeChanges) Generic(ctx context.Context, e event.GenericEvent, q queue) {
	h.next.Generic(ctx, e, q)
}

// routesProgrammed ends the timing of every route of sets (the
// snapshot's, with this reconcile's statuses) that this Gateway accepted:
// the reconcile that calls it has applied them to the cloud, and written
// Programmed=True and the routes' statuses.
func (r *GatewayReconciler) routesProgrammed(sets []routeSet, at time.Time) {
	if r.routeClock != nil {
		r.routeClock.programmedRoutes(sets, at)
	}
}

func acceptedByAny(parents []gwv1.RouteParentStatus) bool {
	for _, p := range parents {
		if c := findCondition(p.Conditions, string(gwv1.RouteConditionAccepted)); c != nil && c.Status == metav1.ConditionTrue {
			return true
		}
	}
	return false
}
