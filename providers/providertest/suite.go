package providertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// Env is one case's provider and cloud.
type Env struct {
	Provider providers.Provider
	Cloud    Cloud
	// Port is the first listener port of the test models; 0 means 8080. The
	// suite also uses Port+1.
	Port int32
	// Target is the endpoint the test target groups hold; the zero value means
	// 127.0.0.1:9. Nothing needs to listen there: the suite checks the cloud,
	// not traffic.
	Target lb.Target
	// RefuseRule, if the provider's cloud can refuse a model that
	// lb.Validate accepts, changes r into such a rule (for the emulated
	// cloud: a redirect to a scheme its data plane lacks). The suite then
	// checks that the refusal names that rule and no other. Nil means the
	// cloud refuses nothing lb.Validate accepts, and the case is skipped.
	RefuseRule func(r *lb.Rule)
	// UserTag is how the cloud writes a user tag, on clouds whose tags
	// have rules of their own (GCP labels: lowercase letters, digits, "_"
	// and "-"); nil means as it is. Ownership tags are not user tags: the
	// Cloud reports them by their own keys, wherever it keeps them.
	UserTag func(key, value string) (string, string)
}

// Cloud lets the suite see the cloud directly.
type Cloud interface {
	// Resources lists every load balancer in the cloud (owned by anyone).
	// Providers that split a load balancer into several cloud resources list
	// the one that carries its addresses and listeners.
	Resources(ctx context.Context) ([]Resource, error)
	// PlantForeign creates, outside the provider, a resource without
	// ownership tags that the provider would otherwise be likely to touch for
	// owner (on clouds with deterministic names: the very name the provider
	// would use).
	PlantForeign(ctx context.Context, owner lb.Owner) (Resource, error)
}

// Resource is a cloud load balancer as the suite sees it.
type Resource struct {
	ID        string
	Name      string
	Tags      map[string]string
	Addresses []string
	Ports     []int32
}

// Run runs every contract case as a subtest, each with an Env from newEnv.
func Run(t *testing.T, newEnv func(t *testing.T) Env) {
	cases := []struct {
		name string
		run  func(*suite)
	}{
		{"EnsureIsIdempotent", (*suite).ensureIsIdempotent},
		{"PlanIsADryRun", (*suite).planIsADryRun},
		{"UpdateChangesCloud", (*suite).updateChangesCloud},
		{"OwnershipAndUserTags", (*suite).ownershipAndUserTags},
		{"DeleteRemovesEverything", (*suite).deleteRemovesEverything},
		{"ForeignResourceSurvives", (*suite).foreignResourceSurvives},
		{"InvalidModelCreatesNothing", (*suite).invalidModelCreatesNothing},
		{"DistinctOwners", (*suite).distinctOwners},
		{"AcceptsValidModels", (*suite).acceptsValidModels},
		{"RefusalNamesTheElement", (*suite).refusalNamesTheElement},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newEnv(t)
			if env.Port == 0 {
				env.Port = 8080
			}
			if env.Target == (lb.Target{}) {
				env.Target = lb.Target{IP: "127.0.0.1", Port: 9}
			}
			c.run(&suite{t: t, env: env, ctx: t.Context()})
		})
	}
}

type suite struct {
	t   *testing.T
	env Env
	ctx context.Context
}

// owner returns a fresh owner; the random UID keeps cases and reruns apart on
// clouds that persist between runs.
func (s *suite) owner(name string) lb.Owner {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return lb.Owner{Cluster: "providertest", Namespace: "contract", Name: name, UID: hex.EncodeToString(b[:])}
}

