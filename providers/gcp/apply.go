package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// errConflict is a write refused because the resource changed since it was
// read (412 conditionNotMet on a fingerprint): Ensure reads again and plans
// anew rather than overwrite a change it has not seen.
var errConflict = errors.New("the resource changed since it was read")

// maxEndpointsPerCall is how many endpoints one attach or detach carries
// (the API's limit per request).
const maxEndpointsPerCall = 500

// applier runs a plan's changes in order. It stops at the first error:
// what ran before stays, and the next reconcile plans from what is there.
type applier struct {
	p     *Provider
	owner lb.Owner
	// negs are the NEGs the plan acts on, desired and observed, by name:
	// endpoint calls need their zones.
	negs map[string]resource
}

func (a *applier) zoneOf(neg string) string {
	if r, ok := a.negs[neg]; ok {
		return negZone(r.Msg.(*computepb.NetworkEndpointGroup), a.p.loc)
	}
	return a.p.loc.Zone
}

func (a *applier) run(ctx context.Context, cs []*change) (providers.Plan, error) {
	var applied providers.Plan
	// Endpoint changes of one NEG go in one call per direction: gather
	// them and run them where the first of them stands.
	batches := map[string][]*change{}
	for _, c := range cs {
		if c.Step.Kind == kindEndpoint && !c.noCall {
			k := c.NEG + "\x00" + string(c.Step.Action)
			batches[k] = append(batches[k], c)
		}
	}
	done := map[string]bool{}
	urlMap := ""
	for _, c := range cs {
		// A URL map's rules follow it in the plan; its write carries them,
		// so they take its name.
		switch {
		case c.Step.Kind == kindURLMap && c.Want != nil:
			urlMap = stringField(c.Want, "name")
		case c.Step.Kind == providers.KindRule && c.Step.CloudID == "" && c.Step.Action != providers.ActionDelete:
			c.Step.CloudID = urlMap
		}
		if !c.noCall {
			var err error
			if c.Step.Kind == kindEndpoint {
				k := c.NEG + "\x00" + string(c.Step.Action)
				if !done[k] {
					done[k] = true
					err = a.endpoints(ctx, batches[k])
				}
			} else {
				err = a.apply(ctx, c)
			}
			if err != nil {
				return applied, err
			}
		}
		applied.Steps = append(applied.Steps, c.Step)
	}
	return applied, nil
}

func (a *applier) apply(ctx context.Context, c *change) error {
	switch c.Step.Action {
	case providers.ActionCreate:
		return a.create(ctx, c)
	case providers.ActionUpdate:
		return a.update(ctx, c)
	case providers.ActionDelete:
		return a.delete(ctx, c)
	}
	return nil
}

// element is the model element a change acts on, for refusals: the
// logical id, unless it is one of the adapter's own.
func element(c *change) string {
	switch c.Step.LogicalID {
	case logicalLB, logicalSink, logicalTCPSink, "":
		return ""
	}
	return c.Step.LogicalID
}

