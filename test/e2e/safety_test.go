package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/cloudgate-dev/cloudgate/providers/emulated"
)

// sharedGateway creates a Gateway on :80 that accepts routes from every
// namespace.
func sharedGateway(t *testing.T, ns, name string) string {
	t.Helper()
	all := gwv1.NamespacesFromAll
	l := httpListener("http", 80)
	l.AllowedRoutes = &gwv1.AllowedRoutes{Namespaces: &gwv1.RouteNamespaces{From: &all}}
	create(t, gateway(ns, name, l))
	return programmedAddress(t, ns, name)
}

// tenantRoute is a route in ns attached to the Gateway gwNS/gw.
func tenantRoute(ns, name, gwNS, gw, host string, rules ...gwv1.HTTPRouteRule) *gwv1.HTTPRoute {
	r := route(ns, name, gw, []string{host}, rules...)
	gns := gwv1.Namespace(gwNS)
	r.Spec.ParentRefs[0].Namespace = &gns
	return r
}

func removeHeaders(names ...string) gwv1.HTTPRouteFilter {
	return gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterRequestHeaderModifier,
		RequestHeaderModifier: &gwv1.HTTPHeaderFilter{Remove: names}}
}

// routeCondition returns the condition typ of the route's first parent status.
func routeCondition(t testing.TB, ns, name, typ string) (*metav1.Condition, int64) {
	t.Helper()
	var r gwv1.HTTPRoute
	must(t, suite.c.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: name}, &r))
	if len(r.Status.Parents) == 0 {
		return nil, r.Generation
	}
	return meta.FindStatusCondition(r.Status.Parents[0].Conditions, typ), r.Generation
}

func expectProgrammed(t testing.TB, ns, name string) {
	t.Helper()
	gw := getGateway(t, ns, name)
	c := meta.FindStatusCondition(gw.Status.Conditions, string(gwv1.GatewayConditionProgrammed))
	if c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("Gateway %s/%s Programmed = %+v, want True", ns, name, c)
	}
}

// A route whose header modifier names a header that is not an HTTP token is
// accepted by the CRD's schema. It must be refused on that route alone: the
// other tenants' routes keep working and new ones are served within seconds.
func TestOneTenantsBadRouteNeverBlocksAnother(t *testing.T) {
	gwNS, badNS, goodNS := namespace(t), namespace(t), namespace(t)
	addr := sharedGateway(t, gwNS, "gw")
	backend(t, badNS, "bad-app")
	backend(t, goodNS, "good-app")

	bad := rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("bad-app", 1))
	bad.Filters = []gwv1.HTTPRouteFilter{removeHeaders("bad header")}
	create(t, tenantRoute(badNS, "bad", gwNS, "gw", "bad.example", bad))
	routeParentCondition(t, badNS, "bad", "Accepted", metav1.ConditionFalse, string(gwv1.RouteReasonUnsupportedValue))
	c, _ := routeCondition(t, badNS, "bad", "Accepted")
	if !strings.Contains(c.Message, "bad header") || !strings.Contains(c.Message, "remove") {
		t.Errorf("the refusal does not name the value and its field: %q", c.Message)
	}

	// A large route with many bad values: its status must still be written,
	// with a bounded message.
	var many []gwv1.HTTPRouteRule
	for i := range 16 {
		var names []string
		for j := range 16 {
			names = append(names, fmt.Sprintf("bad header %02d-%02d %s", i, j, strings.Repeat("x", 100)))
		}
		r := rule(pathMatch(gwv1.PathMatchPathPrefix, fmt.Sprintf("/p%d", i)), backendRef("bad-app", 1))
		r.Filters = []gwv1.HTTPRouteFilter{removeHeaders(names...)}
		many = append(many, r)
	}
	create(t, tenantRoute(badNS, "large", gwNS, "gw", "large.example", many...))
	routeParentCondition(t, badNS, "large", "Accepted", metav1.ConditionFalse, string(gwv1.RouteReasonUnsupportedValue))
	if c, _ := routeCondition(t, badNS, "large", "Accepted"); len(c.Message) > 4096 {
		t.Errorf("condition message is %d bytes; want it bounded", len(c.Message))
	}

	// Another tenant's route, created after the bad ones, answers at once.
	create(t, tenantRoute(goodNS, "good", gwNS, "gw", "good.example",
		rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("good-app", 1))))
	start := time.Now()
	expectBackend(t, "GET", "http://"+addr+"/", "good.example", nil, "good-app")
	t.Logf("the good route answered %s after it was created", time.Since(start).Round(time.Millisecond))
	routeParentCondition(t, goodNS, "good", "Accepted", metav1.ConditionTrue, string(gwv1.RouteReasonAccepted))
	expectProgrammed(t, gwNS, "gw")
	// The bad routes' hosts are not served by anything.
	expectBackend(t, "GET", "http://"+addr+"/", "bad.example", nil, "404")
}

