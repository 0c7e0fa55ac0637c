package gcpe2e

import (
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

// Resources without our ownership record are never modified or deleted: a
// foreign address and URL map made beforehand stay as they were, byte for
// byte (fingerprints included), through a Gateway's whole life; and the
// Gateway's deletion leaves the double holding exactly what it held before
// the Gateway, in every collection.
func TestForeignResourcesUntouched(t *testing.T) {
	ns := namespace(t)
	service(t, ns, "app", 8080, "10.0.4.10")
	scope := "regions/" + region
	addr, err := suite.d.Create(scope, &computepb.Address{Name: proto.String("someone-elses-address"), AddressType: proto.String("EXTERNAL"),
		Description: proto.String("reserved by another team"), Labels: map[string]string{"owner": "another-team"}})
	must(t, err)
	urlMap, err := suite.d.Create(scope, &computepb.UrlMap{Name: proto.String("someone-elses-map"), Description: proto.String("not Cloudgate's"),
		DefaultUrlRedirect: &computepb.HttpRedirectAction{HostRedirect: proto.String("example.com")}})
	must(t, err)
	snapshot := func() string {
		t.Helper()
		var parts []string
		a, ok := gcptest.Get[*computepb.Address](suite.d, addr)
		if !ok {
			t.Fatalf("the foreign address %s is gone", addr)
		}
		u, ok := gcptest.Get[*computepb.UrlMap](suite.d, urlMap)
		if !ok {
			t.Fatalf("the foreign URL map %s is gone", urlMap)
		}
		for _, m := range []proto.Message{a, u} {
			b, err := protojson.Marshal(m)
			must(t, err)
			parts = append(parts, string(b))
		}
		return strings.Join(parts, "\n")
	}
	before, refs := snapshot(), suite.d.Refs()
	_, from := suite.log.since(0)

	create(t, gateway(ns, "gw", listener("http", gwv1.HTTPProtocolType, 80)),
		route(ns, "r", "gw", "", nil, rule(prefix("/"), backendRef("app", 8080, 1))))
	programmed(t, ns, "gw")
	uid := string(getGateway(t, ns, "gw").UID)
	if v := viewOf(t, uid); len(v.Addresses) != 1 || len(v.URLMaps) != 1 {
		t.Fatalf("want the Gateway's own address and URL map beside the foreign ones: %s", v)
	}
	if mid := snapshot(); mid != before {
		t.Errorf("foreign resources changed while the Gateway was created:\n before %s\n after  %s", before, mid)
	}
	deleteGateway(t, ns, "gw")
	must(t, leftovers(t, uid))
	if after := snapshot(); after != before {
		t.Errorf("foreign resources changed:\n before %s\n after  %s", before, after)
	}
	log, _ := suite.log.since(from)
	for _, c := range log {
		if c.Method != "GET" && (strings.Contains(c.Path, "someone-elses-") || strings.Contains(string(c.Body), "someone-elses-")) {
			t.Errorf("the provider called %s %s on a foreign resource", c.Method, c.Path)
		}
	}
	if after := suite.d.Refs(); !slices.Equal(after, refs) {
		t.Errorf("the double holds\n  %s\nafter the Gateway's deletion, want what it held before\n  %s", strings.Join(after, "\n  "), strings.Join(refs, "\n  "))
	}
}
