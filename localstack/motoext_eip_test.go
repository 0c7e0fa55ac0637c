package localstack

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// TestNLBElasticIPs checks what the AWS provider's static addresses rely
// on: an NLB keeps the Elastic IPs of its subnet mappings, shows them in
// its zones, holds them associated while it lives, and what AWS refuses
// is refused.
func TestNLBElasticIPs(t *testing.T) {
	e := motoEnv(t)
	if !e.HasExtension(ExtNLBElasticIPs) {
		t.Fatalf("extensions %v lack %s", e.Extensions, ExtNLBElasticIPs)
	}
	ec, elb := clients(t, e)
	ctx := context.Background()
	alloc := func() ec2types.Address {
		out, err := ec.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
		if err != nil {
			t.Fatal(err)
		}
		return ec2types.Address{AllocationId: out.AllocationId, PublicIp: out.PublicIp}
	}
	a, b := alloc(), alloc()
	mappings := func(ids ...*string) []types.SubnetMapping {
		var out []types.SubnetMapping
		for i, id := range ids {
			out = append(out, types.SubnetMapping{SubnetId: aws.String(e.PublicSubnetIDs[i]), AllocationId: id})
		}
		return out
	}
	create := func(name string, kind types.LoadBalancerTypeEnum, scheme types.LoadBalancerSchemeEnum, m []types.SubnetMapping) (*elbv2.CreateLoadBalancerOutput, error) {
		return elb.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String(name), Type: kind, Scheme: scheme, SubnetMappings: m})
	}
	for _, c := range []struct {
		name   string
		kind   types.LoadBalancerTypeEnum
		scheme types.LoadBalancerSchemeEnum
		ids    []*string
		code   string
	}{
		{"eip-alb", types.LoadBalancerTypeEnumApplication, "", []*string{a.AllocationId, b.AllocationId}, "ValidationError"},
		{"eip-internal", types.LoadBalancerTypeEnumNetwork, types.LoadBalancerSchemeEnumInternal, []*string{a.AllocationId}, "ValidationError"},
		{"eip-unknown", types.LoadBalancerTypeEnumNetwork, "", []*string{aws.String("eipalloc-0000000000000000")}, "AllocationIdNotFound"},
	} {
		if _, err := create(c.name, c.kind, c.scheme, mappings(c.ids...)); err == nil || apiCode(t, err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	out, err := create("eip-nlb", types.LoadBalancerTypeEnumNetwork, "", mappings(a.AllocationId, b.AllocationId))
	if err != nil {
		t.Fatal(err)
	}
	arn := out.LoadBalancers[0].LoadBalancerArn
	d, err := elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{*arn}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, z := range d.LoadBalancers[0].AvailabilityZones {
		for _, la := range z.LoadBalancerAddresses {
			got[aws.ToString(z.SubnetId)] = aws.ToString(la.AllocationId) + " " + aws.ToString(la.IpAddress)
		}
	}
	if got[e.PublicSubnetIDs[0]] != *a.AllocationId+" "+*a.PublicIp || got[e.PublicSubnetIDs[1]] != *b.AllocationId+" "+*b.PublicIp {
		t.Errorf("zones' addresses = %v, want %s and %s", got, *a.AllocationId, *b.AllocationId)
	}
	associated := func() int {
		out, err := ec.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{*a.AllocationId, *b.AllocationId}})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, x := range out.Addresses {
			if aws.ToString(x.AssociationId) != "" {
				n++
			}
		}
		return n
	}
	if n := associated(); n != 2 {
		t.Errorf("%d of the NLB's Elastic IPs associated, want 2", n)
	}
	if _, err := create("eip-taken", types.LoadBalancerTypeEnumNetwork, "", mappings(a.AllocationId)); err == nil || apiCode(t, err) != "InvalidConfigurationRequest" {
		t.Errorf("an associated Elastic IP: %v, want InvalidConfigurationRequest", err)
	}
	if _, err := elb.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: arn}); err != nil {
		t.Fatal(err)
	}
	if n := associated(); n != 0 {
		t.Errorf("%d Elastic IPs still associated after the NLB went", n)
	}
	for _, x := range []ec2types.Address{a, b} {
		if _, err := ec.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: x.AllocationId}); err != nil {
			t.Error(err)
		}
	}
}