// Deleting a GatewayClass its Gateways still use waits on the spec's
// gateway-exists finalizer, and traffic keeps flowing. Even a class that does
// vanish for a while (its finalizer forced off) takes no load balancer with it:
// the Gateway is told, keeps serving, and recovers when the class returns.
func TestDeletingAClassInUseKeepsTraffic(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "app")
	class := &gwv1.GatewayClass{}
	class.Name = ns + "-class"
	class.Spec.ControllerName = emulated.ControllerName
	create(t, class)
	gw := gateway(ns, "gw", httpListener("http", 80))
	gw.Spec.GatewayClassName = gwv1.ObjectName(class.Name)
	create(t, gw, route(ns, "r", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("app", 1))))
	addr := programmedAddress(t, ns, "gw")
	url := "http://" + addr + "/"
	expectBackend(t, "GET", url, "", nil, "app")

	getClass := func() (*gwv1.GatewayClass, error) {
		var gc gwv1.GatewayClass
		err := suite.c.Get(ctxFor(t), client.ObjectKey{Name: class.Name}, &gc)
		return &gc, err
	}
	eventually(t, 10*time.Second, func() error {
		gc, err := getClass()
		if err != nil {
			return err
		}
		if !contains(gc.Finalizers, gwv1.GatewayClassFinalizerGatewaysExist) {
			return fmt.Errorf("class in use has finalizers %v", gc.Finalizers)
		}
		return nil
	})

	must(t, suite.c.Delete(ctxFor(t), class))
	serves := func(d time.Duration) {
		t.Helper()
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			r, err := send("GET", url, "", nil)
			if err != nil || r.status != http.StatusOK {
				t.Fatalf("traffic stopped: %v %+v", err, r)
			}
		}
	}
	serves(2 * time.Second)
	gc, err := getClass()
	must(t, err)
	if gc.DeletionTimestamp.IsZero() || !contains(gc.Finalizers, gwv1.GatewayClassFinalizerGatewaysExist) {
		t.Fatalf("the class should wait on its finalizer: deletionTimestamp %v, finalizers %v", gc.DeletionTimestamp, gc.Finalizers)
	}

	// Force the class away: the Gateway keeps its load balancer.
	must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		gc, err := getClass()
		if err != nil {
			return err
		}
		gc.Finalizers = nil
		return suite.c.Update(ctxFor(t), gc)
	}))
	eventually(t, 10*time.Second, func() error {
		gw := getGateway(t, ns, "gw")
		c := meta.FindStatusCondition(gw.Status.Conditions, string(gwv1.GatewayConditionAccepted))
		if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, class.Name) {
			return fmt.Errorf("Accepted = %+v, want False naming the missing class", c)
		}
		return nil
	})
	serves(2 * time.Second)
	if n := len(cloudLoadBalancers(t, ns, "gw")); n != 1 {
		t.Fatalf("%d load balancers while the class is missing, want 1", n)
	}

	// The class returns: the Gateway is accepted again, traffic never stopped.
	class = &gwv1.GatewayClass{}
	class.Name = ns + "-class"
	class.Spec.ControllerName = emulated.ControllerName
	create(t, class)
	serves(time.Second)
	eventually(t, 10*time.Second, func() error {
		gw := getGateway(t, ns, "gw")
		c := meta.FindStatusCondition(gw.Status.Conditions, string(gwv1.GatewayConditionAccepted))
		if c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Accepted = %+v, want True", c)
		}
		return nil
	})

	// Once the last Gateway goes, the class lets go too.
	deleteAndWait(t, getGateway(t, ns, "gw"))
	must(t, suite.c.Delete(ctxFor(t), class))
	eventually(t, 10*time.Second, func() error {
		if gc, err := getClass(); err == nil {
			return fmt.Errorf("class still there with finalizers %v", gc.Finalizers)
		}
		return nil
	})
}

