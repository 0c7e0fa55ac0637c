package aws

import (
	"errors"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/cloudgate-dev/cloudgate/localstack"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// TestLostCreateAnswers: a create that took effect but whose answer was
// lost (HTTP 500 after the write; the SDK retries it) neither fails the
// Ensure nor leaves a duplicate, and the next Ensure has nothing to do.
// ELBv2's creates of load balancers, target groups and listeners are
// idempotent; CreateRule is not, and its retry meets PriorityInUse.
func TestLostCreateAnswers(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	for _, op := range []string{"CreateRule", "CreateTargetGroup", "CreateLoadBalancer", "CreateListener"} {
		t.Run(op, func(t *testing.T) {
			proxy, err := localstack.StartFaultProxy(localstack.FaultConfig{Target: te.moto.Endpoint, Rate: 1, LostAnswers: 1,
				After: []localstack.FaultKind{localstack.FaultInternal}, Operations: []string{op}, MaxFaults: 1})
			if err != nil {
				t.Fatal(err)
			}
			// Cleanups run last first: the Gateway's deletion, through
			// the proxy, then the proxy's close.
			t.Cleanup(func() { _ = proxy.Close() })
			cfg, err := te.moto.AWSConfigVia(ctx, proxy.URL)
			if err != nil {
				t.Fatal(err)
			}
			p, err := New(Config{AWS: cfg, ClusterName: te.moto.Cluster, VPCID: te.moto.VPCID, Subnets: te.moto.PublicSubnetIDs})
			if err != nil {
				t.Fatal(err)
			}
			m := gatewayModel()
			m.Owner.Name, m.Owner.UID = "lost-"+op, "uid-lost-"+op
			if _, err := p.Ensure(ctx, m); err != nil {
				var inv *providers.InvalidError
				t.Fatalf("Ensure with the answer of one %s lost: %v (refused for good: %v)", op, err, errors.As(err, &inv))
			}
			t.Cleanup(func() {
				if err := p.Delete(ctx, m.Owner); err != nil {
					t.Error(err)
				}
			})
			if got := proxy.Counts().Lost[op]; got != 1 {
				t.Fatalf("%d answers of %s lost, want 1", got, op)
			}

			// The cloud, read with the test's own client: one of each.
			lbs, err := te.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
			if err != nil {
				t.Fatal(err)
			}
			var arns []string
			for _, l := range lbs.LoadBalancers {
				arns = append(arns, *l.LoadBalancerArn)
			}
			tags, err := te.tags(ctx, arns...)
			if err != nil {
				t.Fatal(err)
			}
			var ours []string
			for _, arn := range arns {
				if tags[arn][lb.TagGatewayUID] == m.Owner.UID {
					ours = append(ours, arn)
				}
			}
			if len(ours) != 1 {
				t.Fatalf("%d load balancers of the Gateway, want 1", len(ours))
			}
			ls, err := te.elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: &ours[0]})
			if err != nil {
				t.Fatal(err)
			}
			if len(ls.Listeners) != len(m.Listeners) {
				t.Errorf("%d listeners, want %d", len(ls.Listeners), len(m.Listeners))
			}
			wantRules := map[int32]int{}
			for _, l := range m.Listeners {
				for _, vh := range l.VirtualHosts {
					wantRules[l.Port] += len(vh.Rules)
					if vh.Hostname != "" {
						wantRules[l.Port]++ // the VirtualHost's catch-all
					}
				}
			}
			for _, l := range ls.Listeners {
				rs, err := te.elb.DescribeRules(ctx, &elbv2.DescribeRulesInput{ListenerArn: l.ListenerArn})
				if err != nil {
					t.Fatal(err)
				}
				var ruleARNs []string
				for _, r := range rs.Rules {
					if !awssdk.ToBool(r.IsDefault) {
						ruleARNs = append(ruleARNs, *r.RuleArn)
					}
				}
				rt, err := te.tags(ctx, ruleARNs...)
				if err != nil {
					t.Fatal(err)
				}
				seen := map[string]bool{}
				for _, arn := range ruleARNs {
					logical := rt[arn][lb.TagResource]
					if seen[logical] {
						t.Errorf("port %d: rule %s twice", *l.Port, logical)
					}
					seen[logical] = true
				}
				if len(ruleARNs) != wantRules[*l.Port] {
					t.Errorf("port %d: %d rules, want %d", *l.Port, len(ruleARNs), wantRules[*l.Port])
				}
			}

			plan, err := p.Plan(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range plan.Steps {
				if s.Action != providers.ActionNothing {
					t.Errorf("after the Ensure, the plan still has %s %s %s (%s)", s.Action, s.Kind, s.LogicalID, s.Why)
				}
			}
		})
	}
}
