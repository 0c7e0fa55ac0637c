package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// planEvents returns the notes of the Normal events of applied plans on the
// Gateway, one per occurrence (a repeated event counts its series).
func planEvents(t *testing.T, ns, gw string) []string {
	t.Helper()
	var notes []string
	for _, e := range gatewayEvents(t, ns, gw, func(e eventsv1.Event) bool {
		return e.Type == corev1.EventTypeNormal && (e.Reason == "LoadBalancerCreated" || e.Reason == "LoadBalancerUpdated")
	}) {
		notes = append(notes, e.Reason+": "+e.Note)
	}
	return notes
}

// TestAppliedPlansAreEvents checks that the Gateway's events say what each
// plan changed in the cloud, and that a reconcile that changes nothing
// records nothing.
func TestAppliedPlansAreEvents(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "web")
	create(t, route(ns, "r", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("web", 1))))
	create(t, gateway(ns, "gw", httpListener("http", 80)))
	url := "http://" + programmedAddress(t, ns, "gw") + ":80/"
	expectBackend(t, "GET", url, "", nil, "web")

	// The route may reach the first plan or the next one; either way the
	// load balancer was created once, and its rule and target group with
	// it or after it.
	eventually(t, 10*time.Second, func() error {
		notes := strings.Join(planEvents(t, ns, "gw"), "\n")
		if strings.Count(notes, "LoadBalancerCreated: created 1 load balancer, 1 listener") != 1 ||
			!strings.Contains(notes, "1 rule") || !strings.Contains(notes, "1 target group") {
			return fmt.Errorf("the Gateway's plan events do not say what was created:\n%s", notes)
		}
		return nil
	})

	before := planEvents(t, ns, "gw")
	ensures := suite.ctl.Ensures()
	must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var svc corev1.Service
		must(t, suite.c.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: "web"}, &svc))
		if svc.Labels == nil {
			svc.Labels = map[string]string{}
		}
		svc.Labels["touched"] = "yes"
		return suite.c.Update(ctxFor(t), &svc)
	}))
	// Long enough for the reconcile the Service wakes and a drift resync
	// (an Ensure with nothing to change) to have run.
	eventually(t, 4*suiteResync, func() error {
		if suite.ctl.Ensures() == ensures {
			return fmt.Errorf("no Ensure since the label changed")
		}
		return nil
	})
	time.Sleep(time.Second)
	if after := planEvents(t, ns, "gw"); len(after) != len(before) {
		t.Errorf("a change that changes nothing in the cloud recorded events:\nbefore %q\nafter  %q", before, after)
	}

	must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var r gwv1.HTTPRoute
		must(t, suite.c.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: "r"}, &r))
		r.Spec.Rules[0].Matches = []gwv1.HTTPRouteMatch{pathMatch(gwv1.PathMatchPathPrefix, "/v2")}
		return suite.c.Update(ctxFor(t), &r)
	}))
	const updated = "LoadBalancerUpdated: updated 1 rule"
	eventually(t, 15*time.Second, func() error {
		after := planEvents(t, ns, "gw")
		if len(after) != len(before)+1 || count(after, updated) != count(before, updated)+1 {
			return fmt.Errorf("after a path change the plan events are %q (before %q), want one more: %q", after, before, updated)
		}
		return nil
	})
	t.Logf("plan events: %q", planEvents(t, ns, "gw"))
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
