package conformance

import (
	"context"
	"net/netip"
	"testing"
)

// TestResolver checks the in-process resolver through Go's own resolver:
// a known name gets its address, an unknown one NXDOMAIN.
func TestResolver(t *testing.T) {
	want := netip.MustParseAddr("127.1.2.3")
	r := testResolver(func(name string) (netip.Addr, bool) {
		return want, name == "lb-1.us-east-1.elb.amazonaws.com"
	})
	got, err := r.LookupNetIP(context.Background(), "ip4", "LB-1.us-east-1.elb.amazonaws.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != want {
		t.Errorf("lookup = %v, want [%v]", got, want)
	}
	if got, err := r.LookupNetIP(context.Background(), "ip", "lb-1.us-east-1.elb.amazonaws.com"); err != nil || len(got) != 1 {
		t.Errorf("ip lookup = %v, %v; want one IPv4 address", got, err)
	}
	if got, err := r.LookupNetIP(context.Background(), "ip4", "other.example.com"); err == nil {
		t.Errorf("unknown name resolved to %v", got)
	}
}
