package mapping

import (
	"slices"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// TestTargetZones holds the zone rules of backends-zones.in.yaml in code,
// so that -update cannot rewrite them unnoticed: each target carries its
// endpoint's zone, and an address two slices list is one target with the
// known zone first by name, in either order of the slices.
func TestTargetZones(t *testing.T) {
	want := []lb.Target{
		{IP: "10.1.0.1", Port: 8080, Zone: "zone-b", Node: "node-1"},
		{IP: "10.1.0.2", Port: 8080, Zone: "zone-a"},
		{IP: "10.1.0.3", Port: 8080},
		{IP: "10.1.0.4", Port: 8080, Zone: "zone-a"}, // zone-c in the other slice
		{IP: "10.1.0.5", Port: 8080, Zone: "zone-b"}, // none in the other slice
		{IP: "10.1.0.6", Port: 8080, Zone: "zone-a"},
		{IP: "10.1.0.7", Port: 8080, Zone: "zone-a"},
		{IP: "10.1.0.8", Port: 8080, Zone: "zone-b"}, // the zone-a copy is not ready
	}
	s := loadSnapshot(t, "testdata/backends-zones.in.yaml")
	for _, reversed := range []bool{false, true} {
		if reversed {
			slices.Reverse(s.EndpointSlices)
		}
		res := Build(s)
		if res.LoadBalancer == nil || len(res.LoadBalancer.TargetGroups) != 1 {
			t.Fatalf("slices reversed %v: model %+v, want one target group", reversed, res.LoadBalancer)
		}
		if got := res.LoadBalancer.TargetGroups[0].Targets; !slices.Equal(got, want) {
			t.Errorf("slices reversed %v: targets\n%+v\nwant\n%+v", reversed, got, want)
		}
	}
}