// A RequestMirror's backend is resolved like a backendRef: across namespaces
// with a ReferenceGrant, and picked up when its Service appears after the
// route.
func TestMirrorBackendsResolveLikeBackendRefs(t *testing.T) {
	ns, other := namespace(t), namespace(t)
	backend(t, ns, "app")
	var mirrored, late atomic.Int64
	backendWith(t, other, "mirror", func(*http.Request) { mirrored.Add(1) })
	create(t, &gwv1beta1.ReferenceGrant{
		ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "from-routes"},
		Spec: gwv1beta1.ReferenceGrantSpec{
			From: []gwv1beta1.ReferenceGrantFrom{{Group: gwv1.GroupName, Kind: "HTTPRoute", Namespace: gwv1.Namespace(ns)}},
			To:   []gwv1beta1.ReferenceGrantTo{{Kind: "Service"}},
		},
	})
	port := gwv1.PortNumber(8080)
	otherNS := gwv1.Namespace(other)
	mirror := func(name string, namespace *gwv1.Namespace) gwv1.HTTPRouteFilter {
		return gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterRequestMirror, RequestMirror: &gwv1.HTTPRequestMirrorFilter{
			BackendRef: gwv1.BackendObjectReference{Name: gwv1.ObjectName(name), Namespace: namespace, Port: &port}}}
	}
	r := rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("app", 1))
	r.Filters = []gwv1.HTTPRouteFilter{mirror("mirror", &otherNS), mirror("late", nil)}
	create(t, gateway(ns, "gw", httpListener("http", 80)), route(ns, "r", "gw", nil, r))
	addr := programmedAddress(t, ns, "gw")

	// The late mirror's Service does not exist yet.
	routeParentCondition(t, ns, "r", "ResolvedRefs", metav1.ConditionFalse, string(gwv1.RouteReasonBackendNotFound))
	backendWith(t, ns, "late", func(*http.Request) { late.Add(1) })
	routeParentCondition(t, ns, "r", "ResolvedRefs", metav1.ConditionTrue, string(gwv1.RouteReasonResolvedRefs))

	expectBackend(t, "GET", "http://"+addr+"/", "", nil, "app")
	eventually(t, 10*time.Second, func() error {
		if _, err := send("GET", "http://"+addr+"/", "", nil); err != nil {
			return err
		}
		if mirrored.Load() == 0 || late.Load() == 0 {
			return fmt.Errorf("mirrors saw %d (granted, other namespace) and %d (created late) requests", mirrored.Load(), late.Load())
		}
		return nil
	})
}

// Two HTTPS listeners on one port whose hostnames overlap both carry
// OverlappingTLSConfig, as the spec requires.
func TestOverlappingTLSListenersAreReported(t *testing.T) {
	ns := namespace(t)
	create(t, tlsSecret(t, ns, "wild", "*.example.com"), tlsSecret(t, ns, "foo", "foo.example.com"), tlsSecret(t, ns, "other", "other.test"))
	https := func(name, host, secret string) gwv1.Listener {
		h := gwv1.Hostname(host)
		return gwv1.Listener{Name: gwv1.SectionName(name), Protocol: gwv1.HTTPSProtocolType, Port: 443, Hostname: &h,
			TLS: &gwv1.ListenerTLSConfig{CertificateRefs: []gwv1.SecretObjectReference{{Name: gwv1.ObjectName(secret)}}}}
	}
	create(t, gateway(ns, "gw", https("wild", "*.example.com", "wild"), https("foo", "foo.example.com", "foo"),
		https("other", "other.test", "other")))
	eventually(t, 30*time.Second, func() error {
		gw := getGateway(t, ns, "gw")
		got := map[string]string{}
		for _, l := range gw.Status.Listeners {
			c := meta.FindStatusCondition(l.Conditions, string(gwv1.ListenerConditionOverlappingTLSConfig))
			if c == nil {
				continue
			}
			if c.Status != metav1.ConditionTrue {
				return fmt.Errorf("listener %s has OverlappingTLSConfig=%s; a negative-polarity condition is never set False", l.Name, c.Status)
			}
			// The two certificates overlap as well, which the spec
			// prefers to report when a controller checks both.
			if c.Reason != string(gwv1.ListenerReasonOverlappingHostnames) && c.Reason != string(gwv1.ListenerReasonOverlappingCertificates) {
				return fmt.Errorf("listener %s: reason %s", l.Name, c.Reason)
			}
			got[string(l.Name)] = "set"
		}
		want := map[string]string{"wild": "set", "foo": "set"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("OverlappingTLSConfig on %v, want %v", got, want)
		}
		return nil
	})

	// Once the overlap is gone the condition goes too: it is never left
	// behind, nor set to False.
	other := gwv1.Hostname("foo.other.test")
	must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		gw := getGateway(t, ns, "gw")
		gw.Spec.Listeners[1].Hostname = &other
		return suite.c.Update(ctxFor(t), gw)
	}))
	eventually(t, 30*time.Second, func() error {
		if got := overlapReported(t, ns, "gw"); len(got) != 0 {
			return fmt.Errorf("OverlappingTLSConfig still on %v", got)
		}
		return nil
	})
}

