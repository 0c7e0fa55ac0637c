package reconciler

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/client-go/tools/events"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/providers"
)

func TestReportAppliedRecordsOneEventPerPlanWithChanges(t *testing.T) {
	rec := events.NewFakeRecorder(10)
	r := &GatewayReconciler{Events: rec}
	gw := &gwv1.Gateway{}
	step := func(a providers.Action, k providers.Kind) providers.Step {
		return providers.Step{Kind: k, LogicalID: "x", Action: a, Why: "test"}
	}
	for _, c := range []struct {
		plan providers.Plan
		want string // "" for no event
	}{
		{providers.Plan{}, ""},
		{providers.Plan{Steps: []providers.Step{step(providers.ActionNothing, providers.KindLoadBalancer)}}, ""},
		{providers.Plan{Steps: []providers.Step{step(providers.ActionCreate, providers.KindLoadBalancer), step(providers.ActionCreate, providers.KindRule)}},
			"Normal LoadBalancerCreated created 1 load balancer, 1 rule"},
		{providers.Plan{Steps: []providers.Step{step(providers.ActionNothing, providers.KindLoadBalancer), step(providers.ActionDelete, providers.KindRule)}},
			"Normal LoadBalancerUpdated deleted 1 rule"},
	} {
		r.reportApplied(context.Background(), gw, "plans-test", c.plan)
		var got string
		select {
		case got = <-rec.Events:
		default:
		}
		if got != c.want {
			t.Errorf("plan %q: event %q, want %q", c.plan.Summary(), got, c.want)
		}
		if len(rec.Events) != 0 {
			t.Errorf("plan %q: more than one event", c.plan.Summary())
		}
	}
	// The steps that did something, and only those, are counted.
	for _, c := range []struct {
		kind   providers.Kind
		action providers.Action
		want   float64
	}{
		{providers.KindLoadBalancer, providers.ActionCreate, 1},
		{providers.KindRule, providers.ActionCreate, 1},
		{providers.KindRule, providers.ActionDelete, 1},
		{providers.KindLoadBalancer, providers.ActionNothing, 0},
	} {
		if got := testutil.ToFloat64(planSteps.WithLabelValues("plans-test", string(c.kind), string(c.action))); got != c.want {
			t.Errorf("%s %s steps counted %v, want %v", c.action, c.kind, got, c.want)
		}
	}
}
