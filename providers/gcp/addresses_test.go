package gcp

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

// reserve stores a user's address (no ownership record) in the test region.
func reserve(t *testing.T, e *testEnv, a *computepb.Address) *computepb.Address {
	t.Helper()
	link, err := e.d.Create("regions/"+testRegion, a)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := gcptest.Get[*computepb.Address](e.d, link)
	if !ok {
		t.Fatalf("address %s not stored", link)
	}
	return got
}

// TestGivenAddress: a Gateway naming the IP of a reserved address gets it
// on every forwarding rule and in its status; the address is never
// relabelled or deleted, when the Gateway moves off it nor when it goes.
func TestGivenAddress(t *testing.T) {
	e := newTestEnv(t, gcptest.Config{})
	user := reserve(t, e, &computepb.Address{Name: proto.String("users-ip"), AddressType: proto.String("EXTERNAL"),
		NetworkTier: proto.String("PREMIUM"), Address: proto.String("100.64.200.7"), Description: proto.String("reserved by hand"),
		Labels: map[string]string{"owner": "platform"}})
	m := liveModel(t)
	m.Options.Addresses = []string{"100.64.200.7"}
	res := e.ensure(t, m)
	if !res.Status.Ready || len(res.Status.Addresses) != 1 || res.Status.Addresses[0].Value != "100.64.200.7" {
		t.Fatalf("status = %+v, want ready on 100.64.200.7", res.Status)
	}
	rules := gcptest.Objects[*computepb.ForwardingRule](e.d)
	if len(rules) != 2 {
		t.Fatalf("%d forwarding rules, want 2", len(rules))
	}
	for _, r := range rules {
		if r.GetIPAddress() != "100.64.200.7" {
			t.Errorf("forwarding rule %s on %q, want 100.64.200.7", r.GetName(), r.GetIPAddress())
		}
	}
	unchanged := func(when string) {
		t.Helper()
		got, ok := gcptest.Get[*computepb.Address](e.d, user.GetSelfLink())
		if !ok {
			t.Fatalf("%s: the user's address was deleted", when)
		}
		if !maps.Equal(got.GetLabels(), user.GetLabels()) || got.GetDescription() != user.GetDescription() {
			t.Errorf("%s: the user's address became labels %v, description %q", when, got.GetLabels(), got.GetDescription())
		}
	}
	unchanged("served")
	if n := len(gcptest.Objects[*computepb.Address](e.d)); n != 1 {
		t.Errorf("%d addresses, want the user's only", n)
	}
	e.d.ResetCalls()
	e.ensure(t, m)
	if w := writes(e.d.Calls()); len(w) != 0 {
		t.Errorf("a no-op Ensure on a given address wrote %v", w)
	}
	// Labels change: the forwarding rules take them, the address not.
	m.Tags = map[string]string{"team": "payments"}
	e.ensure(t, m)
	unchanged("relabelled")

	// Off the address: the provider reserves its own, the rules move.
	m.Options.Addresses = nil
	res = e.ensure(t, m)
	if len(res.Status.Addresses) != 1 || res.Status.Addresses[0].Value == "100.64.200.7" {
		t.Fatalf("status addresses = %v, want one of the provider's", res.Status.Addresses)
	}
	for _, r := range gcptest.Objects[*computepb.ForwardingRule](e.d) {
		if r.GetIPAddress() != res.Status.Addresses[0].Value {
			t.Errorf("forwarding rule %s on %q, want %s", r.GetName(), r.GetIPAddress(), res.Status.Addresses[0].Value)
		}
	}
	unchanged("moved off")
	if got, _ := gcptest.Get[*computepb.Address](e.d, user.GetSelfLink()); len(got.GetUsers()) != 0 {
		t.Errorf("the user's address still has users %v", got.GetUsers())
	}

	// Back on it, then deleted.
	m.Options.Addresses = []string{"100.64.200.7"}
	e.ensure(t, m)
	if err := e.prov.Delete(t.Context(), m.Owner); err != nil {
		t.Fatal(err)
	}
	unchanged("deleted")
	if n := e.d.Len(); n != 2 { // the proxy-only subnet and the user's address
		t.Errorf("the double holds %d objects after Delete, want 2: %v", n, e.d.Refs())
	}
}

// TestGivenOwnAddress: naming the IP the provider reserved for this very
// Gateway (as status.addresses showed it) keeps that address: it is not
// deleted under the rules that use it.
func TestGivenOwnAddress(t *testing.T) {
	e := newTestEnv(t, gcptest.Config{})
	m := liveModel(t)
	res := e.ensure(t, m)
	ip := res.Status.Addresses[0].Value
	m.Options.Addresses = []string{ip}
	e.d.ResetCalls()
	res = e.ensure(t, m)
	if len(res.Status.Addresses) != 1 || res.Status.Addresses[0].Value != ip {
		t.Fatalf("status addresses = %v, want %s", res.Status.Addresses, ip)
	}
	if n := len(gcptest.Objects[*computepb.Address](e.d)); n != 1 {
		t.Fatalf("%d addresses, want the one reserved before", n)
	}
	if w := writes(e.d.Calls()); w["addresses.delete"] != 0 || w["addresses.insert"] != 0 {
		t.Errorf("naming the Gateway's own address wrote %v", w)
	}
	for _, r := range gcptest.Objects[*computepb.ForwardingRule](e.d) {
		if r.GetIPAddress() != ip {
			t.Errorf("forwarding rule %s on %q, want %s", r.GetName(), r.GetIPAddress(), ip)
		}
	}
}

