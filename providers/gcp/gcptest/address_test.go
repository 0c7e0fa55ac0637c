package gcptest_test

import (
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

// TestForwardingRuleNeedsReservedExternalIP: an external forwarding rule
// given an IP takes it only from a reserved address of its region, of the
// external type; an internal rule may take an unreserved (ephemeral) IP.
func TestForwardingRuleNeedsReservedExternalIP(t *testing.T) {
	d, err := gcptest.New(gcptest.Config{Project: project, Region: region, Zones: []string{zone}})
	if err != nil {
		t.Fatal(err)
	}
	scope := "regions/" + region
	rule := func(ip, scheme string) *computepb.ForwardingRule {
		return &computepb.ForwardingRule{Name: proto.String("fr"), IPAddress: proto.String(ip), LoadBalancingScheme: proto.String(scheme),
			PortRange: proto.String("80"), Target: proto.String("projects/" + project + "/regions/" + region + "/targetHttpProxies/missing")}
	}
	if _, err := d.Create(scope, rule("100.64.1.1", "EXTERNAL_MANAGED")); err == nil || !strings.Contains(err.Error(), "is not reserved") {
		t.Errorf("an unreserved external IP: %v, want refused as not reserved", err)
	}
	if _, err := d.Create(scope, &computepb.Address{Name: proto.String("in"), AddressType: proto.String("INTERNAL"), Address: proto.String("10.128.9.9")}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Create(scope, rule("10.128.9.9", "EXTERNAL_MANAGED")); err == nil || !strings.Contains(err.Error(), "is of type INTERNAL") {
		t.Errorf("an internal address on an external rule: %v, want refused by type", err)
	}
	if _, err := d.Create(scope, &computepb.Address{Name: proto.String("ex"), AddressType: proto.String("EXTERNAL"), Address: proto.String("100.64.1.1")}); err != nil {
		t.Fatal(err)
	}
	// Reserved: the address passes, and the missing target is what fails.
	if _, err := d.Create(scope, rule("100.64.1.1", "EXTERNAL_MANAGED")); err == nil || strings.Contains(err.Error(), "IPAddress") {
		t.Errorf("a reserved external IP: %v, want refused for its target only", err)
	}
	if _, err := d.Create(scope, rule("10.128.7.7", "INTERNAL_MANAGED")); err != nil && strings.Contains(err.Error(), "IPAddress") {
		t.Errorf("an unreserved internal IP: %v, want its address accepted", err)
	}
}
