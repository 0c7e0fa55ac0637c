package gcp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// Static addresses (the Gateway's spec.addresses, lb.Options.Addresses).
//
// A Gateway that names an IP gets it on every forwarding rule, when the
// project holds a regional address of that IP in the provider's region
// that the rules can use: GCP gives a forwarding rule a chosen external IP
// only from a reserved static address, and Cloudgate asks the same of an
// internal one (an unreserved internal IP would be ephemeral: it could be
// taken by another resource as soon as the rules move off it). The
// address is the user's: it is never created, relabelled or deleted, and
// it is found by its IP (addresses.list, filtered on the server by
// address) each time the plan is made, since it carries no record of
// ours. An address Cloudgate reserved for this very Gateway (the one
// status.addresses showed before) is kept rather than deleted.
//
// Anything else is providers.ErrAddressNotUsable, which the Gateway shows
// as Programmed=False/AddressNotUsable with these words in its Event:
// more than one address (the forwarding rules of a Gateway share one), an
// IP that is not IPv4, no reserved address of that IP in the region, an
// address of the other type (EXTERNAL for an internet-facing Gateway,
// INTERNAL for an internal one), of the Standard network tier (the
// forwarding rules are Premium), in another subnetwork than the
// provider's (internal), internal and shared by several forwarding rules
// without the purpose SHARED_LOADBALANCER_VIP, or used by a resource that
// is not one of this Gateway's forwarding rules.

// givenAddress is the reserved address a model's one requested IP names,
// checked against what its forwarding rules need; nil when the model
// requests none. It reads (one addresses.list), never writes.
func (p *Provider) givenAddress(ctx context.Context, m *lb.LoadBalancer, have *state) (*computepb.Address, error) {
	switch len(m.Options.Addresses) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, notUsable("%d addresses are requested; every forwarding rule of a GCP Gateway shares one address", len(m.Options.Addresses))
	}
	ip := m.Options.Addresses[0]
	if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
		return nil, notUsable("%q is not an IPv4 address (the GCP provider serves IPv4 only)", ip)
	}
	all, err := each[*computepb.Address](p.api.addresses.List(ctx, &computepb.ListAddressesRequest{
		Project: p.loc.Project, Region: p.loc.Region, Filter: proto.String(fmt.Sprintf("address = %q", ip)),
	}))
	if err != nil {
		return nil, classify(err, "addresses.list", "")
	}
	// The filter only saves bytes: the IP decides.
	i := slices.IndexFunc(all, func(a *computepb.Address) bool { return a.GetAddress() == ip })
	if i < 0 {
		return nil, notUsable("no address of project %s in region %s has the IP %s: reserve it there first (gcloud compute addresses create NAME --region=%s --addresses=%s)",
			p.loc.Project, p.loc.Region, ip, p.loc.Region, ip)
	}
	a := all[i]
	if err := p.usable(m, a, have); err != nil {
		return nil, err
	}
	return a, nil
}

// usable checks that the forwarding rules of m can take the address a.
func (p *Provider) usable(m *lb.LoadBalancer, a *computepb.Address, have *state) error {
	internal := m.Options.Scheme == lb.SchemeInternal
	wantType := "EXTERNAL"
	if internal {
		wantType = "INTERNAL"
	}
	if t := a.GetAddressType(); t != wantType && !(t == "" && wantType == "EXTERNAL") {
		return notUsable("the address %s (%s) is %s, and the Gateway's %s forwarding rules need an %s one", a.GetName(), a.GetAddress(), t, schemeOf(internal), wantType)
	}
	if !internal && a.GetNetworkTier() != "" && a.GetNetworkTier() != "PREMIUM" {
		return notUsable("the address %s (%s) is of network tier %s; the provider's forwarding rules are PREMIUM", a.GetName(), a.GetAddress(), a.GetNetworkTier())
	}
	if internal {
		if relative(a.GetSubnetwork()) != relative(p.loc.Subnetwork) && lastSegment(a.GetSubnetwork()) != lastSegment(p.loc.Subnetwork) {
			return notUsable("the internal address %s (%s) is in subnetwork %s; the provider's forwarding rules are in %s", a.GetName(), a.GetAddress(), lastSegment(a.GetSubnetwork()), lastSegment(p.loc.Subnetwork))
		}
		if forwardingRules(m) > 1 && a.GetPurpose() != "SHARED_LOADBALANCER_VIP" {
			return notUsable("the internal address %s (%s) has purpose %q; %d forwarding rules share it, which needs SHARED_LOADBALANCER_VIP", a.GetName(), a.GetAddress(), a.GetPurpose(), forwardingRules(m))
		}
	}
	ours := map[string]bool{}
	for _, r := range have.Rules {
		ours[relative(r.GetSelfLink())] = true
	}
	for _, u := range a.GetUsers() {
		if !ours[relative(u)] {
			return notUsable("the address %s (%s) is used by %s, which is not this Gateway's", a.GetName(), a.GetAddress(), relative(u))
		}
	}
	return nil
}

func schemeOf(internal bool) string {
	if internal {
		return schemeInternal
	}
	return schemeExternal
}

// forwardingRules counts the model's listeners that get a forwarding
// rule.
func forwardingRules(m *lb.LoadBalancer) int {
	n := 0
	for _, l := range m.Listeners {
		switch l.Protocol {
		case lb.ProtocolHTTP, lb.ProtocolHTTPS, lb.ProtocolTCP:
			n++
		}
	}
	return n
}

func notUsable(format string, a ...any) error {
	return fmt.Errorf("gcp: %w: %s", providers.ErrAddressNotUsable, fmt.Sprintf(format, a...))
}

// requestedIP is the IP the forwarding rules take for a requested
// address (case 1 of convert): the address's own IP. When the address is
// one this Gateway reserved itself, it stays desired, so that moving the
// rules onto it never deletes it.
func (c *converter) requestedIP(s *state) string {
	ip := c.m.Options.Addresses[0]
	if c.given != nil {
		if _, ok := ownedBy(c.given.GetDescription(), c.m.Owner); ok {
			// Only the fields the provider sets: the rest is the cloud's.
			s.Addresses = append(s.Addresses, &computepb.Address{Name: c.given.Name, Description: c.given.Description, Labels: c.userLabels()})
		}
	}
	return ip
}
