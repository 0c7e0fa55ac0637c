package aws

import (
	"context"
	"errors"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
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

// checkOneCertificate checks that the Gateway holds exactly one imported
// certificate, that its HTTPS listener serves it, and that nothing is left
// to do.
func checkOneCertificate(t *testing.T, te *testEnv, p *Provider, m *lb.LoadBalancer) {
	t.Helper()
	ctx := t.Context()
	var arns []string
	for arn, tags := range acmView(t, ctx, acm.NewFromConfig(te.directConfig(t))) {
		if owns(tags, m.Owner) {
			arns = append(arns, arn)
		}
	}
	if len(arns) != 1 {
		t.Fatalf("%d certificates of the Gateway, want 1: %v", len(arns), arns)
	}
	if def, _ := te.listenerCerts(t, ctx); def != arns[0] {
		t.Errorf("the listener serves %s, want the Gateway's certificate %s", def, arns[0])
	}
	plan, err := p.Plan(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range plan.Steps {
		if s.Action != providers.ActionNothing {
			t.Errorf("the plan still has %s %s %s (%s)", s.Action, s.Kind, s.LogicalID, s.Why)
		}
	}
}

// TestLostImportCertificateAnswer: ImportCertificate is not idempotent,
// so one whose answer was lost must not be retried blindly: the Ensure
// fails, the next one finds the certificate by its tags, and ACM holds one
// copy.
func TestLostImportCertificateAnswer(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	proxy, err := localstack.StartFaultProxy(localstack.FaultConfig{Target: te.moto.Endpoint, Rate: 1, LostAnswers: 1,
		After: []localstack.FaultKind{localstack.FaultInternal}, Operations: []string{"ImportCertificate"}, MaxFaults: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	cfg, err := te.moto.AWSConfigVia(ctx, proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{AWS: cfg, ClusterName: te.moto.Cluster, VPCID: te.moto.VPCID, Subnets: te.moto.PublicSubnetIDs})
	if err != nil {
		t.Fatal(err)
	}
	certs := []lb.Certificate{pemCertificate(t, "shop/a-tls", "a.example.com")}
	m := httpsModel(certs, certs)
	t.Cleanup(func() {
		if err := p.Delete(context.Background(), m.Owner); err != nil {
			t.Error(err)
		}
	})
	_, err = p.Ensure(ctx, m)
	var inv *providers.InvalidError
	if err == nil || errors.As(err, &inv) {
		t.Fatalf("Ensure with the import's answer lost: %v, want a transient error", err)
	}
	if _, err := p.Ensure(ctx, m); err != nil {
		t.Fatalf("the Ensure after: %v", err)
	}
	if got := proxy.Counts().Lost["ImportCertificate"]; got != 1 {
		t.Fatalf("%d ImportCertificate answers lost, want 1", got)
	}
	checkOneCertificate(t, te, p, m)
}

// TestSecondCertificateCopyGoes: with two copies of an imported
// certificate (as a retried import would leave), the listener is created
// on the copy that is kept and the other is deleted: ACM refuses to delete
// a certificate a listener serves, so picking the other would fail every
// Ensure.
func TestSecondCertificateCopyGoes(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	certs := []lb.Certificate{pemCertificate(t, "shop/a-tls", "a.example.com")}
	m := httpsModel(certs, certs)
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := te.prov.Delete(context.Background(), m.Owner); err != nil {
			t.Error(err)
		}
	})
	cm := acm.NewFromConfig(te.directConfig(t))
	var tags []acmtypes.Tag
	for _, tg := range acmView(t, ctx, cm) {
		if owns(tg, m.Owner) {
			tags = acmTags(tg)
		}
	}
	c := m.Listeners[0].VirtualHosts[0].Certificates[0]
	leaf, _, err := splitChain(c.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cm.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: leaf, PrivateKey: c.KeyPEM, Tags: tags}); err != nil {
		t.Fatal(err)
	}
	// The listener goes (drift), so that the next Ensure creates it anew
	// while both copies exist.
	def, _ := te.listenerCerts(t, ctx)
	lbs, err := te.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{lbName(m.Owner)}})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := te.elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: lbs.LoadBalancers[0].LoadBalancerArn})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := te.elb.DeleteListener(ctx, &elbv2.DeleteListenerInput{ListenerArn: ls.Listeners[0].ListenerArn}); err != nil {
		t.Fatal(err)
	}
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatalf("Ensure with two copies of the certificate (the listener served %s): %v", def, err)
	}
	checkOneCertificate(t, te, te.prov, m)
}

// directConfig reaches moto without the provider's counting.
func (te *testEnv) directConfig(t *testing.T) awssdk.Config {
	t.Helper()
	cfg, err := te.moto.AWSConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestSecondRuleCopyGoes: a second rule with our tags and the same logical
// id (a copy at another priority) is deleted, and the first one kept.
func TestSecondRuleCopyGoes(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	m := gatewayModel()
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := te.prov.Delete(context.Background(), m.Owner); err != nil {
			t.Error(err)
		}
	})
	before := te.view(t, ctx)
	orig := before.rules[80][0]
	if _, err := te.elb.CreateRule(ctx, &elbv2.CreateRuleInput{ListenerArn: before.listeners[80].ListenerArn, Priority: awssdk.Int32(49000),
		Conditions: orig.rule.Conditions, Actions: orig.rule.Actions, Tags: elbTags(orig.tags)}); err != nil {
		t.Fatal(err)
	}
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	after := te.view(t, ctx)
	for port, rules := range after.rules {
		if len(rules) != len(before.rules[port]) {
			t.Errorf("port %d: %d rules, want the %d from before the copy", port, len(rules), len(before.rules[port]))
		}
	}
	if got := after.rule(t, 80, orig.logical); got.arn != orig.arn || got.priority != orig.priority {
		t.Errorf("rule %s is %s at %d, want the first one, %s at %d", orig.logical, got.arn, got.priority, orig.arn, orig.priority)
	}
}
