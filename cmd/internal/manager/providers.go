package manager

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/aws"
	"github.com/cloudgate-dev/cloudgate/providers/emulated"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
	"github.com/cloudgate-dev/cloudgate/providers/gcp"
	"github.com/cloudgate-dev/cloudgate/reconciler"
)

// startProviders builds the enabled providers. The emulated provider talks to
// its cloud over HTTP even in-process, so that the adapter is always tested
// the way it runs against a separate emulated cloud. Both count their calls
// into reconciler's cloudgate_cloud_api_calls_total.
func startProviders(ctx context.Context, o Options) ([]providers.Provider, func(), error) {
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
			p, err := emulated.New(emulated.Config{Endpoint: endpoint, CountCall: reconciler.CountCloudCalls("emulated")})
			if err != nil {
				closeAll()
				return nil, nil, err
			}
			out = append(out, p)
		case "aws":
			// Adaptive retries slow the whole client down when AWS
			// throttles, instead of every Gateway retrying on its own.
			var cfg awssdk.Config
			if o.AWSConfig != nil {
				cfg = o.AWSConfig.Copy()
				cfg.RetryMode = awssdk.RetryModeAdaptive
				if o.AWSRegion != "" {
					cfg.Region = o.AWSRegion
				}
			} else {
				opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRetryMode(awssdk.RetryModeAdaptive)}
				if o.AWSRegion != "" {
					opts = append(opts, awsconfig.WithRegion(o.AWSRegion))
				}
				var err error
				if cfg, err = awsconfig.LoadDefaultConfig(ctx, opts...); err != nil {
					closeAll()
					return nil, nil, fmt.Errorf("loading the AWS configuration: %w", err)
				}
			}
			// Clipped: a caller's AWSConfig keeps its own options.
			cfg.APIOptions = append(slices.Clip(cfg.APIOptions), aws.CountCalls(reconciler.CountCloudCalls("aws")))
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
			p, err := gcp.New(ctx, gcp.Config{
				Project: o.GCPProject, Region: o.GCPRegion, Zone: o.GCPZone, Network: o.GCPNetwork, Subnetwork: o.GCPSubnetwork,
				Endpoint: o.GCPEndpoint, WithoutAuthentication: o.GCPWithoutAuthentication,
				CountCall: reconciler.CountCloudCalls("gcp"),
			})
			if err != nil {
				closeAll()
				return nil, nil, err
			}
			out = append(out, p)
		default:
			closeAll()
			return nil, nil, fmt.Errorf("unknown provider %q", name)
		}
	}
	return out, closeAll, nil
}
