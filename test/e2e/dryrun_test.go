package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/reconciler"
)

// events returns the notes of the Gateway's events of one reason, one per
// occurrence (a repeated event counts its series).
func events(t *testing.T, ns, gw, reason string) []string {
	t.Helper()
	var notes []string
	for _, e := range gatewayEvents(t, ns, gw, func(e eventsv1.Event) bool { return e.Reason == reason }) {
		notes = append(notes, e.Type+": "+e.Note)
	}
	return notes
}

// gatewayEvents returns the Gateway's events that keep accepts, each as many
// times as it occurred (a repeated event counts its series).
func gatewayEvents(t *testing.T, ns, gw string, keep func(eventsv1.Event) bool) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	must(t, suite.c.List(ctxFor(t), &list, client.InNamespace(ns)))
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind != "Gateway" || e.Regarding.Name != gw || !keep(e) {
			continue
		}
		n := 1
		if e.Series != nil {
			n = int(e.Series.Count)
		}
		for range n {
			out = append(out, e)
		}
	}
	return out
}

// setDryRun sets the Gateway's dry-run annotation, or removes it for "".
func setDryRun(t *testing.T, ns, name, value string) {
	t.Helper()
	must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		gw := getGateway(t, ns, name)
		if value == "" {
			delete(gw.Annotations, reconciler.DryRunAnnotation)
		} else {
			metav1.SetMetaDataAnnotation(&gw.ObjectMeta, reconciler.DryRunAnnotation, value)
		}
		return suite.c.Update(ctxFor(t), gw)
	}))
}

// dryRunCondition waits until the Gateway's dry-run condition has reason
// and a message that contains want, and returns the Gateway.
func dryRunCondition(t *testing.T, ns, name, reason, want string) *gwv1.Gateway {
	t.Helper()
	var gw *gwv1.Gateway
	eventually(t, 30*time.Second, func() error {
		gw = getGateway(t, ns, name)
		c := meta.FindStatusCondition(gw.Status.Conditions, reconciler.ConditionDryRun)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != reason || !strings.Contains(c.Message, want) || c.ObservedGeneration != gw.Generation {
			return fmt.Errorf("dry-run condition %+v, want %s with %q", c, reason, want)
		}
		return nil
	})
	return gw
}

// cloudWrites is how many writes the emulated cloud has served.
func cloudWrites() int64 { return suite.cloud.Cloud().Stats().Writes() }

// ownerRequests is how many requests about the Gateway the cloud has
// served: each plan reads it.
func ownerRequests(t *testing.T, ns, name string) int64 {
	return suite.cloud.Cloud().Stats().Owners[string(getGateway(t, ns, name).UID)]
}

