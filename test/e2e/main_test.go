package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/providers/emulated"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
	"github.com/cloudgate-dev/cloudgate/test/controlplane"
	"github.com/cloudgate-dev/cloudgate/test/harness"
	"github.com/cloudgate-dev/cloudgate/test/netns"
)

const (
	className   = "cloudgate-e2e"
	clusterName = "e2e"
	// suiteResync is the controller's drift resync period in these tests,
	// short so that a drift test waits seconds, not the default minutes.
	suiteResync = 3 * time.Second
)

// suite is what every test shares: one control plane, one controller, one
// emulated cloud and one namespace host for backends. Tests isolate themselves
// by namespace.
var suite struct {
	rest *rest.Config
	// cp makes users of their own (describe's read-only one).
	cp    *controlplane.ControlPlane
	c     client.Client
	cloud *cloud.Server
	ctl   *harness.Controller
	// harness is the controller's configuration, for tests that restart it.
	harness harness.Config
	host    *netns.Host
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Every controller log line passes through a sink that counts errors;
	// E2E_VERBOSE also prints them.
	var next logr.LogSink
	if os.Getenv("E2E_VERBOSE") != "" {
		next = zap.New(zap.UseDevMode(true)).GetSink()
	}
	ctrl.SetLogger(logr.New(countingSink{next: next}))

	cp, err := controlplane.Start(ctx, controlplane.Config{Progress: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the control plane:", err)
		return 1
	}
	defer func() { _ = cp.Stop() }()
	suite.rest = cp.REST
	suite.cp = cp

	host, err := netns.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating the backend network namespace:", err)
		return 1
	}
	defer host.Close()
	suite.host = host

	// A range of our own, so that a parallel test package's cloud never hands
	// out the same address.
	rng := netip.MustParsePrefix(fmt.Sprintf("127.%d.0.0/16", 30+os.Getpid()%20))
	suite.harness = harness.Config{ClusterName: clusterName, AddressRange: rng, ResyncPeriod: suiteResync}
	ctl, err := harness.Start(ctx, cp.REST, suite.harness)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the controller:", err)
		return 1
	}
	defer ctl.Stop()
	suite.ctl = ctl
	suite.cloud = ctl.Cloud
	suite.c = ctl.Client
	c := ctl.Client
	gc := &gwv1.GatewayClass{}
	gc.Name = className
	gc.Spec.ControllerName = emulated.ControllerName
	if err := c.Create(ctx, gc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
