package conformance

import (
	"context"
	"net"
	"testing"
	"time"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cloudgate-dev/cloudgate/localstack"
	"github.com/cloudgate-dev/cloudgate/localstack/albplane"
	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/aws"
)

func init() { clouds["aws"] = awsCloud }

// awsCloud is moto holding what the AWS provider writes, and albplane
// serving it: the suite's requests follow ALB's and NLB's documented
// semantics for the rules Cloudgate wrote, not the emulated proxy's.
func awsCloud(ctx context.Context, t *testing.T) cloudUnderTest {
	env, err := localstack.StartContext(ctx, localstack.Options{Engine: localstack.EngineMoto, Cluster: "conformance"})
	if err != nil {
		t.Fatalf("starting moto: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	cfg, err := env.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	plane, err := albplane.New(albplane.Config{AWS: cfg, PollInterval: 100 * time.Millisecond, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := plane.Start(ctx); err != nil {
		t.Fatalf("starting the ALB data plane: %v", err)
	}
	t.Cleanup(func() { _ = plane.Close() })
	// The suite's TLS, TCP and gRPC clients dial the ALB's DNS name with
	// the default resolver: answer it with the plane's address.
	saved := net.DefaultResolver
	net.DefaultResolver = testResolver(plane.LookupIP)
	t.Cleanup(func() { net.DefaultResolver = saved })
	// ACM never hands back an imported key: the plane learns the keys
	// from the provider's own import calls.
	provCfg := cfg.Copy()
	// As cmd/internal/manager configures it.
	provCfg.RetryMode = awssdk.RetryModeAdaptive
	provCfg.APIOptions = append(provCfg.APIOptions, plane.RecordImports)
	return cloudUnderTest{
		controllerName: aws.ControllerName,
		newProvider: func() (providers.Provider, error) {
			// Subnets are discovered by their role tags, as on EKS.
			return aws.New(aws.Config{AWS: provCfg, ClusterName: "conformance", VPCID: env.VPCID})
		},
		dial: plane.DialContext,
		// HTTPRoute's Core includes RequestHeaderModifier, which ALB has
		// no action for, so the class does not claim HTTPRoute; TLSRoute's
		// routes connections by SNI, which an NLB listener does not, so
		// it claims no TLSRoute feature either. The provider serves both
		// kinds all the same, termination included (an NLB TLS listener).
		coreFeatures: []features.FeatureName{features.SupportHTTPRoute, features.SupportTLSRoute, features.SupportTLSRouteModeTerminate},
		// GRPCRoute's tests speak h2c to HTTP listeners, and ALB takes
		// HTTP/2 from clients on HTTPS listeners only ("HTTP/2 is
		// supported on HTTPS listeners only", ALB listeners).
		profiles:          []string{"GATEWAY-HTTP", "GATEWAY-TLS", "GATEWAY-TCP", "GATEWAY-UDP"},
		skip:              awsSkips,
		unusableAddresses: []gwv1.GatewaySpecAddress{ipAddress(mustAddr("192.0.2.1"))},
	}
}

// awsSkips are the Core tests ALB's documented semantics rule out.
var awsSkips = map[string]string{
	"HTTPRouteRequestHeaderModifier": "an ALB rule's actions are forward, redirect, fixed-response and authenticate, and its transforms rewrite the host header and the URL only " +
		"(ELBv2 RuleAction, RuleTransform): nothing adds, sets or removes a request header; the provider refuses the filter on the route (Accepted=False, UnsupportedValue)",
	"TLSRouteHostnameIntersection": "an NLB listener has a default action and no rules (ELBv2 CreateListener: \"DefaultActions\"; CreateRule applies to Application Load Balancers), " +
		"and a TLS listener uses SNI to choose a certificate only (NLB TLS listeners, \"Server Name Indication\"): connections are not routed by server name nor refused for one; " +
		"the provider serves one TLSRoute destination per listener, refuses the listener when its routes go to different backends, and marks each TLSRoute " +
		"cloudgate.dev/ServerNameEnforced=False/NotEnforcedByProvider",
}
