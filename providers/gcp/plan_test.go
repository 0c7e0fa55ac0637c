package gcp

import (
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// asObserved is s as the API returns it: links as full URLs, and the
// fields the cloud fills in (ids, self links, fingerprints, an address it
// picked, the NEG's size).
func asObserved(s *state) *state {
	o := &state{Endpoints: map[string][]*computepb.NetworkEndpoint{}}
	clone := func(m proto.Message, selfLink string) proto.Message {
		c := proto.Clone(m)
		fullLinks(c.ProtoReflect())
		r := c.ProtoReflect()
		fields := r.Descriptor().Fields()
		for f, v := range map[string]protoreflect.Value{
			"id":                 protoreflect.ValueOfUint64(42),
			"self_link":          protoreflect.ValueOfString("https://compute.googleapis.com/compute/v1/" + selfLink),
			"creation_timestamp": protoreflect.ValueOfString("2026-12-01T21:00:00Z"),
			"fingerprint":        protoreflect.ValueOfString("abc="),
			"address":            protoreflect.ValueOfString("198.51.100.9"),
			"size":               protoreflect.ValueOfInt32(3),
		} {
			if fd := fields.ByName(protoreflect.Name(f)); fd != nil {
				r.Set(fd, v)
			}
		}
		return c
	}
	for _, r := range s.resources() {
		c := clone(r.Msg, testLoc.regional("x", r.Name()))
		switch m := c.(type) {
		case *computepb.HealthCheck:
			o.HealthChecks = append(o.HealthChecks, m)
		case *computepb.NetworkEndpointGroup:
			o.NEGs = append(o.NEGs, m)
		case *computepb.BackendService:
			o.Backends = append(o.Backends, m)
		case *computepb.UrlMap:
			o.URLMaps = append(o.URLMaps, m)
		case *computepb.SslCertificate:
			m.PrivateKey = nil // never returned
			o.Certificates = append(o.Certificates, m)
		case *computepb.TargetHttpProxy:
			o.HTTPProxies = append(o.HTTPProxies, m)
		case *computepb.TargetHttpsProxy:
			o.HTTPSProxies = append(o.HTTPSProxies, m)
		case *computepb.Address:
			o.Addresses = append(o.Addresses, m)
		case *computepb.ForwardingRule:
			o.Rules = append(o.Rules, m)
		}
	}
	for neg, eps := range s.Endpoints {
		for _, e := range eps {
			o.Endpoints[neg] = append(o.Endpoints[neg], proto.Clone(e).(*computepb.NetworkEndpoint))
		}
	}
	return o
}

func fullLinks(m protoreflect.Message) {
	m.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case f.IsList():
			l := v.List()
			for i := range l.Len() {
				switch f.Kind() {
				case protoreflect.StringKind:
					if s := l.Get(i).String(); strings.HasPrefix(s, "projects/") {
						l.Set(i, protoreflect.ValueOfString("https://compute.googleapis.com/compute/v1/"+s))
					}
				case protoreflect.MessageKind:
					fullLinks(l.Get(i).Message())
				}
			}
		case f.IsMap():
		case f.Kind() == protoreflect.StringKind:
			if s := v.String(); strings.HasPrefix(s, "projects/") {
				m.Set(f, protoreflect.ValueOfString("https://compute.googleapis.com/compute/v1/"+s))
			}
		case f.Kind() == protoreflect.MessageKind:
			fullLinks(v.Message())
		}
		return true
	})
}

func steps(cs []*change) providers.Plan {
	var p providers.Plan
	for _, c := range cs {
		p.Steps = append(p.Steps, c.Step)
	}
	return p
}

func calls(cs []*change) []string {
	var out []string
	for _, c := range cs {
		if !c.noCall && c.Step.Action != providers.ActionNothing {
			out = append(out, string(c.Step.Action)+" "+string(c.Step.Kind)+" "+c.Step.LogicalID)
		}
	}
	return out
}

func TestPlanCreatesFromTheLeavesUp(t *testing.T) {
	p := plan(mustDesired(t, testModel(), nil), &state{})
	got := steps(p)
	if got.Summary() != "created 1 load balancer, 2 listeners, 6 rules, 3 target groups, 1 certificate, 2 health checks, 2 network endpoint groups, 3 network endpoints, 2 URL maps, 1 target HTTP proxy, 1 target HTTPS proxy" {
		t.Errorf("summary: %s", got.Summary())
	}
	// Every resource is created after the ones it names.
	order := map[providers.Kind]int{}
	for i, s := range got.Steps {
		if _, ok := order[s.Kind]; !ok {
			order[s.Kind] = i
		}
	}
	for _, pair := range [][2]providers.Kind{{kindHealthCheck, providers.KindTargetGroup}, {kindNEG, providers.KindTargetGroup}, {kindNEG, kindEndpoint},
		{providers.KindTargetGroup, kindURLMap}, {kindURLMap, kindHTTPProxy}, {providers.KindCertificate, kindHTTPSProxy},
		{kindHTTPSProxy, providers.KindListener}, {providers.KindLoadBalancer, providers.KindListener}} {
		if order[pair[0]] >= order[pair[1]] {
			t.Errorf("%s created after %s", pair[0], pair[1])
		}
	}
}

