package aws

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

func TestOptionsNotAppliedAreRefused(t *testing.T) {
	for _, c := range []struct {
		o    lb.Options
		name string
	}{
		{lb.Options{AWS: &lb.AWSOptions{TargetType: "instance"}}, "aws.targetType instance"},
	} {
		var inv *providers.InvalidError
		if err := unappliedOptions(c.o); !errors.As(err, &inv) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("options %+v: got %v, want an InvalidError naming %s", c.o, err, c.name)
		}
	}
	applied := lb.Options{Scheme: lb.SchemeInternal, IPAddressType: "dualstack", IdleTimeout: time.Minute, DeletionProtection: true,
		AccessLogs: &lb.AccessLogs{Bucket: "b"}, AWS: &lb.AWSOptions{TargetType: "ip", SSLPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
			Attributes: map[string]string{"routing.http2.enabled": "false"}}}
	if err := unappliedOptions(applied); err != nil {
		t.Errorf("applied options are refused: %v", err)
	}
}

// TestRaisedQuotas: a model over AWS's default rules quota is refused, and
// accepted with the parameters' raised quota; the Capabilities mapping
// checks against grow by as much.
func TestRaisedQuotas(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := gatewayModel()
	vh := &m.Listeners[0].VirtualHosts[0]
	for i := range maxRulesPerALB {
		vh.Rules = append(vh.Rules, lb.Rule{Name: "shop/many/rule-" + strconv.Itoa(i), Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/" + strconv.Itoa(i)}},
			Action: fwd("shop/web:80", 1)})
	}
	var inv *providers.InvalidError
	if _, err := p.desired(m, []string{"subnet-1", "subnet-2"}); !errors.As(err, &inv) || !strings.Contains(err.Error(), "over the 100 rules") {
		t.Fatalf("over 100 rules at the default quota: %v, want a refusal", err)
	}
	m.Options.AWS = &lb.AWSOptions{Quotas: lb.Quotas{RulesPerLoadBalancer: 200}}
	if _, err := p.desired(m, []string{"subnet-1", "subnet-2"}); err != nil {
		t.Errorf("with the quota raised to 200: %v", err)
	}
	caps := p.Capabilities().WithQuotas(m.Options.AWS.Quotas)
	if want := 200 - defaultRuleReserve; caps.MaxRulesPerListener != want {
		t.Errorf("raised MaxRulesPerListener = %d, want %d", caps.MaxRulesPerListener, want)
	}
	if caps := p.Capabilities().WithQuotas(lb.Quotas{CertificatesPerLoadBalancer: 50}); caps.MaxCertificatesPerListener != 51 {
		t.Errorf("raised MaxCertificatesPerListener = %d, want 51", caps.MaxCertificatesPerListener)
	}
}

// TestALBOnlyOptionsOnAnNLB: options the provider applies to ALBs only are
// refused on the NLB's listeners (the reconciler then serves the rest of
// the Gateway), and target group attributes reach the NLB's groups with
// the defaults of their protocol.
func TestALBOnlyOptionsOnAnNLB(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := gatewayModel()
	m.TargetGroups = append(m.TargetGroups, lb.TargetGroup{Name: "shop/db:5432", Protocol: lb.ProtocolTCP, Targets: []lb.Target{{IP: "10.0.1.41", Port: 5432}}})
	m.Listeners = append(m.Listeners, lb.Listener{Name: "tcp-5432", Port: 5432, Protocol: lb.ProtocolTCP,
		Streams: []lb.Stream{{Name: "shop/db/rule-0", Backends: []lb.WeightedBackend{{TargetGroup: "shop/db:5432", Weight: 1}}}}})
	subnets := []string{"subnet-1", "subnet-2"}
	delay := 5 * time.Second
	m.Options.AWS = &lb.AWSOptions{DeregistrationDelay: &delay}
	s, err := p.desired(m, subnets)
	if err != nil {
		t.Fatalf("a mixed Gateway with a deregistration delay: %v", err)
	}
	for _, g := range s.Groups {
		if g.Attributes["deregistration_delay.timeout_seconds"] != "5" {
			t.Errorf("group %s attributes %v, want the 5s delay", g.Name, g.Attributes)
		}
		if _, ok := g.Attributes["slow_start.duration_seconds"]; ok == (g.Protocol == "TCP") {
			t.Errorf("group %s (%s) attributes %v: slow start is an ALB group's only", g.Name, g.Protocol, g.Attributes)
		}
	}
	m.Options.IdleTimeout = time.Minute
	_, err = p.desired(m, subnets)
	var inv *providers.InvalidError
	if !errors.As(err, &inv) || !slices.Equal(inv.Elements, []string{"tcp-5432"}) || !strings.Contains(err.Error(), "idleTimeout") {
		t.Errorf("idleTimeout with an NLB listener: %v, want a refusal of tcp-5432 naming idleTimeout", err)
	}
}