func (a *applier) create(ctx context.Context, c *change) error {
	loc, api := a.p.loc, a.p.api
	var (
		op   *compute.Operation
		err  error
		call string
	)
	switch m := c.Want.(type) {
	case *computepb.HealthCheck:
		call = "regionHealthChecks.insert"
		op, err = api.checks.Insert(ctx, &computepb.InsertRegionHealthCheckRequest{Project: loc.Project, Region: loc.Region, HealthCheckResource: m})
	case *computepb.NetworkEndpointGroup:
		call = "networkEndpointGroups.insert"
		body := proto.Clone(m).(*computepb.NetworkEndpointGroup)
		body.Zone = nil // output only: the zone is in the path
		op, err = api.negs.Insert(ctx, &computepb.InsertNetworkEndpointGroupRequest{Project: loc.Project, Zone: negZone(m, loc), NetworkEndpointGroupResource: body})
	case *computepb.BackendService:
		call = "regionBackendServices.insert"
		op, err = api.backends.Insert(ctx, &computepb.InsertRegionBackendServiceRequest{Project: loc.Project, Region: loc.Region, BackendServiceResource: m})
	case *computepb.UrlMap:
		call = "regionUrlMaps.insert"
		op, err = api.urlMaps.Insert(ctx, &computepb.InsertRegionUrlMapRequest{Project: loc.Project, Region: loc.Region, UrlMapResource: m})
	case *computepb.SslCertificate:
		call = "regionSslCertificates.insert"
		op, err = api.certs.Insert(ctx, &computepb.InsertRegionSslCertificateRequest{Project: loc.Project, Region: loc.Region, SslCertificateResource: m})
	case *computepb.TargetHttpProxy:
		call = "regionTargetHttpProxies.insert"
		op, err = api.httpProxies.Insert(ctx, &computepb.InsertRegionTargetHttpProxyRequest{Project: loc.Project, Region: loc.Region, TargetHttpProxyResource: m})
	case *computepb.TargetHttpsProxy:
		call = "regionTargetHttpsProxies.insert"
		op, err = api.tlsProxies.Insert(ctx, &computepb.InsertRegionTargetHttpsProxyRequest{Project: loc.Project, Region: loc.Region, TargetHttpsProxyResource: m})
	case *computepb.TargetTcpProxy:
		call = "regionTargetTcpProxies.insert"
		op, err = api.tcpProxies.Insert(ctx, &computepb.InsertRegionTargetTcpProxyRequest{Project: loc.Project, Region: loc.Region, TargetTcpProxyResource: m})
	case *computepb.Address:
		call = "addresses.insert"
		op, err = api.addresses.Insert(ctx, &computepb.InsertAddressRequest{Project: loc.Project, Region: loc.Region, AddressResource: m})
	case *computepb.ForwardingRule:
		call = "forwardingRules.insert"
		op, err = api.rules.Insert(ctx, &computepb.InsertForwardingRuleRequest{Project: loc.Project, Region: loc.Region, ForwardingRuleResource: m})
	default:
		return fmt.Errorf("gcp: no create for %T", c.Want)
	}
	if err == nil {
		err = api.await(ctx, op)
	}
	if hasCode(err, http.StatusConflict) {
		// A retry after a lost answer, another replica, or a resource of
		// someone else's that holds the name: only the first two are ours.
		got, gerr := a.get(ctx, c.Want)
		if gerr != nil {
			return classify(gerr, call, element(c))
		}
		if _, ok := ownedBy(stringField(got, "description"), a.owner); !ok {
			return &providers.InvalidError{Elements: nonEmpty(element(c)), Cause: err,
				Message: fmt.Sprintf("%s name %q is held by a resource whose description is not Cloudgate's record for this Gateway; it is left alone", c.Step.Kind, stringField(c.Want, "name"))}
		}
		err = nil
	}
	if neg, ok := c.Want.(*computepb.NetworkEndpointGroup); ok && hasCode(err, http.StatusNotFound) {
		// The zone does not exist (EndpointSlices carry what their
		// writer put there): retrying cannot help.
		return &providers.InvalidError{Elements: nonEmpty(element(c)), Cause: err,
			Message: fmt.Sprintf("endpoints in zone %q, which %s does not have", negZone(neg, loc), loc.Project)}
	}
	if err != nil {
		return classify(err, call, element(c))
	}
	c.Step.CloudID = stringField(c.Want, "name")
	return nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// negZone is the zone of a desired NEG: the one its zone field names, or
// the adapter's default.
func negZone(m *computepb.NetworkEndpointGroup, loc location) string {
	if z := m.GetZone(); z != "" {
		return lastSegment(z)
	}
	return loc.Zone
}

// get reads one resource back by the name want carries.
func (a *applier) get(ctx context.Context, want proto.Message) (proto.Message, error) {
	loc, api, n := a.p.loc, a.p.api, stringField(want, "name")
	switch m := want.(type) {
	case *computepb.HealthCheck:
		return api.checks.Get(ctx, &computepb.GetRegionHealthCheckRequest{Project: loc.Project, Region: loc.Region, HealthCheck: n})
	case *computepb.NetworkEndpointGroup:
		return api.negs.Get(ctx, &computepb.GetNetworkEndpointGroupRequest{Project: loc.Project, Zone: negZone(m, loc), NetworkEndpointGroup: n})
	case *computepb.BackendService:
		return api.backends.Get(ctx, &computepb.GetRegionBackendServiceRequest{Project: loc.Project, Region: loc.Region, BackendService: n})
	case *computepb.UrlMap:
		return api.urlMaps.Get(ctx, &computepb.GetRegionUrlMapRequest{Project: loc.Project, Region: loc.Region, UrlMap: n})
	case *computepb.SslCertificate:
		return api.certs.Get(ctx, &computepb.GetRegionSslCertificateRequest{Project: loc.Project, Region: loc.Region, SslCertificate: n})
	case *computepb.TargetHttpProxy:
		return api.httpProxies.Get(ctx, &computepb.GetRegionTargetHttpProxyRequest{Project: loc.Project, Region: loc.Region, TargetHttpProxy: n})
	case *computepb.TargetHttpsProxy:
		return api.tlsProxies.Get(ctx, &computepb.GetRegionTargetHttpsProxyRequest{Project: loc.Project, Region: loc.Region, TargetHttpsProxy: n})
	case *computepb.TargetTcpProxy:
		return api.tcpProxies.Get(ctx, &computepb.GetRegionTargetTcpProxyRequest{Project: loc.Project, Region: loc.Region, TargetTcpProxy: n})
	case *computepb.Address:
		return api.addresses.Get(ctx, &computepb.GetAddressRequest{Project: loc.Project, Region: loc.Region, Address: n})
	case *computepb.ForwardingRule:
		return api.rules.Get(ctx, &computepb.GetForwardingRuleRequest{Project: loc.Project, Region: loc.Region, ForwardingRule: n})
	}
	return nil, fmt.Errorf("gcp: no get for %T", want)
}

// update changes a resource in place with the narrowest call its kind
// has. Writes that take a fingerprint carry the one observe read, so that
// a change made since is not overwritten (412, errConflict).
func (a *applier) update(ctx context.Context, c *change) error {
	loc, api := a.p.loc, a.p.api
	var (
		ops  []*compute.Operation
		err  error
		call string
	)
	one := func(op *compute.Operation, e error) {
		if e == nil {
			ops = append(ops, op)
		}
		err = errors.Join(err, e)
	}
	switch w := c.Want.(type) {
	case *computepb.HealthCheck:
		call = "regionHealthChecks.update"
		one(api.checks.Update(ctx, &computepb.UpdateRegionHealthCheckRequest{Project: loc.Project, Region: loc.Region, HealthCheck: w.GetName(), HealthCheckResource: w}))
	case *computepb.BackendService:
		call = "regionBackendServices.update"
		body := proto.Clone(w).(*computepb.BackendService)
		body.Fingerprint = c.Have.(*computepb.BackendService).Fingerprint
		one(api.backends.Update(ctx, &computepb.UpdateRegionBackendServiceRequest{Project: loc.Project, Region: loc.Region, BackendService: w.GetName(), BackendServiceResource: body}))
	case *computepb.UrlMap:
		// The one write of the URL map, carrying every rule change.
		call = "regionUrlMaps.update"
		body := proto.Clone(w).(*computepb.UrlMap)
		body.Fingerprint = c.Have.(*computepb.UrlMap).Fingerprint
		one(api.urlMaps.Update(ctx, &computepb.UpdateRegionUrlMapRequest{Project: loc.Project, Region: loc.Region, UrlMap: w.GetName(), UrlMapResource: body}))
	case *computepb.TargetHttpProxy:
		call = "regionTargetHttpProxies.setUrlMap"
		one(api.httpProxies.SetUrlMap(ctx, &computepb.SetUrlMapRegionTargetHttpProxyRequest{Project: loc.Project, Region: loc.Region, TargetHttpProxy: w.GetName(), UrlMapReferenceResource: &computepb.UrlMapReference{UrlMap: w.UrlMap}}))
	case *computepb.TargetHttpsProxy:
		h := c.Have.(*computepb.TargetHttpsProxy)
		if relative(h.GetUrlMap()) != relative(w.GetUrlMap()) {
			call = "regionTargetHttpsProxies.setUrlMap"
			one(api.tlsProxies.SetUrlMap(ctx, &computepb.SetUrlMapRegionTargetHttpsProxyRequest{Project: loc.Project, Region: loc.Region, TargetHttpsProxy: w.GetName(), UrlMapReferenceResource: &computepb.UrlMapReference{UrlMap: w.UrlMap}}))
		}
		if err == nil && !slices.Equal(relativeAll(h.GetSslCertificates()), relativeAll(w.GetSslCertificates())) {
			call = "regionTargetHttpsProxies.setSslCertificates"
			one(api.tlsProxies.SetSslCertificates(ctx, &computepb.SetSslCertificatesRegionTargetHttpsProxyRequest{Project: loc.Project, Region: loc.Region, TargetHttpsProxy: w.GetName(),
				RegionTargetHttpsProxiesSetSslCertificatesRequestResource: &computepb.RegionTargetHttpsProxiesSetSslCertificatesRequest{SslCertificates: w.GetSslCertificates()}}))
		}
	case *computepb.Address:
		h := c.Have.(*computepb.Address)
		call = "addresses.setLabels"
		one(api.addresses.SetLabels(ctx, &computepb.SetLabelsAddressRequest{Project: loc.Project, Region: loc.Region, Resource: w.GetName(),
			RegionSetLabelsRequestResource: &computepb.RegionSetLabelsRequest{Labels: w.GetLabels(), LabelFingerprint: h.LabelFingerprint}}))
	case *computepb.ForwardingRule:
		h := c.Have.(*computepb.ForwardingRule)
		if relative(h.GetTarget()) != relative(w.GetTarget()) {
			call = "forwardingRules.setTarget"
			one(api.rules.SetTarget(ctx, &computepb.SetTargetForwardingRuleRequest{Project: loc.Project, Region: loc.Region, ForwardingRule: w.GetName(), TargetReferenceResource: &computepb.TargetReference{Target: w.Target}}))
		}
		if err == nil && !sameLabels(h.GetLabels(), w.GetLabels()) {
			call = "forwardingRules.setLabels"
			one(api.rules.SetLabels(ctx, &computepb.SetLabelsForwardingRuleRequest{Project: loc.Project, Region: loc.Region, Resource: w.GetName(),
				RegionSetLabelsRequestResource: &computepb.RegionSetLabelsRequest{Labels: w.GetLabels(), LabelFingerprint: h.LabelFingerprint}}))
		}
	default:
		// NEGs, certificates and TCP proxies never change in place: a
		// change of them is in their names (convert.go).
		return fmt.Errorf("gcp: no update for %T", c.Want)
	}
	for _, op := range ops {
		if err == nil {
			err = api.await(ctx, op)
		}
	}
	if hasCode(err, http.StatusPreconditionFailed) {
		return fmt.Errorf("%s %s: %w", call, stringField(c.Want, "name"), errConflict)
	}
	return classify(err, call, element(c))
}

func relativeAll(links []string) []string {
	out := make([]string, len(links))
	for i, l := range links {
		out[i] = relative(l)
	}
	return out
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// delete removes an observed resource (ours: observe kept only those). A
// resource already gone is deleted.
func (a *applier) delete(ctx context.Context, c *change) error {
	loc, api, n := a.p.loc, a.p.api, c.Step.CloudID
	var (
		op   *compute.Operation
		err  error
		call string
	)
	switch m := c.Have.(type) {
	case *computepb.HealthCheck:
		call = "regionHealthChecks.delete"
		op, err = api.checks.Delete(ctx, &computepb.DeleteRegionHealthCheckRequest{Project: loc.Project, Region: loc.Region, HealthCheck: n})
	case *computepb.NetworkEndpointGroup:
		call = "networkEndpointGroups.delete"
		op, err = api.negs.Delete(ctx, &computepb.DeleteNetworkEndpointGroupRequest{Project: loc.Project, Zone: negZone(m, loc), NetworkEndpointGroup: n})
	case *computepb.BackendService:
		call = "regionBackendServices.delete"
		op, err = api.backends.Delete(ctx, &computepb.DeleteRegionBackendServiceRequest{Project: loc.Project, Region: loc.Region, BackendService: n})
	case *computepb.UrlMap:
		call = "regionUrlMaps.delete"
		op, err = api.urlMaps.Delete(ctx, &computepb.DeleteRegionUrlMapRequest{Project: loc.Project, Region: loc.Region, UrlMap: n})
	case *computepb.SslCertificate:
		call = "regionSslCertificates.delete"
		op, err = api.certs.Delete(ctx, &computepb.DeleteRegionSslCertificateRequest{Project: loc.Project, Region: loc.Region, SslCertificate: n})
	case *computepb.TargetHttpProxy:
		call = "regionTargetHttpProxies.delete"
		op, err = api.httpProxies.Delete(ctx, &computepb.DeleteRegionTargetHttpProxyRequest{Project: loc.Project, Region: loc.Region, TargetHttpProxy: n})
	case *computepb.TargetHttpsProxy:
		call = "regionTargetHttpsProxies.delete"
		op, err = api.tlsProxies.Delete(ctx, &computepb.DeleteRegionTargetHttpsProxyRequest{Project: loc.Project, Region: loc.Region, TargetHttpsProxy: n})
	case *computepb.TargetTcpProxy:
		call = "regionTargetTcpProxies.delete"
		op, err = api.tcpProxies.Delete(ctx, &computepb.DeleteRegionTargetTcpProxyRequest{Project: loc.Project, Region: loc.Region, TargetTcpProxy: n})
	case *computepb.Address:
		call = "addresses.delete"
		op, err = api.addresses.Delete(ctx, &computepb.DeleteAddressRequest{Project: loc.Project, Region: loc.Region, Address: n})
	case *computepb.ForwardingRule:
		call = "forwardingRules.delete"
		op, err = api.rules.Delete(ctx, &computepb.DeleteForwardingRuleRequest{Project: loc.Project, Region: loc.Region, ForwardingRule: n})
	default:
		return fmt.Errorf("gcp: no delete for %T", c.Have)
	}
	if err == nil {
		err = api.await(ctx, op)
	}
	if hasCode(err, http.StatusNotFound) {
		return nil
	}
	if isReason(err, "resourceInUseByAnotherResource") {
		// Something still points at it: one of ours that a later step
		// moves (the next reconcile finds it gone), or someone else's,
		// which we never touch; either way, not a refusal of the model.
		return fmt.Errorf("%s %s: %w", call, n, err)
	}
	return classify(err, call, "")
}

// endpoints attaches or detaches one NEG's endpoints, at most
// maxEndpointsPerCall per call.
func (a *applier) endpoints(ctx context.Context, cs []*change) error {
	if len(cs) == 0 {
		return nil
	}
	loc, api := a.p.loc, a.p.api
	neg, action := cs[0].NEG, cs[0].Step.Action
	zone := a.zoneOf(neg)
	var eps []*computepb.NetworkEndpoint
	for _, c := range cs {
		eps = append(eps, c.Endpoint)
	}
	for batch := range slices.Chunk(eps, maxEndpointsPerCall) {
		var (
			op   *compute.Operation
			err  error
			call string
		)
		if action == providers.ActionCreate {
			call = "networkEndpointGroups.attachNetworkEndpoints"
			op, err = api.negs.AttachNetworkEndpoints(ctx, &computepb.AttachNetworkEndpointsNetworkEndpointGroupRequest{Project: loc.Project, Zone: zone, NetworkEndpointGroup: neg,
				NetworkEndpointGroupsAttachEndpointsRequestResource: &computepb.NetworkEndpointGroupsAttachEndpointsRequest{NetworkEndpoints: batch}})
		} else {
			call = "networkEndpointGroups.detachNetworkEndpoints"
			op, err = api.negs.DetachNetworkEndpoints(ctx, &computepb.DetachNetworkEndpointsNetworkEndpointGroupRequest{Project: loc.Project, Zone: zone, NetworkEndpointGroup: neg,
				NetworkEndpointGroupsDetachEndpointsRequestResource: &computepb.NetworkEndpointGroupsDetachEndpointsRequest{NetworkEndpoints: batch}})
		}
		if err == nil {
			err = api.await(ctx, op)
		}
		if err != nil {
			// Not a refusal of the model: an attach retried after its
			// answer was lost finds its endpoints there (400), and the
			// next plan reads the NEG again.
			return fmt.Errorf("%s %s (%s): %w", call, neg, a.negs[neg].Logical, err)
		}
	}
	for _, c := range cs {
		c.Step.CloudID = neg
	}
	return nil
}