func TestPlanOfTheObservedStateChangesNothing(t *testing.T) {
	want := mustDesired(t, testModel(), nil)
	have := asObserved(want)
	p := steps(plan(mustDesired(t, testModel(), have), have))
	if p.Changes() {
		t.Errorf("plan of an up-to-date load balancer:\n%s", p)
	}
}

func TestPlanRouteChangeIsOneURLMapUpdate(t *testing.T) {
	have := asObserved(mustDesired(t, testModel(), nil))
	m := testModel()
	m.Listeners[0].VirtualHosts[0].Rules[0].Match.Path.Value = "/v2/"
	cs := plan(mustDesired(t, m, have), have)
	if d := cmp.Diff([]string{"Update URL map http-80"}, calls(cs)); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	p := steps(cs)
	if p.Count(providers.ActionUpdate, providers.KindRule) != 1 {
		t.Errorf("plan:\n%s", p)
	}
}

func TestPlanKeepsPrioritiesOfUnchangedRules(t *testing.T) {
	have := asObserved(mustDesired(t, testModel(), nil))
	m := testModel()
	vh := &m.Listeners[0].VirtualHosts[1]
	// A new rule first, one removed.
	vh.Rules = append([]lb.Rule{{Name: "default/new/rule-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/n"}}, Action: fwd("default/web:80")}},
		slices.Delete(vh.Rules, 2, 3)...)
	cs := plan(mustDesired(t, m, have), have)
	p := steps(cs)
	if p.Count(providers.ActionCreate, providers.KindRule) != 1 || p.Count(providers.ActionDelete, providers.KindRule) != 1 || p.Count(providers.ActionUpdate, providers.KindRule) != 0 {
		t.Errorf("plan:\n%s", p)
	}
}

func TestPlanCertificateRotationSwitchesBeforeDelete(t *testing.T) {
	have := asObserved(mustDesired(t, testModel(), nil))
	m := testModel()
	m.Listeners[1].VirtualHosts[0].Certificates[0].CertPEM = []byte("cert-2")
	got := calls(plan(mustDesired(t, m, have), have))
	want := []string{"Create certificate default/tls", "Update target HTTPS proxy https-443", "Delete certificate default/tls"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
}

func TestPlanEndpointChange(t *testing.T) {
	have := asObserved(mustDesired(t, testModel(), nil))
	m := testModel()
	m.TargetGroups[0].Targets = []lb.Target{{IP: "10.0.0.2", Port: 8080, Node: "node-a"}, {IP: "10.0.0.9", Port: 8080, Node: "node-a"}}
	got := calls(plan(mustDesired(t, m, have), have))
	want := []string{"Create network endpoint default/api:80/10.0.0.9:8080@node-a", "Delete network endpoint default/api:80/10.0.0.1:8080@node-a"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
}

func TestPlanDeleteGoesTopDown(t *testing.T) {
	have := asObserved(mustDesired(t, testModel(), nil))
	got := calls(plan(&state{}, have))
	kinds := []string{}
	for _, c := range got {
		k := strings.Fields(c)[1]
		if len(kinds) == 0 || kinds[len(kinds)-1] != k {
			kinds = append(kinds, k)
		}
	}
	want := []string{"listener", "load", "target", "certificate", "URL", "target", "network", "health"}
	if d := cmp.Diff(want, kinds); d != "" {
		t.Errorf("delete order by kind (-want +got):\n%s\n%s", d, strings.Join(got, "\n"))
	}
}

func TestAssignPriorities(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names []string
		prev  map[string]int32
		want  []int32
	}{
		{"fresh", []string{"a", "b", "c"}, nil, []int32{100, 200, 300}},
		{"kept", []string{"a", "c"}, map[string]int32{"a": 100, "b": 200, "c": 300}, []int32{100, 300}},
		{"inserted between", []string{"a", "x", "b"}, map[string]int32{"a": 100, "b": 200}, []int32{100, 150, 200}},
		{"inserted first", []string{"x", "a"}, map[string]int32{"a": 100}, []int32{50, 100}},
		{"moved", []string{"b", "a"}, map[string]int32{"a": 100, "b": 200}, []int32{200, 300}},
		{"no room renumbers", []string{"a", "x", "b"}, map[string]int32{"a": 1, "b": 2}, []int32{100, 200, 300}},
	} {
		got := assignPriorities(tc.names, tc.prev)
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
}
