package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
)

func TestGatewayClassIsAcceptedWithSupportedFeatures(t *testing.T) {
	eventually(t, 30*time.Second, func() error {
		var gc gwv1.GatewayClass
		if err := suite.c.Get(ctxFor(t), client.ObjectKey{Name: className}, &gc); err != nil {
			return err
		}
		c := meta.FindStatusCondition(gc.Status.Conditions, string(gwv1.GatewayClassConditionStatusAccepted))
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != gc.Generation {
			return fmt.Errorf("class Accepted = %+v", c)
		}
		features := map[gwv1.FeatureName]bool{}
		for _, f := range gc.Status.SupportedFeatures {
			features[f.Name] = true
		}
		for _, want := range []gwv1.FeatureName{"Gateway", "HTTPRoute", "HTTPRouteMethodMatching", "HTTPRouteQueryParamMatching"} {
			if !features[want] {
				return fmt.Errorf("supportedFeatures %v lacks %s", gc.Status.SupportedFeatures, want)
			}
		}
		return nil
	})
}

func TestGatewayListenerAndRouteStatus(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "app")
	create(t,
		gateway(ns, "gw", httpListener("http", 80), httpListener("alt", 8080)),
		route(ns, "r", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("app", 1))),
	)
	addr := programmedAddress(t, ns, "gw")
	// The route may attach a moment after the Gateway is first programmed.
	eventually(t, 15*time.Second, func() error {
		for _, l := range getGateway(t, ns, "gw").Status.Listeners {
			if l.AttachedRoutes != 1 {
				return fmt.Errorf("listener %s has %d routes", l.Name, l.AttachedRoutes)
			}
		}
		return nil
	})
	routeParentCondition(t, ns, "r", "Accepted", metav1.ConditionTrue, "Accepted")

	gw := getGateway(t, ns, "gw")
	if !ptr.Equal(gw.Status.Addresses[0].Type, ptr.To(gwv1.IPAddressType)) {
		t.Errorf("address type %v, want IPAddress", gw.Status.Addresses[0].Type)
	}
	if !contains(gw.Finalizers, "gateway.cloudgate.dev/load-balancer") {
		t.Errorf("finalizers %v lack Cloudgate's", gw.Finalizers)
	}
	expectCondition(t, gw.Status.Conditions, gw.Generation, "Accepted", metav1.ConditionTrue, "Accepted")
	expectCondition(t, gw.Status.Conditions, gw.Generation, "Programmed", metav1.ConditionTrue, "Programmed")
	if len(gw.Status.Listeners) != 2 {
		t.Fatalf("listener statuses: %+v", gw.Status.Listeners)
	}
	for _, l := range gw.Status.Listeners {
		if l.AttachedRoutes != 1 {
			t.Errorf("listener %s attachedRoutes = %d, want 1", l.Name, l.AttachedRoutes)
		}
		var kinds []string
		for _, k := range l.SupportedKinds {
			kinds = append(kinds, string(k.Kind))
		}
		if strings.Join(kinds, ",") != "HTTPRoute,GRPCRoute" {
			t.Errorf("listener %s supportedKinds = %v, want HTTPRoute and GRPCRoute", l.Name, kinds)
		}
		expectCondition(t, l.Conditions, gw.Generation, "Accepted", metav1.ConditionTrue, "Accepted")
		expectCondition(t, l.Conditions, gw.Generation, "ResolvedRefs", metav1.ConditionTrue, "ResolvedRefs")
		expectCondition(t, l.Conditions, gw.Generation, "Conflicted", metav1.ConditionFalse, "NoConflicts")
		expectCondition(t, l.Conditions, gw.Generation, "Programmed", metav1.ConditionTrue, "Programmed")
	}
	expectBackend(t, "GET", "http://"+addr+":8080/", "", nil, "app")

	var r gwv1.HTTPRoute
	must(t, suite.c.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: "r"}, &r))
	if len(r.Status.Parents) != 1 || r.Status.Parents[0].ControllerName != "cloudgate.dev/emulated" {
		t.Fatalf("route parents: %+v", r.Status.Parents)
	}
	expectCondition(t, r.Status.Parents[0].Conditions, r.Generation, "Accepted", metav1.ConditionTrue, "Accepted")
	expectCondition(t, r.Status.Parents[0].Conditions, r.Generation, "ResolvedRefs", metav1.ConditionTrue, "ResolvedRefs")

	// A parent status written by another controller survives our writes.
	foreign := gwv1.RouteParentStatus{
		ParentRef:      gwv1.ParentReference{Name: "elsewhere"},
		ControllerName: "example.com/other",
		Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted",
			ObservedGeneration: r.Generation, LastTransitionTime: metav1.Now()}},
	}
	r.Status.Parents = append(r.Status.Parents, foreign)
	must(t, suite.c.Status().Update(ctxFor(t), &r))
	must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		must(t, suite.c.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: "r"}, &r))
		r.Spec.Rules[0].Matches = append(r.Spec.Rules[0].Matches, pathMatch(gwv1.PathMatchExact, "/x"))
		return suite.c.Update(ctxFor(t), &r)
	}))
	eventually(t, 30*time.Second, func() error {
		var got gwv1.HTTPRoute
		must(t, suite.c.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: "r"}, &got))
		var ours, theirs bool
		for _, p := range got.Status.Parents {
			c := meta.FindStatusCondition(p.Conditions, "Accepted")
			ours = ours || p.ControllerName == "cloudgate.dev/emulated" && c != nil && c.ObservedGeneration == got.Generation
			theirs = theirs || p.ControllerName == "example.com/other"
		}
		if !ours || !theirs {
			return fmt.Errorf("parents after update: %+v", got.Status.Parents)
		}
		return nil
	})

	// Nothing changes, so nothing is written.
	stable := getGateway(t, ns, "gw").ResourceVersion
	time.Sleep(2 * time.Second)
	if rv := getGateway(t, ns, "gw").ResourceVersion; rv != stable {
		t.Errorf("Gateway was rewritten while nothing changed (resourceVersion %s → %s)", stable, rv)
	}
}

