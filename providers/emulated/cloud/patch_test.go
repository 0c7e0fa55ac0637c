package cloud

import (
	"errors"
	"net/http"
	"net/netip"
	"reflect"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// patchSpec is a listener with a rule per name (its path /name) that
// forwards to the group "g".
func patchSpec(rules ...string) Spec {
	vh := lb.VirtualHost{}
	for _, name := range rules {
		path := "/" + name
		vh.Rules = append(vh.Rules, lb.Rule{Name: name, Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: path}},
			Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "g", Weight: 1}}}})
	}
	return Spec{
		Listeners:    []lb.Listener{{Name: "http", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{vh}}},
		TargetGroups: []lb.TargetGroup{{Name: "g", Protocol: lb.ProtocolHTTP, Targets: []lb.Target{{IP: "192.0.2.1", Port: 8080}}}},
	}
}

func TestPatchKeepsWhatItNames(t *testing.T) {
	c := New(Config{AddressRange: netip.MustParsePrefix("127.99.9.0/24")})
	defer c.Close()
	cur, err := c.Create(LoadBalancer{Name: "p", Tags: map[string]string{"k": "v"}, Spec: patchSpec("a", "b")})
	if err != nil {
		t.Fatal(err)
	}
	// Keep a, change b's path, add c before b, keep the group.
	newB := patchSpec("b")
	newB.Listeners[0].VirtualHosts[0].Rules[0].Match.Path.Value = "/b2"
	c0 := patchSpec("c").Listeners[0].VirtualHosts[0].Rules[0]
	p := Patch{Version: cur.Version, Tags: map[string]string{"k": "w"},
		Listeners: []ListenerPatch{{Name: "http", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []VirtualHostPatch{{
			Rules: []RulePatch{{Name: "a"}, {Name: "c", Rule: &c0}, {Name: "b", Rule: &newB.Listeners[0].VirtualHosts[0].Rules[0]}},
		}}}},
		TargetGroups: []TargetGroupPatch{{Name: "g"}},
	}
	got, err := c.Patch(cur.ID, p)
	if err != nil {
		t.Fatal(err)
	}
	want := patchSpec("a", "c", "b")
	want.Listeners[0].VirtualHosts[0].Rules[2].Match.Path.Value = "/b2"
	if !reflect.DeepEqual(got.Spec, want) || got.Tags["k"] != "w" || got.Version != cur.Version+1 {
		t.Errorf("after the patch: version %d, tags %v, spec\n%+v\nwant\n%+v", got.Version, got.Tags, got.Spec, want)
	}

	// A patch planned on an older version is refused, and so is one that
	// keeps a rule the load balancer does not have: neither changes it.
	var e *Error
	if _, err := c.Patch(cur.ID, p); !errors.As(err, &e) || e.Status != http.StatusConflict {
		t.Errorf("a stale patch = %v, want 409", err)
	}
	bad := p
	bad.Version = got.Version
	bad.Listeners = []ListenerPatch{{Name: "http", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []VirtualHostPatch{{Rules: []RulePatch{{Name: "gone"}}}}}}
	if _, err := c.Patch(cur.ID, bad); !errors.As(err, &e) || e.Status != http.StatusBadRequest {
		t.Errorf("a patch keeping a missing rule = %v, want 400", err)
	}
	if after, _ := c.Get(cur.ID); after.Version != got.Version || !reflect.DeepEqual(after.Spec, want) {
		t.Errorf("a refused patch changed the load balancer to version %d:\n%+v", after.Version, after.Spec)
	}
}

// A run keeps the stored rules from one name through another, in their
// stored order; a run the store does not hold in that order is refused.
func TestPatchKeepsRuns(t *testing.T) {
	c := New(Config{AddressRange: netip.MustParsePrefix("127.99.10.0/24")})
	defer c.Close()
	cur, err := c.Create(LoadBalancer{Name: "p", Spec: patchSpec("a", "b", "c", "d", "e")})
	if err != nil {
		t.Fatal(err)
	}
	x := patchSpec("x").Listeners[0].VirtualHosts[0].Rules[0]
	patch := func(version int64, rules ...RulePatch) Patch {
		return Patch{Version: version, Listeners: []ListenerPatch{{Name: "http", Port: 80, Protocol: lb.ProtocolHTTP,
			VirtualHosts: []VirtualHostPatch{{Rules: rules}}}}, TargetGroups: []TargetGroupPatch{{Name: "g"}}}
	}
	// Insert x after b, drop d.
	got, err := c.Patch(cur.ID, patch(cur.Version, RulePatch{Name: "a", Through: "b"}, RulePatch{Name: "x", Rule: &x}, RulePatch{Name: "c"}, RulePatch{Name: "e", Through: "e"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := patchSpec("a", "b", "x", "c", "e"); !reflect.DeepEqual(got.Spec, want) {
		t.Errorf("after the patch:\n%+v\nwant\n%+v", got.Spec, want)
	}
	var e *Error
	for _, bad := range [][]RulePatch{
		{{Name: "c", Through: "a"}}, // out of order
		{{Name: "a", Through: "d"}}, // d is gone
		{{Name: "gone", Through: "e"}},
	} {
		if _, err := c.Patch(cur.ID, patch(got.Version, bad...)); !errors.As(err, &e) || e.Status != http.StatusBadRequest {
			t.Errorf("a patch keeping %+v = %v, want 400", bad, err)
		}
	}
	if after, _ := c.Get(cur.ID); after.Version != got.Version {
		t.Errorf("a refused patch changed the load balancer to version %d", after.Version)
	}
}
