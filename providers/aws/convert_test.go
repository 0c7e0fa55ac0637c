package aws

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

func TestNames(t *testing.T) {
	o := lb.Owner{Cluster: "c", Namespace: "ns", Name: "A very_long Gateway name that goes on and on", UID: "u1"}
	n := lbName(o)
	if len(n) > maxName || !strings.HasPrefix(n, "cg1-a-very-long-") || strings.Contains(n, "--") {
		t.Errorf("lbName = %q (%d characters)", n, len(n))
	}
	if nlbName(o) == n || len(nlbName(o)) > maxName {
		t.Errorf("nlbName = %q, lbName = %q: want two distinct names within %d characters", nlbName(o), n, maxName)
	}
	o2 := o
	o2.UID = "u2"
	if lbName(o2) == n {
		t.Errorf("two UIDs share the name %q", n)
	}
	tg := lb.TargetGroup{Name: "ns/svc:8080", Protocol: lb.ProtocolHTTP}
	tgs := lb.TargetGroup{Name: "ns/svc:8080", Protocol: lb.ProtocolHTTPS}
	if a, b := tgName(o, tg), tgName(o, tgs); a == b || len(a) > maxName || !strings.HasPrefix(a, "cg1-svc-8080-") {
		t.Errorf("tgName = %q, %q", a, b)
	}
	if got := name(o, "---"); got != "cg1-"+got[4:] || strings.Contains(got, "--") || len(got) != 14 {
		t.Errorf("name of a readable part without letters = %q", got)
	}
}

func TestConvertRule(t *testing.T) {
	groups := map[string]string{"g": "cg1-g", "h": "cg1-h"}
	r, err := convertRule("shop.example.com", lb.Rule{Name: "r", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/a/"}},
		Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "g", Weight: 3000}, {TargetGroup: "h", Weight: 1}, {TargetGroup: "g", Weight: 0}}}}, groups)
	if err != nil {
		t.Fatal(err)
	}
	want := []condition{{Field: "host-header", Values: []string{"shop.example.com"}}, {Field: "path-pattern", Values: []string{"/a", "/a/*"}}}
	if !equalConditions(r.Conditions, want) {
		t.Errorf("conditions = %+v, want %+v", r.Conditions, want)
	}
	if !slices.Equal(r.Action.Forward, []forward{{"cg1-g", 999}, {"cg1-h", 1}}) {
		t.Errorf("forward = %+v, want weights scaled into 0-999 with every share kept", r.Action.Forward)
	}
	r, err = convertRule("", lb.Rule{Name: "r", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/"}}, Action: lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 500}}}, groups)
	if err != nil || !equalConditions(r.Conditions, []condition{{Field: "path-pattern", Values: []string{"/*"}}}) {
		t.Errorf("catch-all = %+v, %v", r, err)
	}
}

func TestDesiredRefusesByName(t *testing.T) {
	p, _ := New(Config{})
	m := &lb.LoadBalancer{Owner: lb.Owner{Cluster: "c", UID: "u"},
		TargetGroups: []lb.TargetGroup{{Name: "g", Protocol: lb.ProtocolHTTP}},
		Listeners: []lb.Listener{{Name: "http", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
			{Name: "good", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/"}}, Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "g", Weight: 1}}}},
			{Name: "bad", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchRegex, Value: `/\p{L}+`}}, Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "g", Weight: 1}}}},
		}}}}}}
	_, err := p.desired(m, []string{"s1", "s2"})
	var ie *providers.InvalidError
	if !errors.As(err, &ie) || !slices.Equal(ie.Elements, []string{"bad"}) {
		t.Errorf("desired = %v, want a refusal naming only %q", err, "bad")
	}
}

func TestClassify(t *testing.T) {
	invalid := classify(&smithy.GenericAPIError{Code: "TooManyRules", Message: "no"}, "CreateRule", "ns/r")
	var ie *providers.InvalidError
	if !errors.As(invalid, &ie) || !slices.Equal(ie.Elements, []string{"ns/r"}) {
		t.Errorf("TooManyRules = %v, want an InvalidError naming the rule", invalid)
	}
	var api smithy.APIError
	if !errors.As(invalid, &api) {
		t.Errorf("the cause is lost: %v", invalid)
	}
	for _, code := range []string{"Throttling", "ThrottlingException", "InternalFailure", "ServiceUnavailable"} {
		err := classify(&smithy.GenericAPIError{Code: code, Fault: smithy.FaultServer}, "CreateRule", "r")
		if errors.Is(err, providers.ErrInvalid) {
			t.Errorf("%s classified as invalid", code)
		}
	}
	if classify(nil, "x", "") != nil {
		t.Error("classify(nil) != nil")
	}
}

func TestOutcome(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, OutcomeSuccess},
		{&smithy.GenericAPIError{Code: "Throttling"}, OutcomeThrottled},
		{&smithy.GenericAPIError{Code: "TooManyRules"}, OutcomeInvalid},
		{&smithy.GenericAPIError{Code: "TargetGroupNotFound"}, OutcomeNotFound},
		{&smithy.GenericAPIError{Code: "InternalFailure", Fault: smithy.FaultServer}, OutcomeError},
		{errors.New("connection refused"), OutcomeError},
	} {
		if got := outcome(c.err); got != c.want {
			t.Errorf("outcome(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}

// A target's zone is not AWS's to know (registerTargets sends none, and
// observed targets have none): a zoned model converts to the very groups
// of the same model without zones, so a zone never makes a target look
// registered anew, and a TCP and a UDP group whose targets report
// different zones still share a TCP_UDP listener.
func TestZonesAreNotSent(t *testing.T) {
	p := &Provider{}
	subnets := []string{"subnet-a", "subnet-b"}
	zoned := func(m *lb.LoadBalancer) *lb.LoadBalancer {
		for i := range m.TargetGroups {
			ts := slices.Clone(m.TargetGroups[i].Targets)
			for j := range ts {
				ts[j].Zone = fmt.Sprintf("zone-%d-%d", i, j)
			}
			m.TargetGroups[i].Targets = ts
		}
		return m
	}
	for _, model := range []func() *lb.LoadBalancer{gatewayModel, tcpModel, dnsModel} {
		plain, err := p.desired(model(), subnets)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.desired(zoned(model()), subnets)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Groups) != len(plain.Groups) || len(got.Groups) == 0 {
			t.Fatalf("%d groups with zones, %d without", len(got.Groups), len(plain.Groups))
		}
		for i, g := range got.Groups {
			if g.Logical != plain.Groups[i].Logical || !slices.Equal(g.Targets, plain.Groups[i].Targets) {
				t.Errorf("group %s has targets %+v with zones, want %+v as without", g.Logical, g.Targets, plain.Groups[i].Targets)
			}
		}
	}
}
