package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/emulated"
)

// metric sums, over the series of the named family on the controller's
// registry (what its metrics endpoint serves) whose labels include want,
// the counter or gauge values, or the histograms' sample counts and sums.
func metric(t testing.TB, name string, want map[string]string) (value, sum float64) {
	t.Helper()
	families, err := metrics.Registry.Gather()
	must(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue series
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				value += m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				value += m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				value += float64(m.GetHistogram().GetSampleCount())
				sum += m.GetHistogram().GetSampleSum()
			}
		}
	}
	return value, sum
}

func calls(t testing.TB, op, outcome string) float64 {
	v, _ := metric(t, "cloudgate_cloud_api_calls_total", map[string]string{"provider": "emulated", "operation": op, "outcome": outcome})
	return v
}

func gateways(t testing.TB, programmed string) float64 {
	v, _ := metric(t, "cloudgate_gateways", map[string]string{"programmed": programmed})
	return v
}

func routeTimings(t testing.TB) (count, sum float64) {
	return metric(t, "cloudgate_route_programmed_seconds", nil)
}

// stepCounts reads cloudgate_plan_steps_applied_total for the emulated
// provider, by "action kind".
func stepCounts(t testing.TB) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, a := range []providers.Action{providers.ActionCreate, providers.ActionUpdate, providers.ActionRecreate, providers.ActionDelete} {
		for _, k := range []providers.Kind{providers.KindLoadBalancer, providers.KindListener, providers.KindRule,
			providers.KindStream, providers.KindTargetGroup, providers.KindCertificate} {
			v, _ := metric(t, "cloudgate_plan_steps_applied_total", map[string]string{"provider": "emulated", "kind": string(k), "action": string(a)})
			out[string(a)+" "+string(k)] = v
		}
	}
	return out
}

// summaryCounts parses plan Event notes ("LoadBalancerCreated: created 1
// load balancer, 2 listeners; deleted 1 rule") into counts by "action kind".
func summaryCounts(t testing.TB, notes []string) map[string]float64 {
	t.Helper()
	actions := map[string]providers.Action{"created": providers.ActionCreate, "updated": providers.ActionUpdate,
		"recreated": providers.ActionRecreate, "deleted": providers.ActionDelete}
	kinds := []providers.Kind{providers.KindLoadBalancer, providers.KindListener, providers.KindRule,
		providers.KindStream, providers.KindTargetGroup, providers.KindCertificate}
	out := map[string]float64{}
	for _, note := range notes {
		_, summary, _ := strings.Cut(note, ": ")
		for _, part := range strings.Split(summary, "; ") {
			verb, items, _ := strings.Cut(part, " ")
			a, ok := actions[verb]
			if !ok {
				t.Fatalf("plan event %q: unknown action %q", note, verb)
			}
			for _, item := range strings.Split(items, ", ") {
				num, kind, _ := strings.Cut(item, " ")
				n, err := strconv.Atoi(num)
				must(t, err)
				found := false
				for _, k := range kinds {
					if strings.HasPrefix(kind, string(k)) { // "rules" is "rule", plural
						out[string(a)+" "+string(k)] += float64(n)
						found = true
						break
					}
				}
				if !found {
					t.Fatalf("plan event %q: unknown kind %q", note, kind)
				}
			}
		}
	}
	return out
}

// warnings returns the notes of the Warning events with reason on the
// object of kind and name.
func warnings(t testing.TB, ns, kind, name, reason string) []string {
	t.Helper()
	var list eventsv1.EventList
	must(t, suite.c.List(ctxFor(t), &list, client.InNamespace(ns)))
	var notes []string
	for _, e := range list.Items {
		if e.Type == corev1.EventTypeWarning && e.Regarding.Kind == kind && e.Regarding.Name == name && e.Reason == reason {
			notes = append(notes, e.Note)
		}
	}
	return notes
}

func updateRoute(t testing.TB, ns, name string, change func(*gwv1.HTTPRoute)) int64 {
	t.Helper()
	var gen int64
	must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var r gwv1.HTTPRoute
		must(t, suite.c.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: name}, &r))
		change(&r)
		err := suite.c.Update(ctxFor(t), &r)
		gen = r.Generation
		return err
	}))
	return gen
}

func updateGateway(t testing.TB, ns, name string, change func(*gwv1.Gateway)) {
	t.Helper()
	must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		gw := getGateway(t, ns, name)
		change(gw)
		return suite.c.Update(ctxFor(t), gw)
	}))
}

