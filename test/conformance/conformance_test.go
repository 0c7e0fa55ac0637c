package conformance

import (
	"context"
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
	"k8s.io/apimachinery/pkg/util/sets"
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
	"sigs.k8s.io/gateway-api/conformance/utils/roundtripper"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/cloudgate-dev/cloudgate/test/harness"
	"github.com/cloudgate-dev/cloudgate/test/localcluster"
)

// TestConformance runs the official suite against each cloud in
// CONFORMANCE_PROVIDERS (default: defaultClouds; names from clouds), with the profiles in
// CONFORMANCE_PROFILES (default: all five), claiming exactly the features
// each GatewayClass's status lists. CONFORMANCE_RUN_TEST runs one test.
// Each cloud gets a local cluster of its own, one after another: the suite
// creates the same namespaces every time.
func TestConformance(t *testing.T) {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	for _, name := range strings.Split(envOr("CONFORMANCE_PROVIDERS", defaultClouds), ",") {
		name = strings.TrimSpace(name)
		setup, ok := clouds[name]
		if !ok {
			t.Fatalf("CONFORMANCE_PROVIDERS: no cloud %q (have %v)", name, cloudNames())
		}
		t.Run(name, func(t *testing.T) { runSuite(t, name, setup) })
	}
}

func runSuite(t *testing.T, name string, setup cloudSetup) {
	// The suite's tests run in parallel after this function returns, so
	// everything they use stops in Cleanup, never in a defer.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	cluster, err := localcluster.Start(ctx, localcluster.Config{Progress: os.Stderr})
	if err != nil {
		t.Fatalf("starting the local cluster: %v", err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })

	cut := setup(ctx, t)
	ctl, err := harness.Start(ctx, cluster.REST, harness.Config{
		ClusterName:  "conformance",
		AddressRange: cut.addressRange,
		NewProvider:  cut.newProvider,
	})
	if err != nil {
		t.Fatalf("starting the controller: %v", err)
	}
	t.Cleanup(ctl.Stop)

	className := "cloudgate-" + name
	c := ctl.Client
	gc := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: className}}
	gc.Spec.ControllerName = gwv1.GatewayController(cut.controllerName)
	if err := c.Create(ctx, gc); err != nil {
		t.Fatal(err)
	}
	claimed := waitAccepted(t, c, className)
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
	defaultProfiles := "GATEWAY-HTTP,GATEWAY-GRPC,GATEWAY-TLS,GATEWAY-TCP,GATEWAY-UDP"
	if len(cut.profiles) > 0 {
		defaultProfiles = strings.Join(cut.profiles, ",")
	}
	for _, p := range strings.Split(envOr("CONFORMANCE_PROFILES", defaultProfiles), ",") {
		profiles = append(profiles, suite.ConformanceProfileName(strings.TrimSpace(p)))
	}
	report := filepath.Join("reports", className+"-report.yaml")
	if dir := os.Getenv("CONFORMANCE_REPORT_DIR"); dir != "" {
		report = filepath.Join(dir, className+"-report.yaml")
	}
	if err := os.MkdirAll(filepath.Dir(report), 0o755); err != nil {
		t.Fatal(err)
	}
	timeouts := config.DefaultTimeoutConfig()
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
			TimeoutConfig:            timeouts,
			UsableNetworkAddresses:   cut.usableAddresses,
			UnusableNetworkAddresses: cut.unusableAddresses,
		},
		Client:        suiteClient,
		ClientOptions: clientOptions,
		Clientset:     clientset,
		RestConfig:    cluster.REST,
		ManifestFS:    nil, // the suite's own manifests
	}
	if len(cut.coreFeatures) > 0 {
		opts.SupportedFeatures = sets.List(sets.New(claimed...).Insert(cut.coreFeatures...))
		t.Logf("running %v too (not claimed by %s)", cut.coreFeatures, className)
	}
	if len(cut.skip) > 0 {
		opts.SkipTests = make([]string, 0, len(cut.skip))
		for name, why := range cut.skip {
			opts.SkipTests = append(opts.SkipTests, name)
			t.Logf("skipping %s: %s", name, why)
		}
	}
	if cut.dial != nil {
		// The cloud's addresses (an ALB's DNS name, a forwarding rule's
		// IP) are served by a test data plane on loopback: the suite's
		// requests reach it through this dialer, and the controller never
		// knows.
		opts.RoundTripper = &roundtripper.DefaultRoundTripper{TimeoutConfig: timeouts, CustomDialContext: cut.dial}
	}
	conformance.RunConformanceWithOptions(t, opts)
}

// waitAccepted waits for the class to be Accepted at its generation and
// returns the features its status lists: the suite claims exactly those.
func waitAccepted(t *testing.T, c client.Client, className string) []features.FeatureName {
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