// model is a small valid load balancer with one HTTP listener per port.
func (s *suite) model(owner lb.Owner, ports ...int32) *lb.LoadBalancer {
	m := &lb.LoadBalancer{
		Owner: owner,
		TargetGroups: []lb.TargetGroup{{
			Name: "contract/echo:80", Protocol: lb.ProtocolHTTP, Targets: []lb.Target{s.env.Target},
		}},
	}
	for _, p := range ports {
		m.Listeners = append(m.Listeners, lb.Listener{
			Name: fmt.Sprintf("http-%d", p), Port: p, Protocol: lb.ProtocolHTTP,
			VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{{
				Name:   "contract/echo/rule-0/match-0",
				Match:  lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/"}},
				Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "contract/echo:80", Weight: 1}}},
			}}}},
		})
	}
	return m
}

func (s *suite) ensure(m *lb.LoadBalancer) lb.Status {
	s.t.Helper()
	res, err := s.env.Provider.Ensure(s.ctx, m)
	if err != nil {
		s.t.Fatalf("Ensure(%s): %v", m.Owner.Key(), err)
	}
	return res.Status
}

func (s *suite) delete(o lb.Owner) {
	s.t.Helper()
	if err := s.env.Provider.Delete(s.ctx, o); err != nil {
		s.t.Fatalf("Delete(%s): %v", o.Key(), err)
	}
}

func (s *suite) resources() []Resource {
	s.t.Helper()
	rs, err := s.env.Cloud.Resources(s.ctx)
	if err != nil {
		s.t.Fatalf("listing cloud resources: %v", err)
	}
	return rs
}

// owned returns the resources that carry o's ownership tags.
func (s *suite) owned(o lb.Owner) []Resource {
	s.t.Helper()
	var out []Resource
	for _, r := range s.resources() {
		if r.Tags[lb.TagCluster] == o.Cluster && r.Tags[lb.TagGatewayUID] == o.UID {
			out = append(out, r)
		}
	}
	return out
}

func (s *suite) ownedOne(o lb.Owner) Resource {
	s.t.Helper()
	rs := s.owned(o)
	if len(rs) != 1 {
		s.t.Fatalf("%s owns %d load balancers, want 1: %+v", o.Key(), len(rs), rs)
	}
	return rs[0]
}

func (s *suite) checkReady(st lb.Status, m *lb.LoadBalancer) {
	s.t.Helper()
	if !st.Ready || len(st.Addresses) == 0 || st.Addresses[0].Value == "" {
		s.t.Errorf("status = %+v, want ready with an address", st)
	}
	for _, l := range m.Listeners {
		if !st.Listeners[l.Name].Ready {
			s.t.Errorf("listener %q not ready in status %+v", l.Name, st)
		}
	}
}

func (s *suite) ensureIsIdempotent() {
	o := s.owner("idempotent")
	m := s.model(o, s.env.Port)
	first := s.ensure(m)
	s.checkReady(first, m)
	before := s.ownedOne(o)
	second := s.ensure(s.model(o, s.env.Port))
	after := s.ownedOne(o)
	if before.ID != after.ID {
		s.t.Errorf("second Ensure replaced the load balancer: %s → %s", before.ID, after.ID)
	}
	if !slices.Equal(first.Addresses, second.Addresses) {
		s.t.Errorf("address changed on a no-op Ensure: %v → %v", first.Addresses, second.Addresses)
	}
	if !slices.Equal(before.Addresses, after.Addresses) || !maps.Equal(before.Tags, after.Tags) {
		s.t.Errorf("cloud changed on a no-op Ensure: %+v → %+v", before, after)
	}
}