// TestMetricsAndEvents follows one Gateway with a route through creation,
// a route change, a throttling cloud, refused listeners, routes and
// parameters, and checks what the controller's metrics endpoint and the
// objects' Events say at each step. Metrics are read as differences, since
// the registry is the process's and other tests ran before.
func TestMetricsAndEvents(t *testing.T) {
	ns := namespace(t)
	listsBefore, createsBefore := calls(t, emulated.OpList, emulated.OutcomeSuccess), calls(t, emulated.OpCreate, emulated.OutcomeSuccess)
	throttledBefore := calls(t, emulated.OpList, emulated.OutcomeThrottled)
	stepsBefore := stepCounts(t)
	trueBefore, falseBefore := gateways(t, "True"), gateways(t, "False")
	timedBefore, _ := routeTimings(t)

	backend(t, ns, "web")
	create(t, route(ns, "r", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("web", 1))))
	create(t, gateway(ns, "gw", httpListener("http", 80)))
	url := "http://" + programmedAddress(t, ns, "gw") + ":80/"
	routeParentCondition(t, ns, "r", "Accepted", metav1.ConditionTrue, "Accepted")
	expectBackend(t, "GET", url, "", nil, "web")

	// The cloud calls of the create, by operation.
	if d := calls(t, emulated.OpCreate, emulated.OutcomeSuccess) - createsBefore; d != 1 {
		t.Errorf("%v successful CreateLoadBalancer calls counted for one new Gateway, want 1", d)
	}
	// The steps counted are the steps the plan Events summed up.
	eventually(t, 10*time.Second, func() error {
		steps := stepCounts(t)
		got := map[string]float64{}
		for k, v := range steps {
			if d := v - stepsBefore[k]; d != 0 {
				got[k] = d
			}
		}
		notes := planEvents(t, ns, "gw")
		if want := summaryCounts(t, notes); fmt.Sprint(got) != fmt.Sprint(want) || len(want) == 0 {
			return fmt.Errorf("plan steps counted %v, the plan events %q say %v", got, notes, want)
		}
		return nil
	})
	// The gauge reads the controller's cache, which follows the API server.
	eventually(t, 5*time.Second, func() error {
		if d := gateways(t, "True") - trueBefore; d != 1 {
			return fmt.Errorf("cloudgate_gateways{programmed=True} went up by %v for one programmed Gateway, want 1", d)
		}
		return nil
	})
	// The new route was timed once, from its creation to Programmed.
	eventually(t, 5*time.Second, func() error {
		if n, _ := routeTimings(t); n != timedBefore+1 {
			return fmt.Errorf("%v route timings after one new route, want 1", n-timedBefore)
		}
		return nil
	})

	// A route change is timed once, and a resync after it adds nothing.
	timed, sumBefore := routeTimings(t)
	start := time.Now()
	gen := updateRoute(t, ns, "r", func(r *gwv1.HTTPRoute) {
		r.Spec.Rules[0].Matches = []gwv1.HTTPRouteMatch{pathMatch(gwv1.PathMatchPathPrefix, "/v2")}
	})
	eventually(t, 15*time.Second, func() error {
		if n, _ := routeTimings(t); n != timed+1 {
			return fmt.Errorf("%v route timings after one route change (generation %d), want 1", n-timed, gen)
		}
		return nil
	})
	n, sum := routeTimings(t)
	if took := sum - sumBefore; took <= 0 || took > time.Since(start).Seconds() {
		t.Errorf("the route change was timed at %vs; it took at most %v", took, time.Since(start))
	} else {
		t.Logf("a route change took %.3fs to Programmed", took)
	}
	time.Sleep(suiteResync * 3 / 2) // at least one drift resync
	if m, _ := routeTimings(t); m != n {
		t.Errorf("a resync with no route change added %v route timings", m-n)
	}
	expectBackend(t, "GET", url+"v2", "", nil, "web")
	// The change was planned on a fresh read (the first plan of a
	// controller just restarted by another test may not need one).
	if d := calls(t, emulated.OpList, emulated.OutcomeSuccess) - listsBefore; d < 1 {
		t.Errorf("no successful ListLoadBalancers call counted")
	}

	// A throttling cloud: the calls count as throttled, and the Gateway's
	// Warning Event carries the cloud's code and request id, which its
	// condition leaves out.
	uid := string(getGateway(t, ns, "gw").UID)
	suite.cloud.Cloud().InjectOwnerFault(uid, http.StatusTooManyRequests, 0)
	t.Cleanup(func() { suite.cloud.Cloud().ClearOwnerFault(uid) })
	timed, _ = routeTimings(t)
	faulted := time.Now()
	updateRoute(t, ns, "r", func(r *gwv1.HTTPRoute) {
		r.Spec.Rules[0].Matches = []gwv1.HTTPRouteMatch{pathMatch(gwv1.PathMatchPathPrefix, "/v3")}
	})
	eventually(t, 15*time.Second, func() error {
		if calls(t, emulated.OpList, emulated.OutcomeThrottled) == throttledBefore {
			return fmt.Errorf("no throttled ListLoadBalancers call counted")
		}
		for _, note := range warnings(t, ns, "Gateway", "gw", "CloudError") {
			if strings.Contains(note, "429 Throttled") && strings.Contains(note, "request id ") {
				return nil
			}
		}
		return fmt.Errorf("no CloudError event with the cloud's code and request id: %q", warnings(t, ns, "Gateway", "gw", "CloudError"))
	})
	eventually(t, 10*time.Second, func() error {
		c := meta.FindStatusCondition(getGateway(t, ns, "gw").Status.Conditions, "Programmed")
		if c == nil || c.Status != metav1.ConditionFalse || strings.Contains(c.Message, "request id") {
			return fmt.Errorf("Programmed during throttling = %+v, want False with a static message", c)
		}
		if d := gateways(t, "False") - falseBefore; d != 1 {
			return fmt.Errorf("cloudgate_gateways{programmed=False} went up by %v, want 1", d)
		}
		return nil
	})
	if d := gateways(t, "True") - trueBefore; d != 0 {
		t.Errorf("cloudgate_gateways{programmed=True} is %v over its start while the Gateway is not programmed", d)
	}
	if n, _ := routeTimings(t); n != timed {
		t.Errorf("a route change the cloud has not taken was timed")
	}
	// No hot loop: the Gateway backs off (100ms, doubling), so five
	// failed reconciles take at least 1.5s; half of that is the bound.
	eventually(t, 20*time.Second, func() error {
		if d := calls(t, emulated.OpList, emulated.OutcomeThrottled) - throttledBefore; d < 5 {
			return fmt.Errorf("%v throttled calls so far", d)
		}
		return nil
	})
	throttled := time.Now()
	if took := throttled.Sub(faulted); took < 750*time.Millisecond {
		t.Errorf("five throttled reconciles within %v: no backoff", took)
	}
	suite.cloud.Cloud().ClearOwnerFault(uid)
	programmedAddress(t, ns, "gw")
	expectBackend(t, "GET", url+"v3", "", nil, "web")
	eventually(t, 10*time.Second, func() error {
		if n, _ := routeTimings(t); n != timed+1 {
			return fmt.Errorf("%v route timings once the throttled change went through, want 1", n-timed)
		}
		return nil
	})
	var list eventsv1.EventList
	must(t, suite.c.List(ctxFor(t), &list, client.InNamespace(ns)))
	for _, e := range list.Items {
		if e.Reason == "CloudError" {
			count := 1
			if e.Series != nil {
				count = int(e.Series.Count)
			}
			t.Logf("%.1fs of throttling: %d CloudError events (%.0f throttled calls), first note %q",
				throttled.Sub(faulted).Seconds(), count, calls(t, emulated.OpList, emulated.OutcomeThrottled)-throttledBefore, e.Note)
		}
	}

	// Refusals, each with a Warning Event named by its reason: a route's
	// (on the route), a listener's and the Gateway's (on the Gateway).
	create(t, route(ns, "bad", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/bad"), backendRef("nope", 1))))
	updateGateway(t, ns, "gw", func(gw *gwv1.Gateway) {
		gw.Spec.Listeners = append(gw.Spec.Listeners, gwv1.Listener{Name: "tls", Protocol: gwv1.HTTPSProtocolType, Port: 443,
			TLS: &gwv1.ListenerTLSConfig{CertificateRefs: []gwv1.SecretObjectReference{{Name: "missing"}}}})
	})
	eventually(t, 15*time.Second, func() error {
		if notes := warnings(t, ns, "HTTPRoute", "bad", string(gwv1.RouteReasonBackendNotFound)); len(notes) != 1 || !strings.Contains(notes[0], ns+"/gw") {
			return fmt.Errorf("route events BackendNotFound: %q, want one naming the Gateway", notes)
		}
		if notes := warnings(t, ns, "Gateway", "gw", string(gwv1.ListenerReasonInvalidCertificateRef)); len(notes) != 1 || !strings.Contains(notes[0], `"tls"`) {
			return fmt.Errorf("Gateway events InvalidCertificateRef: %q, want one naming the listener", notes)
		}
		return nil
	})
	trueBefore, falseBefore = gateways(t, "True"), gateways(t, "False")
	updateGateway(t, ns, "gw", func(gw *gwv1.Gateway) {
		gw.Spec.Infrastructure = &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{
			Group: "cloudgate.dev", Kind: "LoadBalancerParameters", Name: "absent"}}
	})
	eventually(t, 15*time.Second, func() error {
		if notes := warnings(t, ns, "Gateway", "gw", string(gwv1.GatewayReasonInvalidParameters)); len(notes) != 1 {
			return fmt.Errorf("Gateway events InvalidParameters: %q, want one", notes)
		}
		if dt, df := gateways(t, "True")-trueBefore, gateways(t, "False")-falseBefore; dt != -1 || df != 1 {
			return fmt.Errorf("after the bad change cloudgate_gateways moved True by %v and False by %v, want -1 and +1", dt, df)
		}
		return nil
	})
	// Told once: the reconciles and resyncs that follow add no Event.
	time.Sleep(suiteResync * 3 / 2)
	for _, c := range []struct{ kind, name, reason string }{
		{"HTTPRoute", "bad", string(gwv1.RouteReasonBackendNotFound)},
		{"Gateway", "gw", string(gwv1.ListenerReasonInvalidCertificateRef)},
		{"Gateway", "gw", string(gwv1.GatewayReasonInvalidParameters)},
	} {
		var list eventsv1.EventList
		must(t, suite.c.List(ctxFor(t), &list, client.InNamespace(ns)))
		for _, e := range list.Items {
			if e.Regarding.Kind == c.kind && e.Regarding.Name == c.name && e.Reason == c.reason && e.Series != nil {
				t.Errorf("%s %s: the %s event repeated %d times", c.kind, c.name, c.reason, e.Series.Count)
			}
		}
	}
}

