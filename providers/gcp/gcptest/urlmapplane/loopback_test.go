package urlmapplane

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// TestLoopbackRuleAddressServedInPlace: when the double hands out loopback
// addresses, each forwarding rule is served on its own address and port,
// so a client that knows nothing of the plane (the conformance suite's TLS
// and gRPC clients) reaches it by the Gateway's address.
func TestLoopbackRuleAddressServedInPlace(t *testing.T) {
	external := netip.MustParsePrefix(fmt.Sprintf("127.%d.0.0/16", 150+os.Getpid()%50))
	f := newFixtureWith(t, external)
	web := f.service(t, "web", "HTTP", backend(t, "web"))
	ip := f.httpFrontend(t, &computepb.UrlMap{Name: proto.String("um"), DefaultService: proto.String(web)})
	if !external.Contains(netip.MustParseAddr(ip)) {
		t.Fatalf("forwarding rule address %s is not from %v", ip, external)
	}
	f.sync(t)
	if local, ok := f.plane.Addr(ip, 80); !ok || local != ip+":80" {
		t.Fatalf("Addr(%s, 80) = %q, %v; want the rule's own address", ip, local, ok)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + ip + "/")
	if err != nil {
		t.Fatalf("GET the rule's address directly: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET http://%s/: %s %s", ip, resp.Status, body)
	}
}
