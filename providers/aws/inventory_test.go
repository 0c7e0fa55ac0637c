package aws

import (
	"context"
	"errors"
	"testing"
	"time"

	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// smallModel is one HTTP listener with one rule to one target group.
func smallModel(o lb.Owner) *lb.LoadBalancer {
	tg := o.Namespace + "/app:8080"
	return &lb.LoadBalancer{
		Owner:        o,
		TargetGroups: []lb.TargetGroup{{Name: tg, Protocol: lb.ProtocolHTTP, Targets: []lb.Target{{IP: "10.0.1.50", Port: 8080}}}},
		Listeners: []lb.Listener{{Name: "http-80", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
			{Name: o.Namespace + "/r/rule-0/match-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/"}}, Action: fwd(tg, 1)},
		}}}}},
	}
}

// Observes of many Gateways share one scan of the region; each then
// describes only its own resources.
func TestInventoryIsShared(t *testing.T) {
	te := start(t)
	ctx := context.Background()
	var models []*lb.LoadBalancer
	for _, name := range []string{"a", "b", "c"} {
		m := smallModel(lb.Owner{Cluster: "cloudgate-aws-test", Namespace: "inv", Name: name, UID: "uid-inv-" + name})
		models = append(models, m)
		if _, err := te.prov.Ensure(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	te.calls.take()
	for _, m := range models {
		res, err := te.prov.Ensure(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Status.Ready {
			t.Fatalf("%s: status %+v", m.Owner.Name, res.Status)
		}
	}
	calls := te.calls.take()
	if w := writes(calls); len(w) > 0 {
		t.Errorf("no-op Ensures wrote %v", w)
	}
	// One scan (a list of load balancers and one of target groups, their
	// tags, one list of certificates) for the three, and per Gateway one
	// describe of its load balancer and one of its target group.
	if calls["ListCertificates"] != 1 || calls["DescribeLoadBalancers"] != 1+3 || calls["DescribeTargetGroups"] != 1+3 {
		t.Errorf("three no-op Ensures: %s; want one region scan and per Gateway one DescribeLoadBalancers and one DescribeTargetGroups", format(calls))
	}
	t.Logf("three no-op Ensures: %s", format(calls))
}

// A load balancer deleted out of band after the scan is found missing by
// its describe: the observe scans again and the Ensure creates it anew.
func TestInventoryStaleAfterOutOfBandDelete(t *testing.T) {
	te := start(t)
	ctx := context.Background()
	m := smallModel(lb.Owner{Cluster: "cloudgate-aws-test", Namespace: "inv", Name: "gone", UID: "uid-inv-gone"})
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := te.prov.Ensure(ctx, m); err != nil { // the scan is fresh now
		t.Fatal(err)
	}
	out, err := te.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{lbName(m.Owner)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := te.elb.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: out.LoadBalancers[0].LoadBalancerArn}); err != nil {
		t.Fatal(err)
	}
	res, err := te.prov.Ensure(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied.Count(providers.ActionCreate, providers.KindLoadBalancer) != 1 || len(res.Status.Addresses) != 1 {
		t.Errorf("after an out-of-band delete: %s, status %+v; want the load balancer created again", res.Applied, res.Status)
	}
}

// A load balancer another process made after our scan (a previous leader)
// is found by name with our tags: the plan reads again instead of refusing
// the name or making a second one.
func TestInventoryMissesAnotherProcesssCreate(t *testing.T) {
	te := start(t)
	ctx := context.Background()
	o := lb.Owner{Cluster: "cloudgate-aws-test", Namespace: "inv", Name: "handover", UID: "uid-inv-handover"}
	other := smallModel(lb.Owner{Cluster: "cloudgate-aws-test", Namespace: "inv", Name: "other", UID: "uid-inv-other"})
	for range 2 { // the second Ensure writes nothing and leaves our scan in place
		if _, err := te.prov.Ensure(ctx, other); err != nil {
			t.Fatal(err)
		}
	}
	leader, err := New(Config{AWS: te.prov.cfg.AWS, ClusterName: te.prov.cfg.ClusterName, VPCID: te.prov.cfg.VPCID, Subnets: te.prov.cfg.Subnets})
	if err != nil {
		t.Fatal(err)
	}
	m := smallModel(o)
	if _, err := leader.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	_, err = te.prov.Ensure(ctx, m)
	if err == nil {
		t.Fatal("an Ensure planned on a scan without the other process's load balancer went through")
	}
	var invalid *providers.InvalidError
	if errors.As(err, &invalid) {
		t.Fatalf("the name was refused as foreign: %v", err)
	}
	res, err := te.prov.Ensure(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied.Count(providers.ActionCreate, providers.KindLoadBalancer) != 0 || !res.Status.Ready {
		t.Errorf("second Ensure: %s, status %+v; want the existing load balancer adopted", res.Applied, res.Status)
	}
	lbs, err := te.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{lbName(o)}})
	if err != nil || len(lbs.LoadBalancers) != 1 {
		t.Fatalf("load balancers named %s: %v %v", lbName(o), lbs, err)
	}
}

func TestResyncPeriodKeepsTheReadBudget(t *testing.T) {
	for _, c := range []struct {
		gateways int
		want     time.Duration
	}{{0, 10 * time.Minute}, {50, 10 * time.Minute}, {92, 10 * time.Minute}, {120, 780 * time.Second}, {500, 3250 * time.Second}, {1000, 6500 * time.Second}} {
		got := resyncPeriodFor(c.gateways)
		if got != c.want {
			t.Errorf("%d Gateways: %s, want %s", c.gateways, got, c.want)
		}
		if rate := float64(c.gateways*readsPerResync) / got.Seconds(); rate > resyncBudget {
			t.Errorf("%d Gateways every %s: %.2f Describe calls per second, over the budget of %d", c.gateways, got, rate, resyncBudget)
		}
	}
}
