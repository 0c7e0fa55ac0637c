package aws

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// countsModel is the shape the issue asks figures for: an ALB with 2
// listeners, 20 rules and 10 target groups, 2 targets each.
func countsModel() *lb.LoadBalancer {
	o := lb.Owner{Cluster: "cloudgate-aws-test", Namespace: "counts", Name: "shop", UID: "uid-counts"}
	m := &lb.LoadBalancer{Owner: o}
	for i := range 10 {
		m.TargetGroups = append(m.TargetGroups, lb.TargetGroup{Name: fmt.Sprintf("counts/svc-%d:8080", i), Protocol: lb.ProtocolHTTP,
			Targets: []lb.Target{{IP: fmt.Sprintf("10.0.2.%d", 10+i), Port: 8080}, {IP: fmt.Sprintf("10.0.3.%d", 10+i), Port: 8080}}})
	}
	for _, port := range []int32{80, 8080} {
		l := lb.Listener{Name: fmt.Sprintf("http-%d", port), Port: port, Protocol: lb.ProtocolHTTP}
		var rules []lb.Rule
		for i := range 10 {
			rules = append(rules, lb.Rule{Name: fmt.Sprintf("counts/r%d/rule-%d/match-0", port, i),
				Match:  lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: fmt.Sprintf("/p%d", i)}},
				Action: fwd(fmt.Sprintf("counts/svc-%d:8080", i), 1)})
		}
		l.VirtualHosts = []lb.VirtualHost{{Rules: rules}}
		m.Listeners = append(m.Listeners, l)
	}
	return m
}

// The writes of a create are the fewest possible: one call per resource
// and one RegisterTargets per target group; a no-op writes nothing; an
// endpoint change writes one Register and one Deregister.
func TestCallCounts(t *testing.T) {
	te := start(t)
	ctx := context.Background()
	m := countsModel()
	te.calls.take()
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	created := te.calls.take()
	// The load balancer's own security group (securitygroups.go): one
	// create and one authorize for both listener ports.
	minimum := map[string]int{"CreateLoadBalancer": 1, "CreateListener": 2, "CreateRule": 20, "CreateTargetGroup": 10, "RegisterTargets": 10,
		"CreateSecurityGroup": 1, "AuthorizeSecurityGroupIngress": 1}
	if w := writes(created); !maps.Equal(w, minimum) {
		t.Errorf("create wrote %v, want the minimum %v", w, minimum)
	}
	t.Logf("create (2 listeners, 20 rules, 10 target groups of 2 targets): %s", format(created))

	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	noop := te.calls.take()
	if w := writes(noop); len(w) > 0 {
		t.Errorf("a no-op Ensure wrote %v", w)
	}
	t.Logf("no-op: %s", format(noop))

	m.TargetGroups[3].Targets = []lb.Target{m.TargetGroups[3].Targets[0], {IP: "10.0.4.13", Port: 8080}}
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	changed := te.calls.take()
	if w := writes(changed); !maps.Equal(w, map[string]int{"RegisterTargets": 1, "DeregisterTargets": 1}) {
		t.Errorf("an endpoint change wrote %v, want one RegisterTargets and one DeregisterTargets", w)
	}
	t.Logf("endpoint change: %s", format(changed))
	if err := te.prov.Delete(ctx, m.Owner); err != nil {
		t.Fatal(err)
	}
	t.Logf("delete: %s", format(te.calls.take()))
}
