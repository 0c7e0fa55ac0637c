package localstack

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// TestNLBProtocols checks the NLB rules the AWS provider's TCP_UDP and UDP
// support relies on moto to enforce as AWS does.
func TestNLBProtocols(t *testing.T) {
	e := motoEnv(t)
	if !e.HasExtension(ExtNLBProtocols) {
		t.Fatalf("extensions %v lack %s", e.Extensions, ExtNLBProtocols)
	}
	_, elb := clients(t, e)
	ctx := context.Background()
	out, err := elb.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("nlb-protocols"),
		Type: types.LoadBalancerTypeEnumNetwork, Subnets: e.PublicSubnetIDs})
	if err != nil {
		t.Fatal(err)
	}
	nlb := out.LoadBalancers[0].LoadBalancerArn
	group := func(name string, p types.ProtocolEnum, hc types.ProtocolEnum, path string) (string, error) {
		in := &elbv2.CreateTargetGroupInput{Name: aws.String(name), Protocol: p, Port: aws.Int32(53), VpcId: aws.String(e.VPCID),
			TargetType: types.TargetTypeEnumIp, HealthCheckProtocol: hc}
		if path != "" {
			in.HealthCheckPath = aws.String(path)
		}
		out, err := elb.CreateTargetGroup(ctx, in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.TargetGroups[0].TargetGroupArn), nil
	}

	for _, c := range []struct {
		name     string
		protocol types.ProtocolEnum
		hc       types.ProtocolEnum
		path     string
	}{
		{"udp-over-udp", types.ProtocolEnumUdp, types.ProtocolEnumUdp, ""},
		{"tcpudp-over-udp", types.ProtocolEnumTcpUdp, types.ProtocolEnumUdp, ""},
		{"tcp-with-path", types.ProtocolEnumTcp, types.ProtocolEnumTcp, "/healthz"},
	} {
		if _, err := group(c.name, c.protocol, c.hc, c.path); err == nil || apiCode(t, err) != "ValidationError" {
			t.Errorf("%s group checked over %s (path %q): %v, want ValidationError", c.protocol, c.hc, c.path, err)
		}
	}
	tcp, err := group("tcp", types.ProtocolEnumTcp, types.ProtocolEnumTcp, "")
	if err != nil {
		t.Fatal(err)
	}
	udp, err := group("udp", types.ProtocolEnumUdp, types.ProtocolEnumTcp, "")
	if err != nil {
		t.Fatal(err)
	}
	both, err := group("tcpudp", types.ProtocolEnumTcpUdp, types.ProtocolEnumTcp, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := elb.ModifyTargetGroup(ctx, &elbv2.ModifyTargetGroupInput{TargetGroupArn: aws.String(udp), HealthCheckProtocol: types.ProtocolEnumUdp}); err == nil || apiCode(t, err) != "ValidationError" {
		t.Errorf("ModifyTargetGroup of a UDP group to a UDP check: %v, want ValidationError", err)
	}

	listen := func(p types.ProtocolEnum, port int32, groups ...string) (string, error) {
		fc := &types.ForwardActionConfig{}
		for _, g := range groups {
			fc.TargetGroups = append(fc.TargetGroups, types.TargetGroupTuple{TargetGroupArn: aws.String(g), Weight: aws.Int32(1)})
		}
		out, err := elb.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: nlb, Protocol: p, Port: aws.Int32(port),
			DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, ForwardConfig: fc}}})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.Listeners[0].ListenerArn), nil
	}
	for _, c := range []struct {
		protocol types.ProtocolEnum
		group    string
	}{
		{types.ProtocolEnumTcpUdp, tcp},
		{types.ProtocolEnumTcpUdp, udp},
		{types.ProtocolEnumTcp, udp},
		{types.ProtocolEnumUdp, tcp},
	} {
		if _, err := listen(c.protocol, 60, c.group); err == nil || apiCode(t, err) != "IncompatibleProtocols" {
			t.Errorf("a %s listener to group %s: %v, want IncompatibleProtocols", c.protocol, c.group, err)
		}
	}
	tcpListener, err := listen(types.ProtocolEnumTcp, 53, tcp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := listen(types.ProtocolEnumUdp, 53, udp); err == nil || apiCode(t, err) != "DuplicateListener" {
		t.Errorf("a UDP listener on the TCP listener's port: %v, want DuplicateListener", err)
	}
	if _, err := listen(types.ProtocolEnumTcpUdp, 54, both); err != nil {
		t.Errorf("a TCP_UDP listener to a TCP_UDP group: %v", err)
	}
	// ModifyListener: the TCP listener becomes TCP_UDP, which needs a
	// TCP_UDP group.
	modify := func(p types.ProtocolEnum, g string) error {
		_, err := elb.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: aws.String(tcpListener), Protocol: p,
			DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, ForwardConfig: &types.ForwardActionConfig{
				TargetGroups: []types.TargetGroupTuple{{TargetGroupArn: aws.String(g), Weight: aws.Int32(1)}}}}}})
		return err
	}
	if err := modify(types.ProtocolEnumTcpUdp, tcp); err == nil || apiCode(t, err) != "IncompatibleProtocols" {
		t.Errorf("ModifyListener to TCP_UDP with a TCP group: %v, want IncompatibleProtocols", err)
	}
	if err := modify(types.ProtocolEnumTcpUdp, both); err != nil {
		t.Fatalf("ModifyListener to TCP_UDP with a TCP_UDP group: %v", err)
	}
	ls, err := elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{tcpListener}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ls.Listeners[0].Protocol; got != types.ProtocolEnumTcpUdp {
		t.Errorf("protocol after ModifyListener = %s, want TCP_UDP", got)
	}
}
