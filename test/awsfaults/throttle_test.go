package awsfaults

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/cloudgate-dev/cloudgate/localstack"
	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/aws"
	"github.com/cloudgate-dev/cloudgate/test/harness"
)

// callCounts counts the provider's SDK calls by operation and outcome
// (after the SDK's retries), as the controller's metrics do.
type callCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *callCounts) record(op, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[op+" "+outcome]++
}

func (c *callCounts) failed() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.n {
		if !strings.HasSuffix(k, " "+aws.OutcomeSuccess) {
			out[k] = v
		}
	}
	return out
}

// startController runs the controller in this process (test/harness)
// with the AWS provider built as cmd/cloudgate builds it (adaptive
// retries), against endpoint, until the test ends.
func startController(t *testing.T, env *localstack.Env, endpoint, cluster string, calls *callCounts) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg, err := env.AWSConfigVia(ctx, endpoint)
	must(t, err)
	cfg.RetryMode = awssdk.RetryModeAdaptive
	cfg.APIOptions = append(cfg.APIOptions, aws.CountCalls(calls.record))
	ctl, err := harness.Start(ctx, suite.rest, harness.Config{ClusterName: cluster, NewProvider: func() (providers.Provider, error) {
		return aws.New(aws.Config{AWS: cfg, ClusterName: cluster, VPCID: env.VPCID, Subnets: env.PublicSubnetIDs})
	}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctl.Stop()
		cancel()
	})
}

// TestGatewaysConvergeUnderThrottlingAndServerErrors: with 20% of the
// calls answered with throttling or 5xx (a quarter of them after the call
// took effect), every Gateway is Programmed with all its routes accepted,
// the cloud holds exactly what the Gateways ask for, with no duplicate,
// and after the Gateways are deleted nothing of theirs is left.
func TestGatewaysConvergeUnderThrottlingAndServerErrors(t *testing.T) {
	const (
		gateways = 6
		rate     = 0.2
		seed     = 20261201
		cluster  = "faults-throttle"
		class    = "aws-faults-throttle"
		deadline = 90 * time.Second
	)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := localstack.Start(t, localstack.Options{Engine: localstack.EngineMoto, Cluster: cluster})
	proxy, err := localstack.StartFaultProxy(localstack.FaultConfig{Target: env.Endpoint, Rate: rate, LostAnswers: 0.25, Seed: seed})
	must(t, err)
	t.Cleanup(func() { must(t, proxy.Close()) })
	direct, err := env.AWSConfig(ctx)
	must(t, err)

	ns := namespace(t, ctx, class)
	for i, name := range []string{"svc-a", "svc-b", "svc-c"} {
		service(t, ctx, ns, name, i+1)
	}
	certSecret(t, ctx, ns)
	calls := &callCounts{n: map[string]int{}}
	startController(t, env, proxy.URL, cluster, calls)

	start := time.Now()
	for i := range gateways {
		gw := fmt.Sprintf("gw-%d", i)
		must(t, suite.c.Create(ctx, gateway(ns, gw, class, true)))
		must(t, suite.c.Create(ctx, httpRoute(ns, gw+"-ab", gw, []routeRule{{"/a", "svc-a"}, {"/b", "svc-b"}})))
		must(t, suite.c.Create(ctx, httpRoute(ns, gw+"-c", gw, []routeRule{{"/c", "svc-c"}})))
	}
	// Two listeners, each with the three route rules; three target groups;
	// one imported certificate.
	want := expectation{listeners: 2, rules: 3, groups: 3, certs: 1}
	var uids map[string]string
	took, err := eventually(deadline, func() error {
		var err error
		if uids, err = k8sConverged(ctx, ns, nil); err != nil {
			return err
		}
		if len(uids) != gateways {
			return fmt.Errorf("%d Gateways, want %d", len(uids), gateways)
		}
		return nil
	})
	if err != nil {
		logEvents(t, ctx, ns)
		t.Fatalf("the Gateways did not converge under faults: %v", err)
	}
	t.Logf("%d Gateways Programmed, all routes accepted, in %v", gateways, took.Round(time.Millisecond))
	byUID := map[string]expectation{}
	for _, uid := range uids {
		byUID[uid] = want
	}
	// The status is written after the apply that made it true: the cloud
	// must match already, not eventually.
	c, err := readCloud(ctx, direct)
	must(t, err)
	if err := c.check(cluster, byUID); err != nil {
		t.Errorf("after convergence, the cloud holds %s:\n%v", c.summary(), err)
	}
	t.Logf("cloud after convergence: %s", c.summary())

	if err := deleteGateways(ctx, ns, deadline); err != nil {
		t.Fatalf("under faults: %v", err)
	}
	t.Logf("all deleted %v after the start", time.Since(start).Round(time.Millisecond))
	c, err = readCloud(ctx, direct)
	must(t, err)
	if err := c.check(cluster, nil); err != nil {
		t.Errorf("after the Gateways' deletion, the cloud holds %s:\n%v", c.summary(), err)
	}
	counts := proxy.Counts()
	t.Logf("proxy: %d requests, %d faults injected (%d lost answers); by kind %v", localstack.Total(counts.Requests),
		localstack.Total(counts.Injected), localstack.Total(counts.Lost), counts.Kinds)
	t.Logf("injected by operation: %s", formatCounts(counts.Injected))
	t.Logf("lost answers by operation: %s", formatCounts(counts.Lost))
	t.Logf("calls that failed for the provider after the SDK's retries: %s", formatCounts(calls.failed()))
	if localstack.Total(counts.Injected) == 0 || localstack.Total(counts.Lost) == 0 {
		t.Errorf("the proxy injected %d faults, %d lost answers: the test proved nothing", localstack.Total(counts.Injected), localstack.Total(counts.Lost))
	}
}

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
