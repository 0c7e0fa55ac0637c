package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/aws"
	"github.com/cloudgate-dev/cloudgate/providers/emulated"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
	"github.com/cloudgate-dev/cloudgate/reconciler"
)

// controllerOptions are the controller's settings, shared by run and dev.
type controllerOptions struct {
	ClusterName      string
	Providers        string
	EmulatedEndpoint string
	AWSRegion        string
	AWSVPCID         string
	AWSSubnets       string
	AddressRange     string
	MetricsAddr      string
	ProbeAddr        string
	LeaderElect      bool
	ResyncPeriod     time.Duration
	Concurrency      int
}

func (o *controllerOptions) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.ClusterName, "cluster-name", "default", "name of this cluster in cloud ownership tags; must be unique per cloud account")
	fs.StringVar(&o.Providers, "providers", "emulated", "comma-separated providers to enable (emulated, aws)")
	fs.StringVar(&o.EmulatedEndpoint, "emulated-endpoint", "", "URL of a running emulated cloud API; empty starts one in this process")
	fs.StringVar(&o.AddressRange, "emulated-address-range", "127.100.0.0/16", "address range of the in-process emulated cloud")
	fs.StringVar(&o.AWSRegion, "aws-region", "", "AWS region of the aws provider; empty takes the SDK's default chain (AWS_REGION, shared config); the endpoint comes from AWS_ENDPOINT_URL")
	fs.StringVar(&o.AWSVPCID, "aws-vpc-id", "", "VPC of the aws provider's target groups; empty takes the subnets' VPC")
	fs.StringVar(&o.AWSSubnets, "aws-subnets", "", "comma-separated subnets of internet-facing ALBs; empty discovers them by the tag kubernetes.io/role/elb=1")
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "metrics endpoint address; 0 disables it")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "health probe address; 0 disables it")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false, "elect a leader so that only one replica reconciles")
	fs.DurationVar(&o.ResyncPeriod, "resync-period", 0, "how often each Gateway's cloud resources are read again to repair drift, jittered by ±25%; 0 means each provider's default (emulated: 10m; aws: 10m up to 92 Gateways, then 6.5s per Gateway, keeping resyncs at 2 ELBv2 Describe calls per second)")
	fs.IntVar(&o.Concurrency, "concurrency", reconciler.DefaultConcurrency, "how many Gateways reconcile at once")
}

func runCommand(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var o controllerOptions
	o.bind(fs)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return err
	}
	return runController(ctx, cfg, o, nil)
}

// runController runs the manager until ctx is done. ready, if not nil, is
// closed once the controllers are started.
func runController(ctx context.Context, cfg *rest.Config, o controllerOptions, ready chan<- struct{}) error {
	scheme, err := reconciler.NewScheme()
	if err != nil {
		return err
	}
	provs, closeProviders, err := startProviders(ctx, o)
	if err != nil {
		return err
	}
	defer closeProviders()

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress: o.ProbeAddr,
		LeaderElection:         o.LeaderElect,
		LeaderElectionID:       "cloudgate.dev",
	})
	if err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	if err := reconciler.Setup(ctx, mgr, reconciler.Config{ClusterName: o.ClusterName, Providers: provs,
		ResyncPeriod: o.ResyncPeriod, Concurrency: o.Concurrency}); err != nil {
		return err
	}
	if ready != nil {
		go func() {
			if mgr.GetCache().WaitForCacheSync(ctx) {
				close(ready)
			}
		}()
	}
	return mgr.Start(ctx)
}

// cloudAPICalls counts the cloud API calls of the providers that report
// them, by operation and outcome (success, throttled, invalid, error).
var cloudAPICalls = func() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cloudgate_cloud_api_calls_total",
		Help: "Cloud API calls by provider, operation and outcome.",
	}, []string{"provider", "operation", "outcome"})
	metrics.Registry.MustRegister(c)
	return c
}()

// startProviders builds the enabled providers. The emulated provider talks to
// its cloud over HTTP even in-process, so that the adapter is always tested
// the way it runs against a separate emulated cloud.
func startProviders(ctx context.Context, o controllerOptions) ([]providers.Provider, func(), error) {
	var out []providers.Provider
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	for _, name := range strings.Split(o.Providers, ",") {
		switch strings.TrimSpace(name) {
		case "emulated":
			endpoint := o.EmulatedEndpoint
			if endpoint == "" {
				prefix, err := netip.ParsePrefix(o.AddressRange)
				if err != nil {
					closeAll()
					return nil, nil, fmt.Errorf("--emulated-address-range: %w", err)
				}
				srv, err := cloud.Start(ctx, cloud.Config{AddressRange: prefix}, "127.0.0.1:0")
				if err != nil {
					closeAll()
					return nil, nil, fmt.Errorf("starting the in-process emulated cloud: %w", err)
				}
				closers = append(closers, func() { _ = srv.Close() })
				endpoint = srv.URL()
			}
			p, err := emulated.New(emulated.Config{Endpoint: endpoint})
			if err != nil {
				closeAll()
				return nil, nil, err
			}
			out = append(out, p)
		case "aws":
			// Adaptive retries slow the whole client down when AWS
			// throttles, instead of every Gateway retrying on its own.
			opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRetryMode(awssdk.RetryModeAdaptive)}
			if o.AWSRegion != "" {
				opts = append(opts, awsconfig.WithRegion(o.AWSRegion))
			}
			cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("loading the AWS configuration: %w", err)
			}
			cfg.APIOptions = append(cfg.APIOptions, aws.CountCalls(func(op, outcome string) {
				cloudAPICalls.WithLabelValues("aws", op, outcome).Inc()
			}))
			var subnets []string
			for _, s := range strings.Split(o.AWSSubnets, ",") {
				if s = strings.TrimSpace(s); s != "" {
					subnets = append(subnets, s)
				}
			}
			p, err := aws.New(aws.Config{AWS: cfg, ClusterName: o.ClusterName, VPCID: o.AWSVPCID, Subnets: subnets})
			if err != nil {
				closeAll()
				return nil, nil, err
			}
			out = append(out, p)
		case "gcp":
			closeAll()
			return nil, nil, fmt.Errorf("provider %q is not implemented yet", name)
		default:
			closeAll()
			return nil, nil, fmt.Errorf("unknown provider %q", name)
		}
	}
	return out, closeAll, nil
}
