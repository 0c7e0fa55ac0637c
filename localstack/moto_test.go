package localstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
	"math/big"
)

// The tests of the moto extensions share one moto server; each builds its
// own load balancer in it.
var shared struct {
	once sync.Once
	env  *Env
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.env != nil {
		if err := shared.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// motoEnv returns the shared moto server, failing (never skipping) the test
// when moto cannot start.
func motoEnv(t *testing.T) *Env {
	t.Helper()
	shared.once.Do(func() {
		start := time.Now()
		shared.env, shared.err = StartContext(context.Background(), Options{Engine: EngineMoto})
		if shared.err == nil {
			fmt.Fprintf(os.Stderr, "moto with bootstrap started in %v\n", time.Since(start).Round(time.Millisecond))
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.env
}

func clients(t *testing.T, e *Env) (*ec2.Client, *elbv2.Client) {
	t.Helper()
	cfg, err := e.AWSConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ec2.NewFromConfig(cfg), elbv2.NewFromConfig(cfg)
}

func TestStartStop(t *testing.T) {
	var (
		e        *Env
		pid      int
		endpoint string
	)
	t.Run("start", func(t *testing.T) {
		begin := time.Now()
		e = Start(t, Options{Cluster: "startstop"})
		t.Logf("%s with bootstrap started in %v", e.Engine, time.Since(begin).Round(time.Millisecond))
		if e.Engine != EngineMoto && e.Engine != EngineLocalStack {
			t.Fatalf("engine %q", e.Engine)
		}
		endpoint = e.Endpoint
		if !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
			t.Errorf("endpoint %q", endpoint)
		}
		for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
			"CLOUDGATE_AWS_VPC_ID", "CLOUDGATE_AWS_PUBLIC_SUBNET_IDS", "CLOUDGATE_AWS_PRIVATE_SUBNET_IDS"} {
			if e.Vars[k] == "" {
				t.Errorf("start.sh printed no %s", k)
			}
		}
		if e.Cluster != "startstop" || e.Region != "us-east-1" {
			t.Errorf("cluster %q region %q", e.Cluster, e.Region)
		}
		if e.Engine == EngineMoto {
			for _, x := range []string{ExtRuleTransforms, ExtConditionRegexValues, ExtQuotaRulesPerALB, ExtQuotaConditionValues, ExtRuleTagsOnCreate, ExtACMReimportKeepsTags,
				ExtAttributeDefaults, ExtDeletionProtection, ExtSecurityGroupInUse} {
				if !e.HasExtension(x) {
					t.Errorf("moto runs without %s (extensions %v)", x, e.Extensions)
				}
			}
			b, err := os.ReadFile(filepath.Join(e.stateDir, "pid"))
			if err != nil {
				t.Fatal(err)
			}
			if pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
				t.Fatal(err)
			}
		}
		// The sub-test's cleanup stops the environment.
	})
	if e == nil {
		return
	}
	if _, err := os.Stat(e.stateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir %s left behind: %v", e.stateDir, err)
	}
	if pid != 0 && running(pid) {
		t.Errorf("moto (pid %d) still runs after Stop", pid)
	}
	u, _ := url.Parse(endpoint)
	if conn, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		conn.Close()
		// Other packages' tests start moto servers on ephemeral ports at
		// the same time, so a freed port can be taken again at once: only
		// our own process still listening is a failure.
		if owner := listener(u.Port()); owner == 0 || owner == pid {
			t.Errorf("%s still answers after Stop (listening pid %d, ours %d)", endpoint, owner, pid)
		} else {
			t.Logf("%s was taken again by pid %d after Stop", endpoint, owner)
		}
	}
	if err := e.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// running reports whether pid is a live (not zombie) process.
func running(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) S ...
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func TestBootstrapNetwork(t *testing.T) {
	e := motoEnv(t)
	ctx := context.Background()
	ec2c, _ := clients(t, e)

	clusterTag := "tag:kubernetes.io/cluster/" + e.Cluster
	vpcs, err := ec2c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{
		{Name: aws.String(clusterTag), Values: []string{"shared"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(vpcs.Vpcs) != 1 || aws.ToString(vpcs.Vpcs[0].VpcId) != e.VPCID {
		t.Fatalf("VPCs tagged %s=shared: %+v, want %s", clusterTag, vpcs.Vpcs, e.VPCID)
	}

	for _, c := range []struct {
		role string
		want []string
	}{
		{"kubernetes.io/role/elb", e.PublicSubnetIDs},
		{"kubernetes.io/role/internal-elb", e.PrivateSubnetIDs},
	} {
		out, err := ec2c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
			{Name: aws.String("vpc-id"), Values: []string{e.VPCID}},
			{Name: aws.String("tag:" + c.role), Values: []string{"1"}},
			{Name: aws.String(clusterTag), Values: []string{"shared"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		var ids, zones []string
		for _, s := range out.Subnets {
			ids = append(ids, aws.ToString(s.SubnetId))
			zones = append(zones, aws.ToString(s.AvailabilityZone))
		}
		slices.Sort(ids)
		slices.Sort(zones)
		want := slices.Sorted(slices.Values(c.want))
		if !slices.Equal(ids, want) {
			t.Errorf("subnets tagged %s=1: %v, want %v", c.role, ids, want)
		}
		if len(zones) != 2 || zones[0] == zones[1] || !slices.Equal(zones, slices.Sorted(slices.Values(e.Zones))) {
			t.Errorf("subnets tagged %s=1 are in zones %v, want one in each of %v", c.role, zones, e.Zones)
		}
	}

	// The other role's tag is on no subnet of the other kind.
	out, err := ec2c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{e.VPCID}},
		{Name: aws.String("tag:kubernetes.io/role/elb"), Values: []string{"1"}},
		{Name: aws.String("tag:kubernetes.io/role/internal-elb"), Values: []string{"1"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Subnets) != 0 {
		t.Errorf("%d subnets carry both role tags", len(out.Subnets))
	}
}

// alb creates an internet-facing ALB with one HTTP listener in the
// bootstrapped public subnets and returns its ARN and the listener's.
func alb(t *testing.T, e *Env, c *elbv2.Client, name string, ports ...int32) (string, []string) {
	t.Helper()
	ctx := context.Background()
	lb, err := c.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{
		Name:    aws.String(name),
		Subnets: e.PublicSubnetIDs,
		Type:    types.LoadBalancerTypeEnumApplication,
		Scheme:  types.LoadBalancerSchemeEnumInternetFacing,
	})
	if err != nil {
		t.Fatal(err)
	}
	lbARN := aws.ToString(lb.LoadBalancers[0].LoadBalancerArn)
	if len(ports) == 0 {
		ports = []int32{80}
	}
	var listeners []string
	for _, p := range ports {
		l, err := c.CreateListener(ctx, &elbv2.CreateListenerInput{
			LoadBalancerArn: aws.String(lbARN),
			Protocol:        types.ProtocolEnumHttp,
			Port:            aws.Int32(p),
			DefaultActions:  []types.Action{fixed("404")},
		})
		if err != nil {
			t.Fatal(err)
		}
		listeners = append(listeners, aws.ToString(l.Listeners[0].ListenerArn))
	}
	return lbARN, listeners
}

func fixed(code string) types.Action {
	return types.Action{
		Type: types.ActionTypeEnumFixedResponse,
		FixedResponseConfig: &types.FixedResponseActionConfig{
			StatusCode:  aws.String(code),
			ContentType: aws.String("text/plain"),
		},
	}
}

func pathRule(path string) []types.RuleCondition {
	return []types.RuleCondition{{
		Field:             aws.String("path-pattern"),
		PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{path}},
	}}
}

func describeRule(t *testing.T, c *elbv2.Client, arn string) types.Rule {
	t.Helper()
	out, err := c.DescribeRules(context.Background(), &elbv2.DescribeRulesInput{RuleArns: []string{arn}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Rules) != 1 {
		t.Fatalf("DescribeRules %s: %d rules", arn, len(out.Rules))
	}
	return out.Rules[0]
}

// apiCode returns the AWS error code of err, or fails the test when err is
// not an API error.
func apiCode(t *testing.T, err error) string {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("want an AWS API error, got %v", err)
	}
	return apiErr.ErrorCode()
}

func TestRuleTransformsRoundTrip(t *testing.T) {
	e := motoEnv(t)
	ctx := context.Background()
	_, c := clients(t, e)
	_, listeners := alb(t, e, c, "transforms")

	transforms := []types.RuleTransform{
		{
			Type: types.TransformTypeEnumHostHeaderRewrite,
			HostHeaderRewriteConfig: &types.HostHeaderRewriteConfig{Rewrites: []types.RewriteConfig{
				{Regex: aws.String("^(.+)\\.example\\.com$"), Replace: aws.String("$1.internal")},
			}},
		},
		{
			Type: types.TransformTypeEnumUrlRewrite,
			UrlRewriteConfig: &types.UrlRewriteConfig{Rewrites: []types.RewriteConfig{
				{Regex: aws.String("^/api/(.*)$"), Replace: aws.String("/$1")},
			}},
		},
	}
	created, err := c.CreateRule(ctx, &elbv2.CreateRuleInput{
		ListenerArn: aws.String(listeners[0]),
		Priority:    aws.Int32(1),
		Conditions:  pathRule("/api/*"),
		Actions:     []types.Action{fixed("200")},
		Transforms:  transforms,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkTransforms(t, "CreateRule", created.Rules[0].Transforms, transforms)
	arn := aws.ToString(created.Rules[0].RuleArn)
	checkTransforms(t, "DescribeRules", describeRule(t, c, arn).Transforms, transforms)

	// ModifyRule without transforms keeps them.
	if _, err := c.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: aws.String(arn), Actions: []types.Action{fixed("201")}}); err != nil {
		t.Fatal(err)
	}
	checkTransforms(t, "DescribeRules after ModifyRule(Actions)", describeRule(t, c, arn).Transforms, transforms)

	// ModifyRule with transforms replaces them.
	one := transforms[1:]
	modified, err := c.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: aws.String(arn), Transforms: one})
	if err != nil {
		t.Fatal(err)
	}
	checkTransforms(t, "ModifyRule(Transforms)", modified.Rules[0].Transforms, one)
	checkTransforms(t, "DescribeRules after ModifyRule(Transforms)", describeRule(t, c, arn).Transforms, one)

	// ResetTransforms removes them.
	if _, err := c.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: aws.String(arn), ResetTransforms: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	checkTransforms(t, "DescribeRules after ResetTransforms", describeRule(t, c, arn).Transforms, nil)

	// Documented: one transform of each type per rule.
	_, err = c.CreateRule(ctx, &elbv2.CreateRuleInput{
		ListenerArn: aws.String(listeners[0]),
		Priority:    aws.Int32(2),
		Conditions:  pathRule("/twice/*"),
		Actions:     []types.Action{fixed("200")},
		Transforms:  []types.RuleTransform{transforms[1], transforms[1]},
	})
	if err == nil {
		t.Fatal("a rule with two url-rewrite transforms was accepted")
	}
	if code := apiCode(t, err); code != "ValidationError" {
		t.Errorf("two url-rewrite transforms: code %q, want ValidationError", code)
	}
}

func checkTransforms(t *testing.T, what string, got, want []types.RuleTransform) {
	t.Helper()
	str := func(ts []types.RuleTransform) string {
		var b strings.Builder
		for _, x := range ts {
			fmt.Fprintf(&b, "%s:", x.Type)
			var rs []types.RewriteConfig
			if x.HostHeaderRewriteConfig != nil {
				rs = append(rs, x.HostHeaderRewriteConfig.Rewrites...)
			}
			if x.UrlRewriteConfig != nil {
				rs = append(rs, x.UrlRewriteConfig.Rewrites...)
			}
			for _, r := range rs {
				fmt.Fprintf(&b, "%s=>%s;", aws.ToString(r.Regex), aws.ToString(r.Replace))
			}
			b.WriteString(" ")
		}
		return b.String()
	}
	if g, w := str(got), str(want); g != w {
		t.Errorf("%s: transforms %q, want %q", what, g, w)
	}
}

func TestRegexValuesRoundTrip(t *testing.T) {
	e := motoEnv(t)
	ctx := context.Background()
	_, c := clients(t, e)
	_, listeners := alb(t, e, c, "regex")

	conditions := []types.RuleCondition{
		{
			Field:             aws.String("path-pattern"),
			PathPatternConfig: &types.PathPatternConditionConfig{RegexValues: []string{"^/v[0-9]+/items/[a-z]+$"}},
		},
		{
			Field:            aws.String("host-header"),
			HostHeaderConfig: &types.HostHeaderConditionConfig{RegexValues: []string{"^[a-z]+\\.example\\.com$"}},
		},
		{
			Field: aws.String("http-header"),
			HttpHeaderConfig: &types.HttpHeaderConditionConfig{
				HttpHeaderName: aws.String("X-Version"),
				RegexValues:    []string{"^2\\.[0-9]+$"},
			},
		},
	}
	created, err := c.CreateRule(ctx, &elbv2.CreateRuleInput{
		ListenerArn: aws.String(listeners[0]),
		Priority:    aws.Int32(1),
		Conditions:  conditions,
		Actions:     []types.Action{fixed("200")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for what, got := range map[string][]types.RuleCondition{
		"CreateRule":    created.Rules[0].Conditions,
		"DescribeRules": describeRule(t, c, aws.ToString(created.Rules[0].RuleArn)).Conditions,
	} {
		if g, w := regexes(got), regexes(conditions); !slices.Equal(g, w) {
			t.Errorf("%s: regex values %q, want %q", what, g, w)
		}
	}

	// A regex longer than 128 characters is refused, as the API documents.
	_, err = c.CreateRule(ctx, &elbv2.CreateRuleInput{
		ListenerArn: aws.String(listeners[0]),
		Priority:    aws.Int32(2),
		Conditions: []types.RuleCondition{{
			Field:             aws.String("path-pattern"),
			PathPatternConfig: &types.PathPatternConditionConfig{RegexValues: []string{"^/" + strings.Repeat("a", 128) + "$"}},
		}},
		Actions: []types.Action{fixed("200")},
	})
	if err == nil {
		t.Fatal("a 131-character regex was accepted")
	}
	if code := apiCode(t, err); code != "ValidationError" {
		t.Errorf("long regex: code %q, want ValidationError", code)
	}
}

func regexes(cs []types.RuleCondition) []string {
	var out []string
	for _, c := range cs {
		field := aws.ToString(c.Field)
		switch {
		case c.PathPatternConfig != nil:
			for _, r := range c.PathPatternConfig.RegexValues {
				out = append(out, field+" "+r)
			}
		case c.HostHeaderConfig != nil:
			for _, r := range c.HostHeaderConfig.RegexValues {
				out = append(out, field+" "+r)
			}
		case c.HttpHeaderConfig != nil:
			for _, r := range c.HttpHeaderConfig.RegexValues {
				out = append(out, field+" "+aws.ToString(c.HttpHeaderConfig.HttpHeaderName)+" "+r)
			}
		}
	}
	slices.Sort(out)
	return out
}

// The quota "rules per Application Load Balancer (excluding default rules)"
// is 100 and counts the rules of all the load balancer's listeners.
func TestRulesQuota(t *testing.T) {
	e := motoEnv(t)
	ctx := context.Background()
	_, c := clients(t, e)
	_, listeners := alb(t, e, c, "quota-rules", 80, 8080)

	create := func(listener string, i int) error {
		_, err := c.CreateRule(ctx, &elbv2.CreateRuleInput{
			ListenerArn: aws.String(listener),
			Priority:    aws.Int32(int32(i)),
			Conditions:  pathRule(fmt.Sprintf("/r%d", i)),
			Actions:     []types.Action{fixed("200")},
		})
		return err
	}
	for i := 1; i <= 100; i++ {
		if err := create(listeners[0], i); err != nil {
			t.Fatalf("rule %d: %v", i, err)
		}
	}
	for _, l := range listeners {
		err := create(l, 101)
		if err == nil {
			t.Fatalf("the 101st rule of the load balancer was accepted (listener %s)", l)
		}
		var tooMany *types.TooManyRulesException
		if !errors.As(err, &tooMany) {
			t.Errorf("101st rule: %v, want TooManyRules", err)
		}
		if code := apiCode(t, err); code != "TooManyRules" {
			t.Errorf("101st rule: code %q, want TooManyRules", code)
		}
	}
	rules, err := c.DescribeRules(ctx, &elbv2.DescribeRulesInput{ListenerArn: aws.String(listeners[0]), PageSize: aws.Int32(400)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules.Rules) != 101 { // 100 and the default
		t.Errorf("listener has %d rules, want 101 (100 and the default)", len(rules.Rules))
	}

	// Deleting one makes room again.
	i := slices.IndexFunc(rules.Rules, func(r types.Rule) bool { return !aws.ToBool(r.IsDefault) })
	if _, err := c.DeleteRule(ctx, &elbv2.DeleteRuleInput{RuleArn: rules.Rules[i].RuleArn}); err != nil {
		t.Fatal(err)
	}
	if err := create(listeners[1], 101); err != nil {
		t.Errorf("after a delete, the 100th rule: %v", err)
	}

	limits, err := c.DescribeAccountLimits(ctx, &elbv2.DescribeAccountLimitsInput{})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, l := range limits.Limits {
		found[aws.ToString(l.Name)] = aws.ToString(l.Max)
	}
	if found["rules-per-application-load-balancer"] != "100" || found["condition-values-per-alb-rule"] != "5" {
		t.Errorf("DescribeAccountLimits: %v", found)
	}
}

// The quota "condition values per rule" is 5, across all conditions of a
// rule; AWS answers ValidationError ("A rule can only have '5' condition
// values").
func TestConditionValuesQuota(t *testing.T) {
	e := motoEnv(t)
	ctx := context.Background()
	_, c := clients(t, e)
	_, listeners := alb(t, e, c, "quota-values")

	conditions := func(hosts, paths, regexes int) []types.RuleCondition {
		var cs []types.RuleCondition
		if hosts > 0 {
			h := &types.HostHeaderConditionConfig{}
			for i := range hosts {
				h.Values = append(h.Values, fmt.Sprintf("h%d.example.com", i))
			}
			cs = append(cs, types.RuleCondition{Field: aws.String("host-header"), HostHeaderConfig: h})
		}
		if paths > 0 || regexes > 0 {
			p := &types.PathPatternConditionConfig{}
			for i := range paths {
				p.Values = append(p.Values, fmt.Sprintf("/p%d/*", i))
			}
			for i := range regexes {
				p.RegexValues = append(p.RegexValues, fmt.Sprintf("^/r%d/.*$", i))
			}
			cs = append(cs, types.RuleCondition{Field: aws.String("path-pattern"), PathPatternConfig: p})
		}
		return cs
	}
	create := func(priority int32, cs []types.RuleCondition) (*elbv2.CreateRuleOutput, error) {
		return c.CreateRule(ctx, &elbv2.CreateRuleInput{
			ListenerArn: aws.String(listeners[0]),
			Priority:    aws.Int32(priority),
			Conditions:  cs,
			Actions:     []types.Action{fixed("200")},
		})
	}

	five, err := create(1, conditions(2, 3, 0))
	if err != nil {
		t.Fatalf("a rule with 5 condition values: %v", err)
	}
	for i, cs := range map[int32][]types.RuleCondition{
		2: conditions(3, 3, 0), // 6 values over two conditions
		3: conditions(0, 6, 0), // 6 values in one condition
		4: conditions(2, 2, 2), // regex values count too
	} {
		_, err := create(i, cs)
		if err == nil {
			t.Errorf("priority %d: a rule with 6 condition values was accepted", i)
			continue
		}
		if code := apiCode(t, err); code != "ValidationError" {
			t.Errorf("priority %d: code %q, want ValidationError", i, code)
		}
	}

	// ModifyRule is held to the same quota.
	_, err = c.ModifyRule(ctx, &elbv2.ModifyRuleInput{
		RuleArn:    five.Rules[0].RuleArn,
		Conditions: conditions(3, 3, 0),
	})
	if err == nil {
		t.Fatal("ModifyRule to 6 condition values was accepted")
	}
	if code := apiCode(t, err); code != "ValidationError" {
		t.Errorf("ModifyRule: code %q, want ValidationError", code)
	}
}

// Without moto_server (and with pip not allowed to fetch it), Start fails
// and says how to install it.
func TestMissingMotoServerFails(t *testing.T) {
	var path []string
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(dir, "moto_server")); err == nil {
			continue
		}
		path = append(path, dir)
	}
	t.Setenv("PATH", strings.Join(path, string(filepath.ListSeparator)))
	if _, err := exec.LookPath("moto_server"); err == nil {
		t.Fatal("moto_server still on PATH")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatalf("bash is not on PATH without moto_server's directories: %v", err)
	}
	t.Setenv("CLOUDGATE_MOTO_PIP_INSTALL", "0")

	e, err := StartContext(context.Background(), Options{Engine: EngineMoto})
	if err == nil {
		e.Stop()
		t.Fatal("started without moto_server")
	}
	for _, want := range []string{"moto_server was not found on PATH", "pip install 'moto[server]'"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

// A test binary that dies without its cleanups takes its moto with it.
func TestServerWatchesParent(t *testing.T) {
	if os.Getenv("CLOUDGATE_TEST_WATCH_CHILD") == "1" {
		e, err := StartContext(context.Background(), Options{Engine: EngineMoto})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		b, _ := os.ReadFile(filepath.Join(e.stateDir, "pid"))
		fmt.Printf("pid=%s\nstate=%s\n", strings.TrimSpace(string(b)), e.stateDir)
		os.Stdout.Sync()
		os.Exit(0) // no Stop
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^TestServerWatchesParent$")
	cmd.Env = append(os.Environ(), "CLOUDGATE_TEST_WATCH_CHILD=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var pid int
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "pid="); ok {
			pid, _ = strconv.Atoi(v)
		}
		if v, ok := strings.CutPrefix(line, "state="); ok && strings.Contains(v, "cloudgate-aws-") {
			t.Cleanup(func() { os.RemoveAll(v) })
		}
	}
	if pid == 0 {
		t.Fatalf("child printed no pid:\n%s", out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for running(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("moto (pid %d) outlived the test binary that started it", pid)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// listener returns the pid listening on TCP port on this host, 0 if unknown.
func listener(port string) int {
	out, err := exec.Command("ss", "-Htlnp", "sport = :"+port).Output()
	if err != nil {
		return 0
	}
	_, rest, ok := strings.Cut(string(out), "pid=")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(strings.FieldsFunc(rest, func(r rune) bool { return r < '0' || r > '9' })[0])
	return n
}

func TestRuleTagsOnCreate(t *testing.T) {
	e := motoEnv(t)
	ctx := context.Background()
	_, c := clients(t, e)
	_, listeners := alb(t, e, c, "ruletags")
	created, err := c.CreateRule(ctx, &elbv2.CreateRuleInput{
		ListenerArn: aws.String(listeners[0]),
		Priority:    aws.Int32(1),
		Conditions:  pathRule("/tagged"),
		Actions:     []types.Action{fixed("200")},
		Tags:        []types.Tag{{Key: aws.String("owner"), Value: aws.String("test")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.Rules[0].RuleArn)
	out, err := c.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{arn}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.TagDescriptions) != 1 || len(out.TagDescriptions[0].Tags) != 1 || aws.ToString(out.TagDescriptions[0].Tags[0].Value) != "test" {
		t.Fatalf("DescribeTags of the created rule %s: %+v, want owner=test", arn, out.TagDescriptions)
	}
}

func TestACMReimportKeepsTags(t *testing.T) {
	e := motoEnv(t)
	ctx := context.Background()
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := acm.NewFromConfig(cfg)
	certPEM, keyPEM := selfSigned(t)
	imported, err := c.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: certPEM, PrivateKey: keyPEM,
		Tags: []acmtypes.Tag{{Key: aws.String("owner"), Value: aws.String("test")}}})
	if err != nil {
		t.Fatal(err)
	}
	arn := imported.CertificateArn
	again, _ := selfSigned(t)
	_, err = c.ImportCertificate(ctx, &acm.ImportCertificateInput{CertificateArn: arn, Certificate: again, PrivateKey: keyPEM,
		Tags: []acmtypes.Tag{{Key: aws.String("other"), Value: aws.String("x")}}})
	if code := apiCode(t, err); code != "ValidationException" {
		t.Errorf("a re-import with tags: %s, want ValidationException", code)
	}
	if _, err := c.ImportCertificate(ctx, &acm.ImportCertificateInput{CertificateArn: arn, Certificate: certPEM, PrivateKey: keyPEM}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTagsForCertificate(ctx, &acm.ListTagsForCertificateInput{CertificateArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "test" {
		t.Errorf("tags after a re-import: %+v, want owner=test kept", tags.Tags)
	}
}

// selfSigned returns a new certificate and key, PEM-encoded.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "moto.test"},
		DNSNames: []string{"moto.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}
