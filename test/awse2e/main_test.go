package awse2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go/middleware"
	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/localstack"
	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/aws"
	"github.com/cloudgate-dev/cloudgate/test/controlplane"
	"github.com/cloudgate-dev/cloudgate/test/harness"
)

const (
	className   = "cloudgate-aws-e2e"
	clusterName = "awse2e"
	// suiteResync is short so that a test of drift repair waits seconds.
	suiteResync = 5 * time.Second
)

// suite is what every test shares: one control plane, one moto, one
// controller. Tests isolate themselves by namespace.
var suite struct {
	c    client.Client
	moto *localstack.Env
	// elb, ec2 and acm look at moto directly, uncounted.
	elb *elbv2.Client
	ec2 *ec2.Client
	acm *acm.Client
	// calls are the provider's SDK calls.
	calls *callLog
	// ctl is the controller, and harness its configuration, for tests
	// that restart it.
	ctl     *harness.Controller
	harness harness.Config
	// ctx lives as long as the suite: a restarted controller runs in it.
	ctx context.Context
}

// callLog records every SDK operation the provider calls: by service and
// operation over the whole run (for the IAM policy check), and per
// operation since the last take (for tests that count calls).
type callLog struct {
	mu    sync.Mutex
	ever  map[string]int // "elasticloadbalancing:CreateRule"
	since map[string]int // "CreateRule"
}

func (l *callLog) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("awse2e-calls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			op := awsmiddleware.GetOperationName(ctx)
			l.mu.Lock()
			l.ever[iamPrefix[awsmiddleware.GetServiceID(ctx)]+":"+op]++
			l.since[op]++
			l.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

// take returns the calls since the last take.
func (l *callLog) take() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.since
	l.since = map[string]int{}
	return out
}

// iamPrefix maps the SDK's service ids to IAM's action prefixes.
var iamPrefix = map[string]string{
	elbv2.ServiceID: "elasticloadbalancing",
	ec2.ServiceID:   "ec2",
	acm.ServiceID:   "acm",
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	suite.ctx = ctx
	var sink logr.LogSink = discard{}
	if os.Getenv("E2E_VERBOSE") != "" {
		sink = zap.New(zap.UseDevMode(true)).GetSink()
	}
	ctrl.SetLogger(logr.New(sink))

	cp, err := controlplane.Start(ctx, controlplane.Config{Progress: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the control plane:", err)
		return 1
	}
	defer func() { _ = cp.Stop() }()

	moto, err := localstack.StartContext(ctx, localstack.Options{Engine: localstack.EngineMoto, Cluster: clusterName})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting moto:", err)
		return 1
	}
	defer func() { _ = moto.Stop() }()
	suite.moto = moto
	cfg, err := moto.AWSConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	suite.elb, suite.ec2, suite.acm = elbv2.NewFromConfig(cfg), ec2.NewFromConfig(cfg), acm.NewFromConfig(cfg)
	suite.calls = &callLog{ever: map[string]int{}, since: map[string]int{}}

	counted := cfg.Copy()
	counted.APIOptions = append(counted.APIOptions, suite.calls.middleware)
	counted.RetryMode = awssdk.RetryModeAdaptive
	newProvider := func() (providers.Provider, error) {
		// Subnets are discovered by their role tags, as on EKS.
		return aws.New(aws.Config{AWS: counted, ClusterName: clusterName, VPCID: moto.VPCID})
	}
	suite.harness = harness.Config{ClusterName: clusterName, ResyncPeriod: suiteResync, NewProvider: newProvider}
	ctl, err := harness.Start(ctx, cp.REST, suite.harness)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the controller:", err)
		return 1
	}
	defer ctl.Stop()
	suite.c, suite.ctl = ctl.Client, ctl

	gc := &gwv1.GatewayClass{}
	gc.Name = className
	gc.Spec.ControllerName = aws.ControllerName
	if err := suite.c.Create(ctx, gc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" {
		// Only a full run has called everything the policy grants.
		if err := checkPolicy(suite.calls.ever); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: deploy/aws/iam-policy.json:", err)
			return 1
		}
	}
	return code
}

// discard drops the controller's logs unless E2E_VERBOSE is set.
type discard struct{}

func (discard) Init(logr.RuntimeInfo)          {}
func (discard) Enabled(int) bool               { return false }
func (discard) Info(int, string, ...any)       {}
func (discard) Error(error, string, ...any)    {}
func (discard) WithValues(...any) logr.LogSink { return discard{} }
func (discard) WithName(string) logr.LogSink   { return discard{} }
