package e2e

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// A ListenerSet adds a listener to a Gateway that allows it; a route
// attached to the ListenerSet serves on that listener only. Changing the
// ListenerSet reprograms the load balancer; deleting it takes its
// listener away and removes the route's status entry for it.
func TestListenerSetAddsListenersAndCarriesRoutes(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "gw-app")
	backend(t, ns, "set-app")
	same := gwv1.NamespacesFromSame
	gw := gateway(ns, "gw", httpListener("http", 80))
	gw.Spec.Listeners[0].Hostname = hostname("gw.example.com")
	gw.Spec.AllowedListeners = &gwv1.AllowedListeners{Namespaces: &gwv1.ListenerNamespaces{From: &same}}
	ls := &gwv1.ListenerSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team"},
		Spec: gwv1.ListenerSetSpec{
			ParentRef: gwv1.ParentGatewayReference{Name: "gw"},
			Listeners: []gwv1.ListenerEntry{{Name: "extra", Port: 80, Protocol: gwv1.HTTPProtocolType, Hostname: hostname("set.example.com")}},
		},
	}
	onSet := route(ns, "on-set", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("set-app", 1)))
	kind := gwv1.Kind("ListenerSet")
	onSet.Spec.ParentRefs = []gwv1.ParentReference{{Kind: &kind, Name: "team"}}
	create(t, gw, ls, onSet,
		route(ns, "on-gw", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("gw-app", 1))))

	base := "http://" + programmedAddress(t, ns, "gw")
	expectBackend(t, "GET", base+"/", "gw.example.com", nil, "gw-app")
	expectBackend(t, "GET", base+"/", "set.example.com", nil, "set-app")
	listenerSetStatus(t, ns, "team", func(st gwv1.ListenerSetStatus) error {
		if len(st.Listeners) != 1 || st.Listeners[0].AttachedRoutes != 1 {
			return fmt.Errorf("listeners %+v, want extra with 1 route", st.Listeners)
		}
		return nil
	})
	attachedListenerSets(t, ns, "gw", 1)
	routeParentCondition(t, ns, "on-set", string(gwv1.RouteConditionAccepted), metav1.ConditionTrue, string(gwv1.RouteReasonAccepted))

	// A new hostname on the ListenerSet's listener.
	must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur gwv1.ListenerSet
		if err := suite.c.Get(ctxFor(t), client.ObjectKeyFromObject(ls), &cur); err != nil {
			return err
		}
		cur.Spec.Listeners[0].Hostname = hostname("moved.example.com")
		return suite.c.Update(ctxFor(t), &cur)
	}))
	expectBackend(t, "GET", base+"/", "moved.example.com", nil, "set-app")
	expectBackend(t, "GET", base+"/", "set.example.com", nil, "404")

	must(t, suite.c.Delete(ctxFor(t), ls))
	expectBackend(t, "GET", base+"/", "moved.example.com", nil, "404")
	expectBackend(t, "GET", base+"/", "gw.example.com", nil, "gw-app")
	attachedListenerSets(t, ns, "gw", 0)
	eventually(t, 30*time.Second, func() error {
		var r gwv1.HTTPRoute
		if err := suite.c.Get(ctxFor(t), client.ObjectKeyFromObject(onSet), &r); err != nil {
			return err
		}
		if len(r.Status.Parents) != 0 {
			return fmt.Errorf("route still has parent statuses %+v", r.Status.Parents)
		}
		return nil
	})
}

// A ListenerSet the Gateway does not allow (allowedListeners unset) is told
// so and adds nothing.
func TestListenerSetNotAllowedByDefault(t *testing.T) {
	ns := namespace(t)
	create(t, gateway(ns, "gw", httpListener("http", 80)), &gwv1.ListenerSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team"},
		Spec: gwv1.ListenerSetSpec{
			ParentRef: gwv1.ParentGatewayReference{Name: "gw"},
			Listeners: []gwv1.ListenerEntry{{Name: "extra", Port: 8080, Protocol: gwv1.HTTPProtocolType}},
		},
	})
	listenerSetStatus(t, ns, "team", func(st gwv1.ListenerSetStatus) error {
		c := meta.FindStatusCondition(st.Conditions, string(gwv1.ListenerSetConditionAccepted))
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != string(gwv1.ListenerSetReasonNotAllowed) {
			return fmt.Errorf("Accepted = %+v, want False/NotAllowed", c)
		}
		return nil
	})
	for _, lb := range cloudLoadBalancers(t, ns, "gw") {
		for _, l := range lb.Spec.Listeners {
			if l.Port == 8080 {
				t.Errorf("load balancer has the ListenerSet's port: %+v", l)
			}
		}
	}
}

func hostname(h string) *gwv1.Hostname {
	v := gwv1.Hostname(h)
	return &v
}

// listenerSetStatus waits until check accepts the ListenerSet's status,
// written for its current generation.
func listenerSetStatus(t testing.TB, ns, name string, check func(gwv1.ListenerSetStatus) error) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		var ls gwv1.ListenerSet
		if err := suite.c.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: name}, &ls); err != nil {
			return err
		}
		c := meta.FindStatusCondition(ls.Status.Conditions, string(gwv1.ListenerSetConditionAccepted))
		if c == nil || c.ObservedGeneration != ls.Generation {
			return fmt.Errorf("ListenerSet %s: no Accepted condition at generation %d: %+v", name, ls.Generation, c)
		}
		return check(ls.Status)
	})
}

func attachedListenerSets(t testing.TB, ns, name string, want int32) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		gw := getGateway(t, ns, name)
		if got := gw.Status.AttachedListenerSets; got == nil || *got != want {
			return fmt.Errorf("attachedListenerSets = %v, want %d", got, want)
		}
		return nil
	})
}