// TestGivenAddressNotUsable: each address the forwarding rules cannot use
// is ErrAddressNotUsable, saying why, before any write.
func TestGivenAddressNotUsable(t *testing.T) {
	e := newTestEnv(t, gcptest.Config{})
	reserve(t, e, &computepb.Address{Name: proto.String("standard"), AddressType: proto.String("EXTERNAL"),
		NetworkTier: proto.String("STANDARD"), Address: proto.String("100.64.200.1")})
	reserve(t, e, &computepb.Address{Name: proto.String("inside"), AddressType: proto.String("INTERNAL"),
		Address: proto.String("10.200.0.5")})
	// Another load balancer's rule on a user's address.
	reserve(t, e, &computepb.Address{Name: proto.String("busy"), AddressType: proto.String("EXTERNAL"), Address: proto.String("100.64.200.2")})
	om := liveModel(t)
	om.Owner = lb.Owner{Cluster: "c1", Namespace: "default", Name: "other", UID: "u2"}
	om.Options.Addresses = []string{"100.64.200.2"}
	e.ensure(t, om)

	for _, c := range []struct {
		name  string
		addrs []string
		says  string
	}{
		{"two", []string{"100.64.200.1", "100.64.200.2"}, "2 addresses are requested; every forwarding rule of a GCP Gateway shares one address"},
		{"IPv6", []string{"2001:db8::1"}, `"2001:db8::1" is not an IPv4 address`},
		{"not reserved", []string{"100.64.200.9"}, "no address of project p1 in region europe-west1 has the IP 100.64.200.9: reserve it there first"},
		{"internal", []string{"10.200.0.5"}, "the address inside (10.200.0.5) is INTERNAL, and the Gateway's EXTERNAL_MANAGED forwarding rules need an EXTERNAL one"},
		{"standard tier", []string{"100.64.200.1"}, "the address standard (100.64.200.1) is of network tier STANDARD; the provider's forwarding rules are PREMIUM"},
		{"taken", []string{"100.64.200.2"}, "the address busy (100.64.200.2) is used by projects/p1/regions/europe-west1/forwardingRules/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := liveModel(t)
			m.Options.Addresses = c.addrs
			e.d.ResetCalls()
			_, err := e.prov.Ensure(t.Context(), m)
			if !errors.Is(err, providers.ErrAddressNotUsable) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("Ensure = %v, want ErrAddressNotUsable saying %q", err, c.says)
			}
			if w := writes(e.d.Calls()); len(w) != 0 {
				t.Errorf("a refused address wrote %v", w)
			}
		})
	}
}

// TestUsableInternal: an internal Gateway's address must be INTERNAL, in
// the provider's subnetwork, and shared (purpose SHARED_LOADBALANCER_VIP)
// when several forwarding rules use it.
func TestUsableInternal(t *testing.T) {
	p := &Provider{loc: testLoc}
	p.loc.Subnetwork = testLoc.regional("subnetworks", "nodes")
	m := testModel()
	m.Options.Scheme = lb.SchemeInternal
	addr := func(typ, subnet, purpose string) *computepb.Address {
		return &computepb.Address{Name: proto.String("a"), Address: proto.String("10.0.9.9"), AddressType: proto.String(typ),
			Subnetwork: proto.String(testLoc.regional("subnetworks", subnet)), Purpose: proto.String(purpose)}
	}
	for _, c := range []struct {
		name string
		a    *computepb.Address
		says string // "" for usable
	}{
		{"shared", addr("INTERNAL", "nodes", "SHARED_LOADBALANCER_VIP"), ""},
		{"external", addr("EXTERNAL", "nodes", ""), "is EXTERNAL, and the Gateway's INTERNAL_MANAGED forwarding rules need an INTERNAL one"},
		{"other subnet", addr("INTERNAL", "db", "SHARED_LOADBALANCER_VIP"), "is in subnetwork db; the provider's forwarding rules are in nodes"},
		{"not shared", addr("INTERNAL", "nodes", "GCE_ENDPOINT"), `has purpose "GCE_ENDPOINT"; 2 forwarding rules share it, which needs SHARED_LOADBALANCER_VIP`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := p.usable(m, c.a, &state{})
			switch {
			case c.says == "" && err != nil:
				t.Errorf("usable = %v, want nil", err)
			case c.says != "" && (!errors.Is(err, providers.ErrAddressNotUsable) || !strings.Contains(err.Error(), c.says)):
				t.Errorf("usable = %v, want ErrAddressNotUsable saying %q", err, c.says)
			}
		})
	}
}