// TestGatewayCountFollowsRestartAndClass checks cloudgate_gateways across a
// controller restart (a new manager reports from its own cache) and a move
// to a class of another controller (no longer ours, not counted at all).
func TestGatewayCountFollowsRestartAndClass(t *testing.T) {
	ns := namespace(t)
	base := map[string]float64{}
	for _, s := range []string{"True", "False", "Unknown"} {
		base[s] = gateways(t, s)
	}
	expect := func(what string, want map[string]float64) {
		t.Helper()
		eventually(t, 10*time.Second, func() error {
			for s, d := range want {
				if got := gateways(t, s) - base[s]; got != d {
					return fmt.Errorf("%s: cloudgate_gateways{programmed=%q} moved by %v, want %v", what, s, got, d)
				}
			}
			return nil
		})
	}
	create(t, gateway(ns, "gw", httpListener("http", 80)))
	programmedAddress(t, ns, "gw")
	expect("programmed", map[string]float64{"True": 1, "False": 0, "Unknown": 0})

	// The restarted controller serves the rest of the suite: its context
	// must outlive this test's.
	must(t, suite.ctl.Restart(context.Background(), suite.harness))
	expect("after a restart", map[string]float64{"True": 1, "False": 0, "Unknown": 0})

	other := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "metrics-other"},
		Spec: gwv1.GatewayClassSpec{ControllerName: "example.com/other"}}
	create(t, other)
	t.Cleanup(func() { _ = suite.c.Delete(context.Background(), other) })
	updateGateway(t, ns, "gw", func(gw *gwv1.Gateway) { gw.Spec.GatewayClassName = "metrics-other" })
	eventually(t, 30*time.Second, func() error {
		if lbs := cloudLoadBalancers(t, ns, "gw"); len(lbs) != 0 {
			return fmt.Errorf("the load balancer of a Gateway given to another controller is still there")
		}
		return nil
	})
	expect("moved to another controller's class", map[string]float64{"True": 0, "False": 0, "Unknown": 0})
}
