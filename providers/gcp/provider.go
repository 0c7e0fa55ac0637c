package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"
	"google.golang.org/protobuf/proto"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// computeScope is the OAuth scope of the Compute Engine API.
const computeScope = "https://www.googleapis.com/auth/compute"

// Config configures the provider.
type Config struct {
	// Project and Region hold every resource (regional load balancers).
	Project string
	Region  string
	// Zone holds the network endpoint groups of targets whose
	// EndpointSlice reports no zone; empty means Region + "-b".
	Zone string
	// Network is the VPC of the load balancers and the endpoints: a name
	// ("default") or a path ("projects/p/global/networks/n"). Empty means
	// "default".
	Network string
	// Subnetwork is the subnet of internal addresses and of the
	// endpoints: a name in Region or a path. Empty leaves it to GCP (the
	// network's subnet in the region), which internal load balancers
	// cannot do.
	Subnetwork string
	// Endpoint replaces Compute Engine's REST root (the test double,
	// Private Service Connect); empty is https://compute.googleapis.com.
	Endpoint string
	// WithoutAuthentication sends no credentials (the test double).
	// Otherwise Application Default Credentials are used, so GKE Workload
	// Identity works unchanged.
	WithoutAuthentication bool
	// HTTPClient carries the calls under the retries (tests); nil builds
	// one with Application Default Credentials.
	HTTPClient *http.Client
	// CountCall, when set, is told of every API call once it is over
	// (after retries), by Discovery method id and outcome.
	CountCall func(operation, outcome string)
	// Retry overrides the retry policy of 429s and 5xx (tests); zero
	// fields keep the defaults.
	RetryMax     int
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration
}

// Provider realizes lb models as regional Application Load Balancers.
type Provider struct {
	loc location
	api *clients

	// proxySubnet caches that the network has a proxy-only subnet in the
	// region, which regional managed load balancers need, until
	// proxySubnetChecked plus proxySubnetTTL.
	mu                 sync.Mutex
	proxySubnetChecked time.Time
	// gateways are the owners (by UID) with a load balancer, as this
	// process last planned them, for the resync period.
	gateways map[string]bool
}

const proxySubnetTTL = 10 * time.Minute

// New returns a provider; it makes no API call.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.Project == "" || cfg.Region == "" {
		return nil, errors.New("gcp: the project and the region are required (--gcp-project, --gcp-region)")
	}
	loc := location{Project: cfg.Project, Region: cfg.Region, Zone: cfg.Zone}
	if loc.Zone == "" {
		loc.Zone = cfg.Region + "-b"
	}
	switch n := cfg.Network; {
	case n == "":
		loc.Network = "projects/" + cfg.Project + "/global/networks/default"
	case strings.Contains(n, "/"):
		loc.Network = relative(n)
	default:
		loc.Network = "projects/" + cfg.Project + "/global/networks/" + n
	}
	switch s := cfg.Subnetwork; {
	case s == "":
	case strings.Contains(s, "/"):
		loc.Subnetwork = relative(s)
	default:
		loc.Subnetwork = loc.regional("subnetworks", s)
	}
	base := cfg.HTTPClient
	if base == nil {
		if cfg.WithoutAuthentication {
			base = &http.Client{}
		} else {
			var err error
			if base, _, err = htransport.NewClient(ctx, option.WithScopes(computeScope)); err != nil {
				return nil, fmt.Errorf("gcp: Application Default Credentials: %w", err)
			}
		}
	}
	rp := defaultRetry
	if cfg.RetryMax > 0 {
		rp.Max = cfg.RetryMax
	}
	if cfg.RetryWaitMin > 0 {
		rp.WaitMin = cfg.RetryWaitMin
	}
	if cfg.RetryWaitMax > 0 {
		rp.WaitMax = cfg.RetryWaitMax
	}
	api, err := newClients(ctx, newHTTPClient(base, rp, cfg.CountCall), cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	return &Provider{loc: loc, api: api}, nil
}

// ControllerName implements providers.Provider.
func (p *Provider) ControllerName() string { return ControllerName }

// Capabilities implements providers.Provider.
func (p *Provider) Capabilities() lb.Capabilities { return capabilities() }

// Plan implements providers.Provider: it reads, never writes.
func (p *Provider) Plan(ctx context.Context, m *lb.LoadBalancer) (providers.Plan, error) {
	cs, _, err := p.plan(ctx, m)
	if err != nil {
		return providers.Plan{}, err
	}
	return stepsOf(cs), nil
}

// maxPlans bounds how often one Ensure reads again after a write was
// refused for a stale fingerprint.
const maxPlans = 3