// planIsADryRun checks that Plan shows what Ensure then does, and changes
// nothing itself.
func (s *suite) planIsADryRun() {
	o := s.owner("plan")
	m := s.model(o, s.env.Port)
	pl, err := s.env.Provider.Plan(s.ctx, m)
	if err != nil {
		s.t.Fatalf("Plan(%s): %v", o.Key(), err)
	}
	if pl.Count(providers.ActionCreate, providers.KindLoadBalancer) != 1 {
		s.t.Errorf("plan before the first Ensure does not create one load balancer:\n%s", pl)
	}
	if rs := s.owned(o); len(rs) != 0 {
		s.t.Fatalf("Plan created %+v", rs)
	}
	res, err := s.env.Provider.Ensure(s.ctx, m)
	if err != nil {
		s.t.Fatalf("Ensure(%s): %v", o.Key(), err)
	}
	if res.Applied.Summary() != pl.Summary() {
		s.t.Errorf("Ensure applied %q, the plan said %q", res.Applied.Summary(), pl.Summary())
	}
	for _, st := range res.Applied.Steps {
		if st.Action == providers.ActionCreate && st.CloudID == "" {
			s.t.Errorf("applied step without the cloud id of what it created: %s", st)
		}
	}
	if pl, err = s.env.Provider.Plan(s.ctx, m); err != nil || pl.Changes() {
		s.t.Errorf("Plan after Ensure = %v, %v; want no changes", pl, err)
	}
	if res, err = s.env.Provider.Ensure(s.ctx, m); err != nil || res.Applied.Changes() {
		s.t.Errorf("second Ensure applied %v, %v; want no changes", res.Applied, err)
	}
	before := s.ownedOne(o)
	if pl, err = s.env.Provider.Plan(s.ctx, s.model(o, s.env.Port, s.env.Port+1)); err != nil || !pl.Changes() {
		s.t.Errorf("Plan of an added listener = %v, %v; want changes", pl, err)
	}
	if after := s.ownedOne(o); !slices.Equal(before.Ports, after.Ports) {
		s.t.Errorf("Plan changed the cloud's ports: %v → %v", before.Ports, after.Ports)
	}
	bad := s.model(o, s.env.Port)
	bad.TargetGroups = nil
	if _, err := s.env.Provider.Plan(s.ctx, bad); !errors.Is(err, providers.ErrInvalid) {
		s.t.Errorf("Plan(invalid model) error = %v, want one wrapping providers.ErrInvalid", err)
	}
	s.delete(o)
}

func (s *suite) updateChangesCloud() {
	o := s.owner("update")
	p := s.env.Port
	s.ensure(s.model(o, p))
	m := s.model(o, p, p+1)
	st := s.ensure(m)
	s.checkReady(st, m)
	if got := s.ownedOne(o).Ports; !slices.Equal(sorted(got), []int32{p, p + 1}) {
		s.t.Errorf("after adding a listener the cloud has ports %v, want %v", got, []int32{p, p + 1})
	}
	s.ensure(s.model(o, p+1))
	if got := s.ownedOne(o).Ports; !slices.Equal(got, []int32{p + 1}) {
		s.t.Errorf("after removing a listener the cloud has ports %v, want %v", got, []int32{p + 1})
	}
}

func (s *suite) ownershipAndUserTags() {
	o := s.owner("tags")
	m := s.model(o, s.env.Port)
	m.Tags = map[string]string{
		"team":                 "payments",
		"example.com/cost":     "42",
		lb.TagCluster:          "forged",
		lb.TagGatewayUID:       "forged",
		lb.TagGateway:          "forged/forged",
		"cloudgate.dev/custom": "kept",
	}
	s.ensure(m)
	for _, r := range s.owned(o) {
		want := map[string]string{lb.TagCluster: o.Cluster, lb.TagGateway: o.Key(), lb.TagGatewayUID: o.UID}
		for k, v := range map[string]string{"team": "payments", "example.com/cost": "42", "cloudgate.dev/custom": "kept"} {
			if s.env.UserTag != nil {
				k, v = s.env.UserTag(k, v)
			}
			want[k] = v
		}
		for k, v := range want {
			if r.Tags[k] != v {
				s.t.Errorf("resource %s: tag %q = %q, want %q (all tags %v)", r.Name, k, r.Tags[k], v, r.Tags)
			}
		}
		if r.Tags[lb.TagResource] == "" {
			s.t.Errorf("resource %s has no %s tag: %v", r.Name, lb.TagResource, r.Tags)
		}
	}
	if len(s.owned(o)) == 0 {
		s.t.Fatalf("nothing owned by %s after Ensure", o.Key())
	}
}

