package aws

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// Static addresses (the Gateway's spec.addresses, lb.Options.Addresses).
//
// Only an NLB takes addresses chosen in advance: one Elastic IP per subnet
// of an internet-facing NLB (the ELBv2 API's SubnetMapping AllocationId:
// "[Network Load Balancers] You can specify one Elastic IP address per
// subnet if you need static IP addresses for your internet-facing load
// balancer"). An ALB's addresses are AWS's to allocate and change, and it
// is reached by its DNS name; a Gateway with HTTP or HTTPS listeners (an
// ALB) that requests addresses is refused. So is an internal NLB: its
// addresses would be private IPs of its subnets (SubnetMapping
// PrivateIPv4Address), which this provider does not request.
//
// An address is given as its IP and looked up among the account's
// Elastic IPs in the region (DescribeAddresses, filtered by public-ip); it
// must not be associated with anything but this Gateway's NLB. The
// addresses go to the NLB's subnets in order (the subnets sorted, the
// addresses as the Gateway lists them), so there must be as many as
// subnets. Elastic IPs are the account's: the provider never allocates,
// tags or releases one. An NLB cannot change its Elastic IPs in place, so
// a change recreates it (planNLB).
//
// Anything else is providers.ErrAddressNotUsable (Programmed=False,
// AddressNotUsable), with the reason in the Gateway's Event.

// withElasticIPs gives want's NLB the Elastic IPs the model requests, or
// refuses them. have is what the plan observed: an Elastic IP associated
// with its NLB is this Gateway's already. It reads (one DescribeAddresses),
// never writes.
func (p *Provider) withElasticIPs(ctx context.Context, m *lb.LoadBalancer, want *state, have *observed) error {
	addrs := m.Options.Addresses
	if len(addrs) == 0 || len(m.Listeners) == 0 {
		return nil
	}
	if want.LB != nil {
		var names []string
		for _, l := range want.Listeners {
			names = append(names, l.Logical)
		}
		return notUsable("an ALB cannot take static IP addresses (AWS allocates them and clients reach it by its DNS name), and the HTTP and HTTPS listeners %s are an ALB's; only a Gateway of TCP, UDP and TLS listeners (an NLB) takes Elastic IPs",
			strings.Join(names, ", "))
	}
	n := want.NLB
	if n == nil {
		return nil
	}
	if n.Scheme == string(lb.SchemeInternal) {
		return notUsable("an internal NLB's addresses are private IPs of its subnets, which the aws provider does not request; Elastic IPs are for internet-facing NLBs")
	}
	if len(addrs) != len(n.Subnets) {
		return notUsable("an NLB takes one Elastic IP per subnet: %d addresses requested for its %d subnets (%s); list as many subnets in aws.subnets as addresses",
			len(addrs), len(n.Subnets), strings.Join(n.Subnets, ", "))
	}
	for _, a := range addrs {
		if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() {
			return notUsable("%q is not an IPv4 address (Elastic IPs are IPv4)", a)
		}
	}
	out, err := p.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: []ec2types.Filter{
		{Name: awssdk.String("public-ip"), Values: addrs}, {Name: awssdk.String("domain"), Values: []string{"vpc"}},
	}})
	if err != nil {
		return classify(err, "DescribeAddresses", "")
	}
	byIP := map[string]ec2types.Address{}
	for _, a := range out.Addresses {
		byIP[awssdk.ToString(a.PublicIp)] = a
	}
	ours := map[string]bool{}
	if have != nil && have.NLB != nil {
		for _, alloc := range have.NLB.ElasticIPs {
			ours[alloc] = true
		}
	}
	eips := map[string]string{}
	for i, ip := range addrs {
		a, ok := byIP[ip]
		if !ok {
			return notUsable("no Elastic IP of the account in this region has the address %s: allocate one (aws ec2 allocate-address) and name its public IP", ip)
		}
		alloc := awssdk.ToString(a.AllocationId)
		if awssdk.ToString(a.AssociationId) != "" && !ours[alloc] {
			return notUsable("the Elastic IP %s (%s) is associated with %s, not with this Gateway's NLB", ip, alloc, associatedWith(a))
		}
		eips[n.Subnets[i]] = alloc
	}
	// The same Elastic IPs on the same subnets in another order: keep the
	// NLB's mapping rather than recreate it.
	if have != nil && have.NLB != nil && slices.Equal(have.NLB.Subnets, n.Subnets) &&
		slices.Equal(slices.Sorted(maps.Values(have.NLB.ElasticIPs)), slices.Sorted(maps.Values(eips))) {
		eips = maps.Clone(have.NLB.ElasticIPs)
	}
	n.ElasticIPs = eips
	n.staticIPs = slices.Clone(addrs)
	return nil
}

// associatedWith names what holds an Elastic IP, for the refusal.
func associatedWith(a ec2types.Address) string {
	switch {
	case awssdk.ToString(a.InstanceId) != "":
		return "instance " + awssdk.ToString(a.InstanceId)
	case awssdk.ToString(a.NetworkInterfaceId) != "":
		return "network interface " + awssdk.ToString(a.NetworkInterfaceId)
	}
	return "association " + awssdk.ToString(a.AssociationId)
}

func notUsable(format string, a ...any) error {
	return fmt.Errorf("aws: %w: %s", providers.ErrAddressNotUsable, fmt.Sprintf(format, a...))
}
