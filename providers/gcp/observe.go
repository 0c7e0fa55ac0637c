package gcp

import (
	"context"
	"fmt"
	"slices"
	"strings"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// ownerFilter is the list filter that narrows a collection to o's
// resources on the server: descriptions are matched as RE2 against the
// whole value, and the UID is hex and dashes, so it needs no escaping.
// The filter only saves bytes; ownedBy decides.
func ownerFilter(o lb.Owner) *string {
	return proto.String(fmt.Sprintf(`description eq ".*%s.*"`, o.UID))
}

// observe lists the region's resources whose description records o as
// their owner, and the endpoints of its NEGs: ten lists, one aggregated
// list of NEGs over every zone, and one endpoint list per NEG that holds
// any. What carries our name but not our record is left out: it is not
// ours (checkNames refuses to create over it).
func (p *Provider) observe(ctx context.Context, o lb.Owner) (*state, error) {
	c, loc := p.api, p.loc
	f := ownerFilter(o)
	s := &state{Endpoints: map[string][]*computepb.NetworkEndpoint{}}
	mine := func(desc string) bool { _, ok := ownedBy(desc, o); return ok }
	var err error
	if s.HealthChecks, err = listOwned(c.checks.List(ctx, &computepb.ListRegionHealthChecksRequest{Project: loc.Project, Region: loc.Region, Filter: f}), mine); err != nil {
		return nil, classify(err, "regionHealthChecks.list", "")
	}
	pairs, err := each[compute.NetworkEndpointGroupsScopedListPair](c.negs.AggregatedList(ctx, &computepb.AggregatedListNetworkEndpointGroupsRequest{Project: loc.Project, Filter: f}))
	if err != nil {
		return nil, classify(err, "networkEndpointGroups.aggregatedList", "")
	}
	for _, pair := range pairs {
		if !strings.HasPrefix(pair.Key, "zones/") {
			continue
		}
		for _, n := range pair.Value.GetNetworkEndpointGroups() {
			if mine(n.GetDescription()) && strings.HasPrefix(lastSegment(n.GetZone()), loc.Region+"-") {
				s.NEGs = append(s.NEGs, n)
			}
		}
	}
	sortByName(s.NEGs)
	for _, n := range s.NEGs {
		if n.Size != nil && n.GetSize() == 0 {
			continue // nothing to list
		}
		eps, err := c.listNetworkEndpoints(ctx, loc.Project, lastSegment(n.GetZone()), n.GetName())
		if err != nil {
			return nil, classify(err, "networkEndpointGroups.listNetworkEndpoints", "")
		}
		s.Endpoints[n.GetName()] = eps
	}
	if s.Backends, err = listOwned(c.backends.List(ctx, &computepb.ListRegionBackendServicesRequest{Project: loc.Project, Region: loc.Region, Filter: f}), mine); err != nil {
		return nil, classify(err, "regionBackendServices.list", "")
	}
	if s.URLMaps, err = listOwned(c.urlMaps.List(ctx, &computepb.ListRegionUrlMapsRequest{Project: loc.Project, Region: loc.Region, Filter: f}), mine); err != nil {
		return nil, classify(err, "regionUrlMaps.list", "")
	}
	if s.Certificates, err = listOwned(c.certs.List(ctx, &computepb.ListRegionSslCertificatesRequest{Project: loc.Project, Region: loc.Region, Filter: f}), mine); err != nil {
		return nil, classify(err, "regionSslCertificates.list", "")
	}
	if s.HTTPProxies, err = listOwned(c.httpProxies.List(ctx, &computepb.ListRegionTargetHttpProxiesRequest{Project: loc.Project, Region: loc.Region, Filter: f}), mine); err != nil {
		return nil, classify(err, "regionTargetHttpProxies.list", "")
	}
	if s.HTTPSProxies, err = listOwned(c.tlsProxies.List(ctx, &computepb.ListRegionTargetHttpsProxiesRequest{Project: loc.Project, Region: loc.Region, Filter: f}), mine); err != nil {
		return nil, classify(err, "regionTargetHttpsProxies.list", "")
	}
	if s.TCPProxies, err = listOwned(c.tcpProxies.List(ctx, &computepb.ListRegionTargetTcpProxiesRequest{Project: loc.Project, Region: loc.Region, Filter: f}), mine); err != nil {
		return nil, classify(err, "regionTargetTcpProxies.list", "")
	}
	if s.Addresses, err = listOwned(c.addresses.List(ctx, &computepb.ListAddressesRequest{Project: loc.Project, Region: loc.Region, Filter: f}), mine); err != nil {
		return nil, classify(err, "addresses.list", "")
	}
	if s.Rules, err = listOwned(c.rules.List(ctx, &computepb.ListForwardingRulesRequest{Project: loc.Project, Region: loc.Region, Filter: f}), mine); err != nil {
		return nil, classify(err, "forwardingRules.list", "")
	}
	return s, nil
}

type described interface {
	proto.Message
	GetName() string
	GetDescription() string
}

// listOwned drains a list and keeps what mine accepts, by name.
func listOwned[T described](it interface{ Next() (T, error) }, mine func(string) bool) ([]T, error) {
	all, err := each[T](it)
	if err != nil {
		return nil, err
	}
	var out []T
	for _, r := range all {
		if mine(r.GetDescription()) {
			out = append(out, r)
		}
	}
	sortByName(out)
	return out, nil
}

func sortByName[T interface{ GetName() string }](s []T) {
	slices.SortFunc(s, func(a, b T) int { return strings.Compare(a.GetName(), b.GetName()) })
}
