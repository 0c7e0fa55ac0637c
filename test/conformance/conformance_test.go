package conformance

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1alpha2 "sigs.k8s.io/gateway-api/apis/v1alpha2"
	gwv1alpha3 "sigs.k8s.io/gateway-api/apis/v1alpha3"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
	"sigs.k8s.io/gateway-api/conformance"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/utils/config"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/cloudgate-dev/cloudgate/providers/emulated"
	"github.com/cloudgate-dev/cloudgate/test/harness"
	"github.com/cloudgate-dev/cloudgate/test/localcluster"
)

const className = "cloudgate-emulated"

// TestConformance runs the official suite with the profiles in
// CONFORMANCE_PROFILES (default GATEWAY-HTTP), claiming exactly the features
// the GatewayClass's status lists. CONFORMANCE_RUN_TEST runs one test.
func TestConformance(t *testing.T) {
	// The suite's tests run in parallel after this function returns, so
	// everything they use stops in Cleanup, never in a defer.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))

	cluster, err := localcluster.Start(ctx, localcluster.Config{Progress: os.Stderr})
	if err != nil {
		t.Fatalf("starting the local cluster: %v", err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })

	addressRange := netip.MustParsePrefix(fmt.Sprintf("127.%d.0.0/16", 70+os.Getpid()%20))
	ctl, err := harness.Start(ctx, cluster.REST, harness.Config{
		ClusterName:  "conformance",
		AddressRange: addressRange,
	})
	if err != nil {
		t.Fatalf("starting the controller: %v", err)
	}
	t.Cleanup(ctl.Stop)

	c := ctl.Client
	gc := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: className}}
	gc.Spec.ControllerName = emulated.ControllerName
	if err := c.Create(ctx, gc); err != nil {
		t.Fatal(err)
	}
	claimed := waitAccepted(t, c)
	t.Logf("GatewayClass %s claims: %v", className, claimed)

	// The suite makes more clients from ClientOptions, which default to
	// client-go's global scheme: register the Gateway API types there, as the
	// suite's own DefaultOptions does.
	clientOptions := client.Options{}
	suiteClient, err := client.New(cluster.REST, clientOptions)
	if err != nil {
		t.Fatal(err)
	}
	for _, install := range []func(*runtime.Scheme) error{gwv1.Install, gwv1beta1.Install, gwv1alpha2.Install, gwv1alpha3.Install, xv1alpha1.Install, apiextensionsv1.AddToScheme} {
		if err := install(suiteClient.Scheme()); err != nil {
			t.Fatal(err)
		}
	}
	clientset, err := kubernetes.NewForConfig(cluster.REST)
	if err != nil {
		t.Fatal(err)
	}

	var profiles []suite.ConformanceProfileName
	for _, p := range strings.Split(envOr("CONFORMANCE_PROFILES", "GATEWAY-HTTP,GATEWAY-GRPC,GATEWAY-TLS,GATEWAY-TCP,GATEWAY-UDP"), ",") {
		profiles = append(profiles, suite.ConformanceProfileName(strings.TrimSpace(p)))
	}
	report := envOr("CONFORMANCE_REPORT", filepath.Join("reports", "cloudgate-emulated-report.yaml"))
	opts := suite.ConformanceOptions{
		ConfigurableOptions: suite.ConfigurableOptions{
			GatewayClassName:     className,
			ConformanceProfiles:  profiles,
			CleanupBaseResources: true,
			CleanupTestResources: true,
			RunTest:              os.Getenv("CONFORMANCE_RUN_TEST"),
			ReportOutputPath:     report,
			Implementation: confv1.Implementation{
				Organization: "cloudgate-dev",
				Project:      "cloudgate",
				URL:          "https://github.com/cloudgate-dev/cloudgate",
				Version:      "dev",
				Contact:      []string{"@cloudgate-dev/maintainers"},
			},
			TimeoutConfig: config.DefaultTimeoutConfig(),
			// GatewayStaticAddresses requests one address of each: the
			// usable one is in the emulated cloud's range, high enough
			// that the cloud's next-free allocation (from the bottom) has
			// not given it to another Gateway; the unusable one (a
			// documentation address) lies outside the range.
			UsableNetworkAddresses:   []gwv1.GatewaySpecAddress{ipAddress(highIn(addressRange))},
			UnusableNetworkAddresses: []gwv1.GatewaySpecAddress{ipAddress(netip.MustParseAddr("192.0.2.1"))},
		},
		Client:        suiteClient,
		ClientOptions: clientOptions,
		Clientset:     clientset,
		RestConfig:    cluster.REST,
		ManifestFS:    nil, // the suite's own manifests
	}
	conformance.RunConformanceWithOptions(t, opts)
}

// waitAccepted waits for the class to be Accepted at its generation and
// returns the features its status lists: the suite claims exactly those.
func waitAccepted(t *testing.T, c client.Client) []features.FeatureName {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var gc gwv1.GatewayClass
		if err := c.Get(context.Background(), client.ObjectKey{Name: className}, &gc); err == nil {
			cond := meta.FindStatusCondition(gc.Status.Conditions, string(gwv1.GatewayClassConditionStatusAccepted))
			if cond != nil && cond.Status == metav1.ConditionTrue && cond.ObservedGeneration == gc.Generation && len(gc.Status.SupportedFeatures) > 0 {
				out := make([]features.FeatureName, 0, len(gc.Status.SupportedFeatures))
				for _, f := range gc.Status.SupportedFeatures {
					out = append(out, features.FeatureName(f.Name))
				}
				return out
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GatewayClass %s was not Accepted with supported features in time", className)
	return nil
}

// highIn returns an address near the top of the IPv4 range p (a /16 or
// wider): x.y.255.200.
func highIn(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	a[2], a[3] = 255, 200
	return netip.AddrFrom4(a)
}

func ipAddress(a netip.Addr) gwv1.GatewaySpecAddress {
	t := gwv1.IPAddressType
	return gwv1.GatewaySpecAddress{Type: &t, Value: a.String()}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