// Ensure implements providers.Provider. A URL map (or backend service)
// changed by someone else between the read and the write fails with 412:
// Ensure then reads again and plans from what is there, up to maxPlans
// times, rather than overwrite what it has not seen.
func (p *Provider) Ensure(ctx context.Context, m *lb.LoadBalancer) (providers.Result, error) {
	var applied providers.Plan
	for range maxPlans {
		cs, have, notes, err := p.planNotes(ctx, m)
		if err != nil {
			return providers.Result{Applied: applied}, err
		}
		a := &applier{p: p, owner: m.Owner, negs: negsOf(have, cs)}
		applied, err = a.run(ctx, cs)
		if errors.Is(err, errConflict) {
			continue
		}
		if err != nil {
			return providers.Result{Applied: applied}, err
		}
		st, err := p.status(ctx, m, have, cs)
		if err != nil {
			return providers.Result{Applied: applied}, err
		}
		st.Notes = notes
		return providers.Result{Status: st, Applied: applied}, nil
	}
	return providers.Result{Applied: applied}, fmt.Errorf("gcp: the load balancer kept changing under %d plans in a row: %w", maxPlans, errConflict)
}

// Delete implements providers.Provider: the plan against the empty model.
func (p *Provider) Delete(ctx context.Context, o lb.Owner) error {
	m := &lb.LoadBalancer{Owner: o}
	for range maxPlans {
		cs, have, err := p.plan(ctx, m)
		if err != nil {
			return err
		}
		a := &applier{p: p, owner: o, negs: negsOf(have, cs)}
		if _, err = a.run(ctx, cs); !errors.Is(err, errConflict) {
			return err
		}
	}
	return errConflict
}

// plan observes o's resources and diffs the model's conversion against
// them. An empty model is a delete: no validation, no conversion.
func (p *Provider) plan(ctx context.Context, m *lb.LoadBalancer) ([]*change, *state, error) {
	cs, have, _, err := p.planNotes(ctx, m)
	return cs, have, err
}

// planNotes is plan with the conversion's notes (labels rewritten or
// refused), for the status.
func (p *Provider) planNotes(ctx context.Context, m *lb.LoadBalancer) ([]*change, *state, []string, error) {
	empty := len(m.Listeners) == 0 && len(m.TargetGroups) == 0
	if !empty {
		if err := m.Validate(); err != nil {
			return nil, nil, nil, &providers.InvalidError{Message: err.Error(), Cause: err}
		}
		if err := checkOptions(m.Options, p.loc); err != nil {
			return nil, nil, nil, err
		}
	}
	have, err := p.observe(ctx, m.Owner)
	if err != nil {
		return nil, nil, nil, err
	}
	want := &state{Endpoints: map[string][]*computepb.NetworkEndpoint{}}
	var notes []string
	if !empty {
		given, err := p.givenAddress(ctx, m, have)
		if err != nil {
			return nil, nil, nil, err
		}
		if want, notes, err = desiredOn(m, p.loc, have, given); err != nil {
			return nil, nil, nil, err
		}
		if err := checkLimits(want); err != nil {
			return nil, nil, nil, err
		}
		if err := p.checkProxySubnet(ctx, m); err != nil {
			return nil, nil, nil, err
		}
	}
	resolveAddresses(want, have)
	p.seen(m.Owner, !empty || len(have.resources()) > 0)
	return plan(want, have), have, notes, nil
}

// checkProxySubnet refuses, before any write, a regional managed load
// balancer in a network without an active proxy-only subnet in the
// region: GCP would accept every resource but the forwarding rule.
func (p *Provider) checkProxySubnet(ctx context.Context, m *lb.LoadBalancer) error {
	if len(m.Listeners) == 0 {
		return nil
	}
	p.mu.Lock()
	fresh := time.Since(p.proxySubnetChecked) < proxySubnetTTL
	p.mu.Unlock()
	if fresh {
		return nil
	}
	subnets, err := each[*computepb.Subnetwork](p.api.subnets.List(ctx, &computepb.ListSubnetworksRequest{
		Project: p.loc.Project, Region: p.loc.Region, Filter: proto.String(`purpose eq "REGIONAL_MANAGED_PROXY"`),
	}))
	if err != nil {
		return classify(err, "subnetworks.list", "")
	}
	for _, s := range subnets {
		if s.GetPurpose() == "REGIONAL_MANAGED_PROXY" && networkKey(s.GetNetwork()) == networkKey(p.loc.Network) && (s.GetRole() == "" || s.GetRole() == "ACTIVE") {
			p.mu.Lock()
			p.proxySubnetChecked = time.Now()
			p.mu.Unlock()
			return nil
		}
	}
	return &providers.InvalidError{Message: fmt.Sprintf(
		"the network %s has no active proxy-only subnet (purpose REGIONAL_MANAGED_PROXY) in %s, which regional Application Load Balancers need; create one: gcloud compute networks subnets create proxy-only --purpose=REGIONAL_MANAGED_PROXY --role=ACTIVE --region=%s --network=%s --range=10.129.0.0/23",
		p.loc.Network, p.loc.Region, p.loc.Region, lastSegment(p.loc.Network))}
}

