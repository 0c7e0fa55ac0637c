package aws

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// eips allocates n Elastic IPs on te's moto, released when the test ends.
func (te *testEnv) eips(t *testing.T, n int) (*ec2.Client, []ec2types.Address) {
	t.Helper()
	cfg, err := te.moto.AWSConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := ec2.NewFromConfig(cfg)
	var out []ec2types.Address
	for range n {
		a, err := c.AllocateAddress(t.Context(), &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ec2types.Address{AllocationId: a.AllocationId, PublicIp: a.PublicIp})
	}
	return c, out
}

func ipsOf(as []ec2types.Address) []string {
	var out []string
	for _, a := range as {
		out = append(out, awssdk.ToString(a.PublicIp))
	}
	return out
}

// nlbEIPs is the NLB's Elastic IP allocation ids by subnet, as
// DescribeLoadBalancers shows them.
func (v *nlbView) eips() map[string]string {
	out := map[string]string{}
	for _, z := range v.lb.AvailabilityZones {
		for _, a := range z.LoadBalancerAddresses {
			out[awssdk.ToString(z.SubnetId)] = awssdk.ToString(a.AllocationId)
		}
	}
	return out
}

// TestNLBElasticIPs: a TCP Gateway naming the account's Elastic IPs gets an
// NLB on them, one per subnet, with them as its status addresses; a
// reorder rewrites nothing, another address recreates the NLB; deleting
// leaves the Elastic IPs allocated and free.
func TestNLBElasticIPs(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	subnets := slices.Sorted(slices.Values(te.moto.PublicSubnetIDs))
	ec, eips := te.eips(t, len(subnets)+1)
	given, spare := eips[:len(subnets)], eips[len(subnets)]
	m := tcpModel()
	m.Options.Addresses = ipsOf(given)

	res, err := te.prov.Ensure(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus := func(ips []string) {
		t.Helper()
		var got []string
		for _, a := range res.Status.Addresses {
			if a.Type != lb.AddressIP {
				t.Errorf("status address %v is not an IPAddress", a)
			}
			got = append(got, a.Value)
		}
		if !res.Status.Ready || !slices.Equal(got, ips) {
			t.Errorf("status = %+v, want ready on %v", res.Status, ips)
		}
	}
	wantStatus(ipsOf(given))
	v := te.nlbView(t, ctx, l4Owner)
	want := map[string]string{}
	for i, s := range subnets {
		want[s] = awssdk.ToString(given[i].AllocationId)
	}
	if got := v.eips(); !maps.Equal(got, want) {
		t.Errorf("NLB Elastic IPs by subnet = %v, want %v", got, want)
	}

	te.calls.take()
	if res, err = te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	if w := writes(te.calls.take()); len(w) != 0 {
		t.Errorf("a no-op Ensure wrote %v", w)
	}
	// The same addresses in another order: the NLB stays, the status
	// follows the Gateway's order.
	m.Options.Addresses = slices.Clone(m.Options.Addresses)
	slices.Reverse(m.Options.Addresses)
	if res, err = te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	if w := writes(te.calls.take()); len(w) != 0 {
		t.Errorf("reordering the addresses wrote %v", w)
	}
	wantStatus(m.Options.Addresses)

	// Another address: the NLB is recreated on it.
	m.Options.Addresses[0] = awssdk.ToString(spare.PublicIp)
	if res, err = te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	if w := writes(te.calls.take()); w["DeleteLoadBalancer"] != 1 || w["CreateLoadBalancer"] != 1 {
		t.Errorf("changing an Elastic IP wrote %v, want the NLB deleted and created", w)
	}
	wantStatus(m.Options.Addresses)
	if got := te.nlbView(t, ctx, l4Owner).eips(); !slices.Contains(slices.Collect(maps.Values(got)), awssdk.ToString(spare.AllocationId)) {
		t.Errorf("NLB Elastic IPs %v lack the new %s", got, awssdk.ToString(spare.AllocationId))
	}

	if err := te.prov.Delete(ctx, l4Owner); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range eips {
		ids = append(ids, awssdk.ToString(a.AllocationId))
	}
	out, err := ec.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: ids})
	if err != nil {
		t.Fatalf("the Elastic IPs after Delete: %v", err)
	}
	for _, a := range out.Addresses {
		if awssdk.ToString(a.AssociationId) != "" {
			t.Errorf("Elastic IP %s still associated after Delete", awssdk.ToString(a.PublicIp))
		}
	}
}

// TestStaticAddressesNotUsable: each request the provider cannot give is
// ErrAddressNotUsable, saying why, before any write.
func TestStaticAddressesNotUsable(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	subnets := slices.Sorted(slices.Values(te.moto.PublicSubnetIDs))
	_, eips := te.eips(t, len(subnets)+1)
	// The last one is another NLB's.
	busy := eips[len(subnets)]
	if _, err := te.elb.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: awssdk.String("someone-elses"), Type: elbtypes.LoadBalancerTypeEnumNetwork,
		SubnetMappings: []elbtypes.SubnetMapping{{SubnetId: awssdk.String(subnets[0]), AllocationId: busy.AllocationId}}}); err != nil {
		t.Fatal(err)
	}
	free := ipsOf(eips[:len(subnets)])
	withBusy := slices.Clone(free)
	withBusy[0] = awssdk.ToString(busy.PublicIp)
	for _, c := range []struct {
		name   string
		model  func() *lb.LoadBalancer
		scheme lb.Scheme
		addrs  []string
		says   string
	}{
		{"ALB", gatewayModel, "", free, "an ALB cannot take static IP addresses"},
		{"too few", tcpModel, "", free[:1], "an NLB takes one Elastic IP per subnet: 1 addresses requested for its"},
		{"IPv6", tcpModel, "", append(slices.Clone(free[1:]), "2001:db8::1"), `"2001:db8::1" is not an IPv4 address`},
		{"not the account's", tcpModel, "", append(slices.Clone(free[1:]), "198.51.100.77"), "no Elastic IP of the account in this region has the address 198.51.100.77"},
		{"associated", tcpModel, "", withBusy, "is associated with association eipassoc-"},
		{"internal", tcpModel, lb.SchemeInternal, free, "an internal NLB's addresses are private IPs of its subnets"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := c.model()
			m.Options.Addresses, m.Options.Scheme = c.addrs, c.scheme
			te.calls.take()
			_, err := te.prov.Ensure(ctx, m)
			if !errors.Is(err, providers.ErrAddressNotUsable) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("Ensure = %v, want ErrAddressNotUsable saying %q", err, c.says)
			}
			if w := writes(te.calls.take()); len(w) != 0 {
				t.Errorf("a refused address wrote %v", w)
			}
		})
	}
}
