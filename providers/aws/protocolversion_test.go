package aws

import (
	"errors"
	"slices"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// h2cModel is an HTTPS listener whose a.example.com forwards to an h2c
// Service and b.example.com to a GRPCRoute's group.
func h2cModel(t *testing.T) *lb.LoadBalancer {
	m := httpsModel([]lb.Certificate{pemCertificate(t, "shop/a-tls", "a.example.com")}, []lb.Certificate{pemCertificate(t, "shop/b-tls", "b.example.com")})
	m.TargetGroups = []lb.TargetGroup{
		{Name: "shop/api:8080", Protocol: lb.ProtocolH2C, Targets: []lb.Target{{IP: "10.0.1.11", Port: 8080}}},
		{Name: "shop/api:8080/grpc", Protocol: lb.ProtocolH2C, Targets: []lb.Target{{IP: "10.0.1.11", Port: 8080}}},
	}
	m.Listeners[0].VirtualHosts[0].Rules[0].Action = fwd("shop/api:8080", 1)
	m.Listeners[0].VirtualHosts[1].Rules[0].Action = fwd("shop/api:8080/grpc", 1)
	return m
}

// H2C groups are HTTP groups of protocol version HTTP2, GRPCRoutes' GRPC
// (health-checked with gRPC codes), HTTP ones HTTP1; a version change
// makes a new group; a plain HTTP listener cannot forward to either.
func TestProtocolVersions(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	m := h2cModel(t)
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	tgs, err := te.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{tgName(gatewayOwner, m.TargetGroups[0]), tgName(gatewayOwner, m.TargetGroups[1])}})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range tgs.TargetGroups {
		var want string
		switch *g.TargetGroupName {
		case tgName(gatewayOwner, m.TargetGroups[0]):
			want = versionHTTP2
		default:
			want = versionGRPC
			if g.Matcher == nil || awssdk.ToString(g.Matcher.GrpcCode) != grpcHealthCodes || awssdk.ToString(g.HealthCheckPath) != grpcHealthPath {
				t.Errorf("gRPC group health check %s with %+v, want %s answered %s", awssdk.ToString(g.HealthCheckPath), g.Matcher, grpcHealthPath, grpcHealthCodes)
			}
		}
		if g.Protocol != elbtypes.ProtocolEnumHttp || awssdk.ToString(g.ProtocolVersion) != want {
			t.Errorf("group %s: %s %s, want HTTP %s", *g.TargetGroupName, g.Protocol, awssdk.ToString(g.ProtocolVersion), want)
		}
	}
	te.calls.take()
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	if w := writes(te.calls.take()); len(w) != 0 {
		t.Errorf("a no-op Ensure wrote %s", format(w))
	}

	// On a plain HTTP listener: refused naming the rule, before any write.
	plain := gatewayModel()
	plain.TargetGroups[2].Protocol = lb.ProtocolH2C
	_, err = te.prov.Ensure(ctx, plain)
	var refusal *providers.InvalidError
	if !errors.As(err, &refusal) || !slices.Contains(refusal.Elements, "shop/web/rule-0/match-0") {
		t.Errorf("an HTTP listener to an HTTP2 group: %v, want the rule refused", err)
	}
	if err := te.prov.Delete(ctx, gatewayOwner); err != nil {
		t.Fatal(err)
	}
	te.checkNothingOwned(t, ctx, gatewayOwner)
}