func (s *suite) deleteRemovesEverything() {
	o := s.owner("delete")
	s.ensure(s.model(o, s.env.Port, s.env.Port+1))
	s.delete(o)
	if rs := s.owned(o); len(rs) != 0 {
		s.t.Errorf("after Delete the cloud still has %+v", rs)
	}
	s.delete(o) // idempotent
	s.delete(s.owner("never-existed"))
}

func (s *suite) foreignResourceSurvives() {
	o := s.owner("foreign")
	foreign, err := s.env.Cloud.PlantForeign(s.ctx, o)
	if err != nil {
		s.t.Fatalf("PlantForeign: %v", err)
	}
	// Ensure may refuse (the name is taken) or succeed under another name; it
	// must not adopt, change or delete the foreign resource either way.
	_, ensureErr := s.env.Provider.Ensure(s.ctx, s.model(o, s.env.Port))
	s.checkForeign(foreign, "Ensure")
	for _, r := range s.owned(o) {
		if r.ID == foreign.ID {
			s.t.Errorf("Ensure adopted the foreign resource %s (error %v)", r.Name, ensureErr)
		}
	}
	s.delete(o)
	s.checkForeign(foreign, "Delete")
}

func (s *suite) checkForeign(want Resource, after string) {
	s.t.Helper()
	for _, r := range s.resources() {
		if r.ID == want.ID {
			if !maps.Equal(r.Tags, want.Tags) || !slices.Equal(r.Ports, want.Ports) {
				s.t.Errorf("after %s the foreign resource changed: %+v → %+v", after, want, r)
			}
			return
		}
	}
	s.t.Errorf("after %s the foreign resource %s (%s) is gone", after, want.Name, want.ID)
}

func (s *suite) invalidModelCreatesNothing() {
	o := s.owner("invalid")
	m := s.model(o, s.env.Port)
	m.Listeners[0].VirtualHosts[0].Rules[0].Action.Forward[0].TargetGroup = "contract/missing:80"
	_, err := s.env.Provider.Ensure(s.ctx, m)
	if !errors.Is(err, providers.ErrInvalid) {
		s.t.Errorf("Ensure(invalid model) error = %v, want one wrapping providers.ErrInvalid", err)
	}
	if rs := s.owned(o); len(rs) != 0 {
		s.t.Errorf("Ensure(invalid model) left resources: %+v", rs)
	}
}

func (s *suite) distinctOwners() {
	a := s.owner("gateway")
	b := s.owner("gateway") // same namespace/name, another UID: a re-created Gateway
	c := a
	c.Cluster = "providertest-other" // same Gateway in another cluster sharing the cloud
	for _, o := range []lb.Owner{a, b, c} {
		s.ensure(s.model(o, s.env.Port))
	}
	ra, rb, rc := s.ownedOne(a), s.ownedOne(b), s.ownedOne(c)
	if ra.ID == rb.ID || ra.ID == rc.ID || rb.ID == rc.ID {
		s.t.Errorf("owners share load balancers: %s %s %s", ra.ID, rb.ID, rc.ID)
	}
	if slices.Equal(ra.Addresses, rb.Addresses) || slices.Equal(ra.Addresses, rc.Addresses) {
		s.t.Errorf("owners share addresses: %v %v %v", ra.Addresses, rb.Addresses, rc.Addresses)
	}
	s.delete(a)
	if len(s.owned(a)) != 0 {
		s.t.Errorf("Delete(a) left a's resources")
	}
	if s.ownedOne(b).ID != rb.ID || s.ownedOne(c).ID != rc.ID {
		s.t.Errorf("Delete(a) touched another owner's load balancer")
	}
}

func sorted(p []int32) []int32 {
	p = slices.Clone(p)
	slices.Sort(p)
	return p
}