// A header match on Host acts on the request's host, which Go's HTTP server
// (like most) keeps apart from the other headers.
func TestHostHeaderMatch(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "foo")
	exact := gwv1.HeaderMatchExact
	m := gwv1.HTTPRouteMatch{Headers: []gwv1.HTTPHeaderMatch{{Type: &exact, Name: "host", Value: "foo.example.com"}}}
	create(t, gateway(ns, "gw", httpListener("http", 80)), route(ns, "r", "gw", nil, rule(m, backendRef("foo", 1))))
	addr := programmedAddress(t, ns, "gw")
	expectBackend(t, "GET", "http://"+addr+"/", "foo.example.com", nil, "foo")
	expectBackend(t, "GET", "http://"+addr+"/", "bar.example.com", nil, "404")
}

// When the cloud refuses part of a model that mapping accepted (a limit
// mapping does not know of), the controller leaves out the routes behind the
// refused rules, tells them, and applies the rest.
func TestRoutesTheCloudRefusesAreLeftOut(t *testing.T) {
	gwNS, badNS, goodNS := namespace(t), namespace(t), namespace(t)
	c := suite.cloud.Cloud()
	c.RefuseRules("refused-by-cloud")
	defer c.RefuseRules("")
	addr := sharedGateway(t, gwNS, "gw")
	backend(t, badNS, "app")
	backend(t, goodNS, "app")
	create(t, tenantRoute(badNS, "refused-by-cloud", gwNS, "gw", "bad.example",
		rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("app", 1))))
	create(t, tenantRoute(goodNS, "good", gwNS, "gw", "good.example",
		rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("app", 1))))

	routeParentCondition(t, badNS, "refused-by-cloud", "Accepted", metav1.ConditionFalse, string(gwv1.RouteReasonUnsupportedValue))
	expectBackend(t, "GET", "http://"+addr+"/", "good.example", nil, "app")
	expectBackend(t, "GET", "http://"+addr+"/", "bad.example", nil, "404")
	expectProgrammed(t, gwNS, "gw")

	// Once the cloud takes it, the route is offered again at the next
	// resync, without any change to it.
	c.RefuseRules("")
	eventually(t, suiteResync*5/4+5*time.Second, func() error {
		r, err := send("GET", "http://"+addr+"/", "bad.example", nil)
		if err != nil {
			return err
		}
		if r.status != http.StatusOK {
			return fmt.Errorf("bad.example: %d", r.status)
		}
		return nil
	})
	routeParentCondition(t, badNS, "refused-by-cloud", "Accepted", metav1.ConditionTrue, string(gwv1.RouteReasonAccepted))
}

// overlapReported lists the listeners with OverlappingTLSConfig set.
func overlapReported(t testing.TB, ns, name string) []string {
	t.Helper()
	var out []string
	for _, l := range getGateway(t, ns, name).Status.Listeners {
		if meta.FindStatusCondition(l.Conditions, string(gwv1.ListenerConditionOverlappingTLSConfig)) != nil {
			out = append(out, string(l.Name))
		}
	}
	return out
}
