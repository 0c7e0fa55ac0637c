package conformance

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/gcp"
	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest/urlmapplane"
)

func init() { clouds["gcp"] = gcpCloud }

const (
	gcpProject = "cloudgate-conformance"
	gcpRegion  = "us-central1"
	gcpZone    = "us-central1-a"
)

// gcpCloud is Cloudgate's double of the Compute Engine API holding what the
// GCP provider writes, and urlmapplane serving it: the suite's requests
// follow the URL map's documented semantics for what Cloudgate wrote.
func gcpCloud(ctx context.Context, t *testing.T) cloudUnderTest {
	// External addresses from a loopback range: the plane serves each
	// forwarding rule on its own address, which the suite's TLS, TCP and
	// gRPC clients dial as the Gateway reports it.
	external := netip.MustParsePrefix(fmt.Sprintf("127.%d.0.0/16", 120+os.Getpid()%20))
	srv, err := gcptest.Start(ctx, gcptest.Config{Project: gcpProject, Region: gcpRegion,
		Subnetworks: []*computepb.Subnetwork{gcptest.ProxyOnlySubnet()}, ExternalAddresses: external}, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting the GCP double: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	// GatewayStaticAddresses asks for a usable address: on GCP that is a
	// reserved regional address, made here as a user would with gcloud.
	static := highIn(external)
	if _, err := srv.Double().Create("regions/"+gcpRegion, &computepb.Address{Name: proto.String("conformance-static"),
		AddressType: proto.String("EXTERNAL"), Address: proto.String(static.String())}); err != nil {
		t.Fatalf("reserving %v: %v", static, err)
	}
	// The API never returns an SSL certificate's key: the plane learns
	// them from the uploads the double receives.
	keys := urlmapplane.NewKeyring()
	t.Cleanup(keys.Watch(srv.Double()))
	plane, err := urlmapplane.New(urlmapplane.Config{Endpoint: srv.URL(), Project: gcpProject, Region: gcpRegion, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if err := plane.Start(ctx); err != nil {
		t.Fatalf("starting the URL-map data plane: %v", err)
	}
	t.Cleanup(func() { _ = plane.Close() })
	return cloudUnderTest{
		controllerName: gcp.ControllerName,
		newProvider: func() (providers.Provider, error) {
			// As cmd/internal/manager builds it for --providers=gcp
			// --gcp-endpoint --gcp-without-authentication.
			return gcp.New(ctx, gcp.Config{Project: gcpProject, Region: gcpRegion, Zone: gcpZone, Endpoint: srv.URL(),
				WithoutAuthentication: true, RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 200 * time.Millisecond})
		},
		dial: plane.DialContext,
		// GRPCRoute's tests speak h2c to HTTP listeners ("HTTP/2
		// (requires TLS)", Cloud Load Balancing features, protocols from
		// the clients); TLS passthrough and UDP need passthrough Network
		// Load Balancers, whose backends are not Pod IPs.
		profiles:          []string{"GATEWAY-HTTP", "GATEWAY-TCP"},
		skip:              gcpSkips,
		usableAddresses:   []gwv1.GatewaySpecAddress{ipAddress(static)},
		unusableAddresses: []gwv1.GatewaySpecAddress{ipAddress(mustAddr("192.0.2.1"))},
	}
}

// gcpSkips are the Core tests GCP's documented semantics rule out.
var gcpSkips = map[string]string{
	"TCPRouteWeightedRouting": "a target TCP proxy forwards to one backend service and has no weights (targetTcpProxies: \"service: URL to the BackendService resource\"); " +
		"the provider refuses a TCPRoute rule with more than one backend, naming it in the route's condition",
}