// TestDryRun checks the dry-run annotation: a new Gateway in a dry run
// gets its plan as a condition and an Event and nothing in the cloud;
// removing the annotation applies it; a change to a programmed Gateway in
// a dry run is not applied, and the condition shows it pending; a bad
// value is refused; deleting a Gateway in a dry run deletes its load
// balancer.
func TestDryRun(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "web")
	create(t, route(ns, "r", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("web", 1))))
	writes := cloudWrites()
	gw := gateway(ns, "gw", httpListener("http", 80))
	gw.Annotations = map[string]string{reconciler.DryRunAnnotation: "true"}
	create(t, gw)

	const created = "would create 1 load balancer, 1 listener, 1 rule, 1 target group"
	got := dryRunCondition(t, ns, "gw", reconciler.ReasonPlanComputed, created)
	if c := meta.FindStatusCondition(got.Status.Conditions, string(gwv1.GatewayConditionProgrammed)); c == nil ||
		c.Status != metav1.ConditionFalse || c.Reason != string(gwv1.GatewayReasonPending) || !strings.Contains(c.Message, "Dry run") {
		t.Errorf("Programmed in a dry run = %+v, want False/Pending saying it is a dry run", c)
	}
	if msg := meta.FindStatusCondition(got.Status.Conditions, reconciler.ConditionDryRun).Message; !strings.Contains(msg, `Create rule "http-80/`) {
		t.Errorf("the dry-run condition does not list the plan's steps:\n%s", msg)
	}
	eventually(t, 10*time.Second, func() error {
		if ev := events(t, ns, "gw", reconciler.ReasonDryRun); len(ev) != 1 || !strings.Contains(ev[0], "Normal: Not applied") || !strings.Contains(ev[0], created) {
			return fmt.Errorf("dry-run events %q, want one with %q", ev, created)
		}
		return nil
	})
	// Two more plans (resyncs read the cloud) find the same plan: still
	// one Event, and still nothing in the cloud.
	reads := ownerRequests(t, ns, "gw")
	eventually(t, 4*suiteResync, func() error {
		if n := ownerRequests(t, ns, "gw"); n < reads+2 {
			return fmt.Errorf("%d cloud requests about the Gateway since the first plan, want 2 resyncs", n-reads)
		}
		return nil
	})
	if ev := events(t, ns, "gw", reconciler.ReasonDryRun); len(ev) != 1 {
		t.Errorf("resyncs that found the same plan recorded events: %q", ev)
	}
	if lbs := cloudLoadBalancers(t, ns, "gw"); len(lbs) != 0 || cloudWrites() != writes {
		t.Fatalf("a dry run wrote to the cloud: %d load balancers, %d writes", len(lbs), cloudWrites()-writes)
	}

	// The annotation goes: the plan is applied.
	setDryRun(t, ns, "gw", "")
	addr := programmedAddress(t, ns, "gw")
	expectBackend(t, "GET", "http://"+addr+":80/x", "", nil, "web")
	if c := meta.FindStatusCondition(getGateway(t, ns, "gw").Status.Conditions, reconciler.ConditionDryRun); c != nil {
		t.Errorf("the dry-run condition outlived the dry run: %+v", c)
	}

	// A dry run again, and a route change: not applied.
	setDryRun(t, ns, "gw", "true")
	dryRunCondition(t, ns, "gw", reconciler.ReasonPlanComputed, "no changes")
	writes = cloudWrites()
	must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var r gwv1.HTTPRoute
		must(t, suite.c.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: "r"}, &r))
		r.Spec.Rules[0].Matches = []gwv1.HTTPRouteMatch{pathMatch(gwv1.PathMatchPathPrefix, "/v2")}
		return suite.c.Update(ctxFor(t), &r)
	}))
	got = dryRunCondition(t, ns, "gw", reconciler.ReasonPlanComputed, "would update 1 rule")
	if msg := meta.FindStatusCondition(got.Status.Conditions, reconciler.ConditionDryRun).Message; !strings.Contains(msg, `"/v2"`) {
		t.Errorf("the pending plan does not show the new path:\n%s", msg)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, string(gwv1.GatewayConditionProgrammed)); c == nil ||
		c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "keeps serving the configuration applied before") {
		t.Errorf("Programmed with a pending change = %+v", c)
	}
	if len(got.Status.Addresses) == 0 || got.Status.Addresses[0].Value != addr {
		t.Errorf("the dry run dropped the address of the load balancer that still serves: %+v", got.Status.Addresses)
	}
	// The old rule still serves /x: the change is not applied.
	expectBackend(t, "GET", "http://"+addr+":80/x", "", nil, "web")
	if w := cloudWrites(); w != writes {
		t.Errorf("a dry run wrote %d times to the cloud", w-writes)
	}

	// A value that is neither true nor false: refused, and still nothing
	// applied.
	setDryRun(t, ns, "gw", "yes")
	dryRunCondition(t, ns, "gw", reconciler.ReasonInvalidDryRun, `not "yes"`)
	eventually(t, 10*time.Second, func() error {
		if ev := events(t, ns, "gw", reconciler.ReasonInvalidDryRun); len(ev) != 1 || !strings.HasPrefix(ev[0], corev1.EventTypeWarning) {
			return fmt.Errorf("events for a bad value: %q", ev)
		}
		return nil
	})
	expectBackend(t, "GET", "http://"+addr+":80/x", "", nil, "web")

	// Deleting the Gateway in a dry run deletes its load balancer.
	setDryRun(t, ns, "gw", "true")
	deleteAndWait(t, getGateway(t, ns, "gw"))
	if lbs := cloudLoadBalancers(t, ns, "gw"); len(lbs) != 0 {
		t.Errorf("a Gateway deleted in a dry run left %d load balancers", len(lbs))
	}
}