func TestListenerConflictIsReported(t *testing.T) {
	ns := namespace(t)
	https := gwv1.Listener{Name: "tls", Protocol: gwv1.HTTPSProtocolType, Port: 80,
		TLS: &gwv1.ListenerTLSConfig{CertificateRefs: []gwv1.SecretObjectReference{{Name: "missing"}}}}
	create(t, gateway(ns, "gw", httpListener("http", 80), https))
	eventually(t, 30*time.Second, func() error {
		gw := getGateway(t, ns, "gw")
		for _, l := range gw.Status.Listeners {
			c := meta.FindStatusCondition(l.Conditions, "Conflicted")
			if c == nil || c.Status != metav1.ConditionTrue || c.Reason != string(gwv1.ListenerReasonProtocolConflict) {
				return fmt.Errorf("listener %s Conflicted = %+v", l.Name, c)
			}
		}
		if len(gw.Status.Listeners) != 2 {
			return fmt.Errorf("listeners: %+v", gw.Status.Listeners)
		}
		return nil
	})
}

func TestInvalidParametersAreReportedAndNothingIsCreated(t *testing.T) {
	ns := namespace(t)
	gw := gateway(ns, "gw", httpListener("http", 80))
	gw.Spec.Infrastructure = &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{
		Group: "cloudgate.dev", Kind: "LoadBalancerParameters", Name: "later"}}
	create(t, gw)
	eventually(t, 30*time.Second, func() error {
		gw := getGateway(t, ns, "gw")
		c := meta.FindStatusCondition(gw.Status.Conditions, "Accepted")
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != string(gwv1.GatewayReasonInvalidParameters) {
			return fmt.Errorf("Accepted = %+v", c)
		}
		return nil
	})
	if lbs := cloudLoadBalancers(t, ns, "gw"); len(lbs) != 0 {
		t.Fatalf("a load balancer exists for a Gateway with unresolved parameters: %+v", lbs)
	}
	stable := getGateway(t, ns, "gw").ResourceVersion
	time.Sleep(2 * time.Second)
	if rv := getGateway(t, ns, "gw").ResourceVersion; rv != stable {
		t.Errorf("an invalid Gateway keeps being rewritten (resourceVersion %s → %s)", stable, rv)
	}

	// Creating the parameters fixes it: the parameters watch wakes the Gateway.
	create(t, &v1alpha1.LoadBalancerParameters{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "later"}})
	programmedAddress(t, ns, "gw")
}

