package conformance

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/emulated"
)

// cloudUnderTest is what the suite needs from one cloud: the controller
// name its GatewayClass asks for, how the harness builds its provider, and
// how the suite's requests reach the cloud's load balancers.
type cloudUnderTest struct {
	controllerName string
	// newProvider builds the provider; nil means the harness's emulated
	// cloud in addressRange.
	newProvider  func() (providers.Provider, error)
	addressRange netip.Prefix
	// dial, when set, reaches the cloud's addresses (the suite dials what
	// the Gateway's status reports).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// The addresses GatewayStaticAddresses requests.
	usableAddresses, unusableAddresses []gwv1.GatewaySpecAddress
	// coreFeatures are profile Core features the suite runs although the
	// GatewayClass does not claim them, because the provider serves the
	// route kind and withholds the claim only for a documented limit of
	// the cloud that the tests in skip exercise: so that the rest of the
	// kind's Core tests check the translation with real traffic (and
	// the kind's extended features the provider does carry, for the same
	// reason). The report lists them among the supported features; the
	// README says why.
	coreFeatures []features.FeatureName
	// profiles are the conformance profiles the cloud carries (nil: all
	// five); CONFORMANCE_PROFILES overrides them.
	profiles []string
	// skip are the tests the cloud's documented semantics rule out, by
	// name, with the reason (the README lists them).
	skip map[string]string
}

// cloudSetup starts what a cloud needs for one run of the suite; it stops
// it in t.Cleanup and fails t when it cannot start.
type cloudSetup func(ctx context.Context, t *testing.T) cloudUnderTest

// clouds are the clouds the suite runs against, by provider name.
var clouds = map[string]cloudSetup{
	"emulated": emulatedCloud,
}

func cloudNames() []string {
	var names []string
	for n := range clouds {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// emulatedCloud is the harness's emulated cloud, whose load balancers
// listen on loopback addresses the suite dials directly.
func emulatedCloud(_ context.Context, _ *testing.T) cloudUnderTest {
	addressRange := netip.MustParsePrefix(fmt.Sprintf("127.%d.0.0/16", 70+os.Getpid()%20))
	return cloudUnderTest{
		controllerName: emulated.ControllerName,
		addressRange:   addressRange,
		// GatewayStaticAddresses requests one address of each: the usable
		// one is in the emulated cloud's range, high enough that the
		// cloud's next-free allocation (from the bottom) has not given it
		// to another Gateway; the unusable one (a documentation address)
		// lies outside the range.
		usableAddresses:   []gwv1.GatewaySpecAddress{ipAddress(highIn(addressRange))},
		unusableAddresses: []gwv1.GatewaySpecAddress{ipAddress(mustAddr("192.0.2.1"))},
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// defaultClouds are the clouds a plain `go test` (and so `make test`)
// runs: each cloud's report is produced by the test command.
const defaultClouds = "emulated,aws,gcp"