// resolveAddresses writes into want's forwarding rules the IP of the
// address they name, once observed: GCP answers with the IP where the rule
// was created with the address's link, and the rule's name already covers
// the link, so a rule on the same address compares equal.
func resolveAddresses(want, have *state) {
	ips := map[string]string{}
	for _, a := range have.Addresses {
		ips[relative(a.GetSelfLink())] = a.GetAddress()
		ips["projects/"+strings.TrimPrefix(relative(a.GetSelfLink()), "projects/")] = a.GetAddress()
	}
	for _, r := range want.Rules {
		if ip, ok := ips[relative(r.GetIPAddress())]; ok && ip != "" {
			r.IPAddress = proto.String(ip)
		}
	}
}

// networkKey is a network link from "global/networks/" on: the API
// answers with URLs, users write paths, with or without the project.
func networkKey(link string) string {
	if i := strings.Index(link, "global/networks/"); i >= 0 {
		return link[i:]
	}
	return "global/networks/" + link
}

// negsOf indexes the NEGs a plan acts on by name, desired ones first.
func negsOf(have *state, cs []*change) map[string]resource {
	out := map[string]resource{}
	for _, n := range have.NEGs {
		out[n.GetName()] = resource{Kind: kindNEG, Logical: logicalOf(n.GetDescription()), Msg: n}
	}
	for _, c := range cs {
		if n, ok := c.Want.(*computepb.NetworkEndpointGroup); ok {
			out[n.GetName()] = resource{Kind: kindNEG, Logical: c.Step.LogicalID, Msg: n}
		}
	}
	return out
}

func stepsOf(cs []*change) providers.Plan {
	var p providers.Plan
	for _, c := range cs {
		p.Steps = append(p.Steps, c.Step)
	}
	return p
}

// status is the load balancer after the plan ran: the address its
// forwarding rules serve on (read back once when this Ensure reserved it),
// and every listener ready once its forwarding rule is in place.
func (p *Provider) status(ctx context.Context, m *lb.LoadBalancer, have *state, cs []*change) (lb.Status, error) {
	st := lb.Status{Listeners: map[string]lb.ListenerStatus{}}
	if len(m.Listeners) == 0 {
		return st, nil
	}
	ip := ""
	switch {
	case len(m.Options.Addresses) == 1:
		ip = m.Options.Addresses[0]
	default:
		for _, a := range have.Addresses {
			ip = a.GetAddress()
		}
		for _, c := range cs {
			if a, ok := c.Want.(*computepb.Address); ok && c.Step.Action == providers.ActionCreate {
				got, err := p.api.addresses.Get(ctx, &computepb.GetAddressRequest{Project: p.loc.Project, Region: p.loc.Region, Address: a.GetName()})
				if err != nil {
					return st, classify(err, "addresses.get", "")
				}
				ip = got.GetAddress()
			}
		}
	}
	if ip != "" {
		st.Addresses = append(st.Addresses, lb.Address{Type: lb.AddressIP, Value: ip})
	}
	ruleOf := map[string]bool{}
	for _, c := range cs {
		if c.Step.Kind == providers.KindListener && c.Step.Action != providers.ActionDelete {
			ruleOf[c.Step.LogicalID] = true
		}
	}
	st.Ready = ip != ""
	for _, l := range m.Listeners {
		st.Listeners[l.Name] = lb.ListenerStatus{Ready: ruleOf[l.Name]}
		st.Ready = st.Ready && ruleOf[l.Name]
	}
	if !st.Ready {
		st.Message = "provisioning"
	}
	return st, nil
}

// The drift resync's read budget. Compute Engine's rate quotas are per
// project and per minute: 1,500 list requests and 1,500 get requests by
// default (the "Compute Engine rate quotas" page, ListRequestsPerMinutePerProject
// and ReadRequestsPerMinutePerProject), shared with every other tool of the
// project and refilled at the start of each minute; a request over it is a
// 403 rateLimitExceeded (retried, transport.go). A resync of one Gateway
// costs listsPerResync calls (ten regional lists, one aggregated NEG
// list, one endpoint list per NEG that holds endpoints; a Gateway
// with one backend: 12), so resyncing N Gateways in period P costs
// N*listsPerResync/P lists per minute; resyncBudget keeps that at a fifth
// of the quota.
const (
	listsPerResync = 12
	resyncBudget   = 300 // list calls per minute
	minResync      = 10 * time.Minute
)

// DefaultResyncPeriod is how often the reconciler reads a Gateway's load
// balancer again to repair drift when --resync-period is 0: 10 minutes up
// to 250 Gateways, then longer in proportion (40 minutes for 1,000
// Gateways). The Gateways counted are those this process has planned.
func (p *Provider) DefaultResyncPeriod() time.Duration {
	p.mu.Lock()
	n := len(p.gateways)
	p.mu.Unlock()
	return resyncPeriodFor(n)
}

// resyncPeriodFor is the period that spends resyncBudget on n Gateways.
func resyncPeriodFor(n int) time.Duration {
	return max(minResync, time.Duration(n*listsPerResync)*time.Minute/resyncBudget)
}

// seen records that o's load balancer exists (or not), for the resync
// period.
func (p *Provider) seen(o lb.Owner, exists bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gateways == nil {
		p.gateways = map[string]bool{}
	}
	if exists {
		p.gateways[o.UID] = true
	} else {
		delete(p.gateways, o.UID)
	}
}