func TestMalformedParametersAreRefusedByTheAPIServer(t *testing.T) {
	ns := namespace(t)
	bad := []*v1alpha1.LoadBalancerParameters{
		{Spec: v1alpha1.LoadBalancerParametersSpec{Tags: map[string]string{"cloudgate.dev/gateway": "x"}}},
		{Spec: v1alpha1.LoadBalancerParametersSpec{IdleTimeout: &metav1.Duration{Duration: 2 * time.Hour}}},
		{Spec: v1alpha1.LoadBalancerParametersSpec{AccessLogs: &v1alpha1.AccessLogs{Enabled: true}}},
		{Spec: v1alpha1.LoadBalancerParametersSpec{Emulated: &v1alpha1.EmulatedParameters{Address: ptr.To("not-an-ip")}}},
	}
	for i, p := range bad {
		p.Namespace, p.Name = ns, fmt.Sprintf("bad-%d", i)
		if err := suite.c.Create(ctxFor(t), p); err == nil {
			t.Errorf("parameters %d (%+v) were accepted", i, p.Spec)
		} else {
			t.Logf("refused as expected: %v", err)
		}
	}
}

func TestInvalidRegexIsReportedWithoutRetryLoop(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "app")
	create(t,
		gateway(ns, "gw", httpListener("http", 80)),
		route(ns, "bad", "gw", nil, rule(pathMatch(gwv1.PathMatchRegularExpression, "/(unclosed"), backendRef("app", 1))),
		route(ns, "good", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("app", 1))),
	)
	routeParentCondition(t, ns, "bad", "Accepted", metav1.ConditionFalse, string(gwv1.RouteReasonUnsupportedValue))
	addr := programmedAddress(t, ns, "gw")
	expectBackend(t, "GET", "http://"+addr+"/", "", nil, "app")
	var r gwv1.HTTPRoute
	must(t, suite.c.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: "bad"}, &r))
	stable := r.ResourceVersion
	time.Sleep(2 * time.Second)
	must(t, suite.c.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: "bad"}, &r))
	if r.ResourceVersion != stable {
		t.Errorf("the invalid route keeps being rewritten")
	}
}

func expectCondition(t testing.TB, conds []metav1.Condition, gen int64, typ string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	c := meta.FindStatusCondition(conds, typ)
	switch {
	case c == nil:
		t.Errorf("no %s condition in %+v", typ, conds)
	case c.Status != status || c.Reason != reason:
		t.Errorf("%s = %s/%s (%s), want %s/%s", typ, c.Status, c.Reason, c.Message, status, reason)
	case c.ObservedGeneration != gen:
		t.Errorf("%s observedGeneration %d, want %d", typ, c.ObservedGeneration, gen)
	case c.LastTransitionTime.IsZero():
		t.Errorf("%s has no lastTransitionTime", typ)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestAddressTheCloudRefusesIsReported(t *testing.T) {
	ns := namespace(t)
	outside := "127.1.2.3" // not in the suite's emulated address range
	create(t, &v1alpha1.LoadBalancerParameters{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "params"},
		Spec:       v1alpha1.LoadBalancerParametersSpec{Emulated: &v1alpha1.EmulatedParameters{Address: &outside}},
	})
	gw := gateway(ns, "gw", httpListener("http", 80))
	gw.Spec.Infrastructure = &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{
		Group: "cloudgate.dev", Kind: "LoadBalancerParameters", Name: "params"}}
	create(t, gw)
	eventually(t, 30*time.Second, func() error {
		gw := getGateway(t, ns, "gw")
		c := meta.FindStatusCondition(gw.Status.Conditions, "Programmed")
		// The condition's message is static; the cloud's own answer, which
		// names the address, is in the event.
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != string(gwv1.GatewayReasonAddressNotUsable) || strings.Contains(c.Message, outside) {
			return fmt.Errorf("Programmed = %+v", c)
		}
		return nil
	})
	eventually(t, 10*time.Second, func() error {
		var list eventsv1.EventList
		must(t, suite.c.List(ctxFor(t), &list, client.InNamespace(ns)))
		for _, e := range list.Items {
			if e.Reason == "LoadBalancerRefused" && e.Regarding.Name == "gw" && e.Type == "Warning" && strings.Contains(e.Note, outside) {
				return nil
			}
		}
		return fmt.Errorf("no LoadBalancerRefused event naming %s among %d events", outside, len(list.Items))
	})
	if lbs := cloudLoadBalancers(t, ns, "gw"); len(lbs) != 0 {
		t.Fatalf("the cloud holds a load balancer it refused: %+v", lbs)
	}
	stable := getGateway(t, ns, "gw").ResourceVersion
	time.Sleep(2 * time.Second)
	if rv := getGateway(t, ns, "gw").ResourceVersion; rv != stable {
		t.Errorf("a refused Gateway keeps being rewritten (resourceVersion %s → %s)", stable, rv)
	}
}
