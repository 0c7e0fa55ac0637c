package aws

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/cloudgate-dev/cloudgate/localstack"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers/providertest"
)

// calls counts SDK calls by operation, through a middleware.
type calls struct {
	mu       sync.Mutex
	n        map[string]int
	outcomes map[string]int // by CountCalls' outcome, never reset
}

func (c *calls) option(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("cloudgate-test-count",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			c.n[awsmiddleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

// take returns the counts since the last take, and starts again.
func (c *calls) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.n
	c.n = map[string]int{}
	return out
}

func writes(n map[string]int) map[string]int {
	out := map[string]int{}
	for op, k := range n {
		if !strings.HasPrefix(op, "Describe") && !strings.HasPrefix(op, "List") {
			out[op] = k
		}
	}
	return out
}

func format(n map[string]int) string {
	var parts []string
	total := 0
	for _, op := range slices.Sorted(maps.Keys(n)) {
		parts = append(parts, fmt.Sprintf("%s=%d", op, n[op]))
		total += n[op]
	}
	return fmt.Sprintf("%d calls: %s", total, strings.Join(parts, " "))
}

// testEnv is moto with a provider whose calls are counted, and a client
// of its own (uncounted) to look at the cloud.
type testEnv struct {
	moto  *localstack.Env
	prov  *Provider
	calls *calls
	elb   *elbv2.Client
}

func start(t *testing.T) *testEnv {
	t.Helper()
	e := localstack.Start(t, localstack.Options{Engine: localstack.EngineMoto, Cluster: "cloudgate-aws-test"})
	cfg, err := e.AWSConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	te := &testEnv{moto: e, calls: &calls{n: map[string]int{}, outcomes: map[string]int{}}, elb: elbv2.NewFromConfig(cfg)}
	counted := cfg.Copy()
	counted.APIOptions = append(counted.APIOptions, te.calls.option, CountCalls(func(op, outcome string) {
		te.calls.mu.Lock()
		defer te.calls.mu.Unlock()
		te.calls.outcomes[outcome]++
	}))
	if te.prov, err = New(Config{AWS: counted, ClusterName: e.Cluster, VPCID: e.VPCID, Subnets: e.PublicSubnetIDs}); err != nil {
		t.Fatal(err)
	}
	return te
}

func (te *testEnv) tags(ctx context.Context, arns ...string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for batch := range slices.Chunk(arns, 20) {
		res, err := te.elb.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: batch})
		if err != nil {
			return nil, err
		}
		for _, d := range res.TagDescriptions {
			t := map[string]string{}
			for _, tag := range d.Tags {
				t[awssdk.ToString(tag.Key)] = awssdk.ToString(tag.Value)
			}
			out[awssdk.ToString(d.ResourceArn)] = t
		}
	}
	return out, nil
}

// Resources implements providertest.Cloud: every ALB in moto.
func (te *testEnv) Resources(ctx context.Context) ([]providertest.Resource, error) {
	res, err := te.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
	if err != nil {
		return nil, err
	}
	var arns []string
	for _, l := range res.LoadBalancers {
		arns = append(arns, awssdk.ToString(l.LoadBalancerArn))
	}
	tags, err := te.tags(ctx, arns...)
	if err != nil {
		return nil, err
	}
	var out []providertest.Resource
	for _, l := range res.LoadBalancers {
		arn := awssdk.ToString(l.LoadBalancerArn)
		r := providertest.Resource{ID: arn, Name: awssdk.ToString(l.LoadBalancerName), Tags: tags[arn],
			Addresses: []string{awssdk.ToString(l.DNSName)}}
		ls, err := te.elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: &arn})
		if err != nil {
			return nil, err
		}
		for _, x := range ls.Listeners {
			r.Ports = append(r.Ports, awssdk.ToInt32(x.Port))
		}
		slices.Sort(r.Ports)
		out = append(out, r)
	}
	return out, nil
}

// PlantForeign implements providertest.Cloud: an untagged ALB with the
// very name the provider would give owner's.
func (te *testEnv) PlantForeign(ctx context.Context, o lb.Owner) (providertest.Resource, error) {
	out, err := te.elb.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: awssdk.String(lbName(o)),
		Subnets: te.moto.PublicSubnetIDs, Type: elbtypes.LoadBalancerTypeEnumApplication})
	if err != nil {
		return providertest.Resource{}, err
	}
	l := out.LoadBalancers[0]
	return providertest.Resource{ID: awssdk.ToString(l.LoadBalancerArn), Name: awssdk.ToString(l.LoadBalancerName),
		Tags: map[string]string{}, Addresses: []string{awssdk.ToString(l.DNSName)}}, nil
}
