package aws

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

var gatewayOwner = lb.Owner{Cluster: "cloudgate-aws-test", Namespace: "shop", Name: "web", UID: "0b7c9d2e-uid"}

func fwd(weights ...any) lb.Action {
	var a lb.Action
	for i := 0; i < len(weights); i += 2 {
		a.Forward = append(a.Forward, lb.WeightedBackend{TargetGroup: weights[i].(string), Weight: int32(weights[i+1].(int))})
	}
	return a
}

// gatewayModel is a Gateway as mapping would build it: two listeners,
// several rules, three target groups.
func gatewayModel() *lb.LoadBalancer {
	return &lb.LoadBalancer{
		Owner: gatewayOwner,
		Tags:  map[string]string{"team": "shop"},
		TargetGroups: []lb.TargetGroup{
			{Name: "shop/api:8080", Protocol: lb.ProtocolHTTP, Targets: []lb.Target{{IP: "10.0.1.11", Port: 8080}, {IP: "10.0.1.12", Port: 8080}}},
			{Name: "shop/canary:8080", Protocol: lb.ProtocolHTTP, Targets: []lb.Target{{IP: "10.0.1.21", Port: 8080}}},
			{Name: "shop/web:80", Protocol: lb.ProtocolHTTP, Targets: []lb.Target{{IP: "10.0.1.31", Port: 80}}},
		},
		Listeners: []lb.Listener{
			{Name: "http-80", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{
				{Hostname: "shop.example.com", Rules: []lb.Rule{
					{Name: "shop/api/rule-0/match-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/api"}},
						Action: fwd("shop/api:8080", 90, "shop/canary:8080", 10)},
					{Name: "shop/web/rule-0/match-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/login"}, Method: "POST"},
						Action: fwd("shop/web:80", 1)},
					{Name: "shop/web/rule-1/match-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/"},
						Headers: []lb.HeaderMatch{{Name: "X-Env", Type: lb.MatchExact, Value: "canary"}}, Query: []lb.QueryMatch{{Name: "v", Type: lb.MatchExact, Value: "2"}}},
						Action: fwd("shop/canary:8080", 1)},
					{Name: "shop/old/rule-0/match-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/old"}},
						Action: lb.Action{Redirect: &lb.Redirect{Scheme: "https", Path: &lb.PathRewrite{Type: lb.RewriteFullPath, Value: "/new"}, StatusCode: 301}}},
					{Name: "shop/web/rule-2/match-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/"}}, Action: fwd("shop/web:80", 1)},
				}},
				{Rules: []lb.Rule{
					{Name: "shop/gone/rule-0/match-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/"}},
						Action: lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 503}}},
				}},
			}},
			{Name: "http-8080", Port: 8080, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{
				{Hostname: "*.internal.example.com", Rules: []lb.Rule{
					{Name: "shop/internal/rule-0/match-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/"}}, Action: fwd("shop/api:8080", 1)},
				}},
			}},
		},
	}
}

// cloudRule is a rule as ELBv2 describes it.
type cloudRule struct {
	arn      string
	priority int
	logical  string
	rule     elbtypes.Rule
	tags     map[string]string
}

// cloudView reads owner's load balancer through Describe calls, on the
// test's own client, not through the provider.
type cloudView struct {
	lb        elbtypes.LoadBalancer
	listeners map[int32]elbtypes.Listener
	rules     map[int32][]cloudRule // by port, by priority
	groups    map[string]elbtypes.TargetGroup
	groupTags map[string]map[string]string // by ARN
	targets   map[string][]string          // group name → "ip:port"
}

func (te *testEnv) view(t *testing.T, ctx context.Context) *cloudView {
	t.Helper()
	lbs, err := te.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{lbName(gatewayOwner)}})
	if err != nil {
		t.Fatal(err)
	}
	v := &cloudView{lb: lbs.LoadBalancers[0], listeners: map[int32]elbtypes.Listener{}, rules: map[int32][]cloudRule{},
		groups: map[string]elbtypes.TargetGroup{}, groupTags: map[string]map[string]string{}, targets: map[string][]string{}}
	ls, err := te.elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: v.lb.LoadBalancerArn})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls.Listeners {
		v.listeners[*l.Port] = l
		rs, err := te.elb.DescribeRules(ctx, &elbv2.DescribeRulesInput{ListenerArn: l.ListenerArn})
		if err != nil {
			t.Fatal(err)
		}
		var arns []string
		for _, r := range rs.Rules {
			if !awssdk.ToBool(r.IsDefault) {
				arns = append(arns, *r.RuleArn)
			}
		}
		tags, err := te.tags(ctx, arns...)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs.Rules {
			if awssdk.ToBool(r.IsDefault) {
				continue
			}
			p, _ := strconv.Atoi(*r.Priority)
			v.rules[*l.Port] = append(v.rules[*l.Port], cloudRule{arn: *r.RuleArn, priority: p, logical: tags[*r.RuleArn][lb.TagResource], rule: r, tags: tags[*r.RuleArn]})
		}
		slices.SortFunc(v.rules[*l.Port], func(a, b cloudRule) int { return a.priority - b.priority })
	}
	tgs, err := te.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{LoadBalancerArn: v.lb.LoadBalancerArn})
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, g := range tgs.TargetGroups {
		v.groups[*g.TargetGroupName] = g
		arns = append(arns, *g.TargetGroupArn)
		th, err := te.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: g.TargetGroupArn})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range th.TargetHealthDescriptions {
			v.targets[*g.TargetGroupName] = append(v.targets[*g.TargetGroupName], targetID(lb.Target{IP: *d.Target.Id, Port: *d.Target.Port}))
		}
		slices.Sort(v.targets[*g.TargetGroupName])
	}
	if v.groupTags, err = te.tags(ctx, arns...); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v *cloudView) priorities() map[string]int {
	out := map[string]int{}
	for _, rs := range v.rules {
		for _, r := range rs {
			out[r.logical] = r.priority
		}
	}
	return out
}

func (v *cloudView) rule(t *testing.T, port int32, logical string) cloudRule {
	t.Helper()
	for _, r := range v.rules[port] {
		if r.logical == logical {
			return r
		}
	}
	t.Fatalf("no rule %q on port %d", logical, port)
	return cloudRule{}
}

func condValues(r elbtypes.Rule, field string) []string {
	for _, c := range r.Conditions {
		if awssdk.ToString(c.Field) != field {
			continue
		}
		switch {
		case c.HostHeaderConfig != nil:
			return c.HostHeaderConfig.Values
		case c.PathPatternConfig != nil:
			return c.PathPatternConfig.Values
		case c.HttpRequestMethodConfig != nil:
			return c.HttpRequestMethodConfig.Values
		case c.HttpHeaderConfig != nil:
			return append([]string{awssdk.ToString(c.HttpHeaderConfig.HttpHeaderName)}, c.HttpHeaderConfig.Values...)
		case c.QueryStringConfig != nil:
			var out []string
			for _, kv := range c.QueryStringConfig.Values {
				out = append(out, awssdk.ToString(kv.Key)+"="+awssdk.ToString(kv.Value))
			}
			return out
		}
		return c.Values
	}
	return nil
}

func TestGateway(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	m := gatewayModel()

	// Creation.
	te.calls.take()
	res, err := te.prov.Ensure(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	created := te.calls.take()
	t.Logf("create: %s; plan: %s", format(created), res.Applied.Summary())
	t.Logf("create writes: %s", format(writes(created)))
	if !res.Status.Ready || len(res.Status.Addresses) != 1 {
		t.Errorf("status = %+v, want ready with the DNS name", res.Status)
	}
	v := te.view(t, ctx)

	// Listeners: the default action is a 404.
	for _, port := range []int32{80, 8080} {
		l, ok := v.listeners[port]
		if !ok {
			t.Fatalf("no listener on port %d", port)
		}
		if len(l.DefaultActions) != 1 || l.DefaultActions[0].Type != elbtypes.ActionTypeEnumFixedResponse ||
			awssdk.ToString(l.DefaultActions[0].FixedResponseConfig.StatusCode) != "404" {
			t.Errorf("listener %d default actions = %+v, want a 404", port, l.DefaultActions)
		}
	}
	// Rules in model order by priority, with the host catch-alls.
	var order []string
	for _, r := range v.rules[80] {
		order = append(order, r.logical)
	}
	wantOrder := []string{
		"http-80/shop/api/rule-0/match-0", "http-80/shop/web/rule-0/match-0", "http-80/shop/web/rule-1/match-0",
		"http-80/shop/old/rule-0/match-0", "http-80/shop/web/rule-2/match-0", "http-80/default:shop.example.com",
		"http-80/shop/gone/rule-0/match-0",
	}
	if !slices.Equal(order, wantOrder) {
		t.Errorf("rules on port 80 by priority = %q, want %q", order, wantOrder)
	}
	for i, r := range v.rules[80] {
		if r.priority != (i+1)*priorityStep {
			t.Errorf("rule %s priority %d, want %d (steps of %d)", r.logical, r.priority, (i+1)*priorityStep, priorityStep)
		}
		if r.tags[lb.TagGatewayUID] != gatewayOwner.UID || r.tags[lb.TagCluster] != gatewayOwner.Cluster || r.tags["team"] != "shop" {
			t.Errorf("rule %s tags = %v", r.logical, r.tags)
		}
	}
	api := v.rule(t, 80, "http-80/shop/api/rule-0/match-0").rule
	if got := condValues(api, "host-header"); !slices.Equal(got, []string{"shop.example.com"}) {
		t.Errorf("api rule host = %q", got)
	}
	if got := condValues(api, "path-pattern"); !slices.Equal(sortedCopy(got), []string{"/api", "/api/*"}) {
		t.Errorf("api rule paths = %q, want /api and /api/*", got)
	}
	apiTG, canaryTG, webTG := v.groups[tgName(gatewayOwner, m.TargetGroups[0])], v.groups[tgName(gatewayOwner, m.TargetGroups[1])], v.groups[tgName(gatewayOwner, m.TargetGroups[2])]
	if apiTG.TargetGroupArn == nil || canaryTG.TargetGroupArn == nil || webTG.TargetGroupArn == nil {
		t.Fatalf("target groups = %v", slices.Collect(maps.Keys(v.groups)))
	}
	weights := map[string]int32{}
	for _, g := range api.Actions[0].ForwardConfig.TargetGroups {
		weights[*g.TargetGroupArn] = *g.Weight
	}
	if weights[*apiTG.TargetGroupArn] != 90 || weights[*canaryTG.TargetGroupArn] != 10 || len(weights) != 2 {
		t.Errorf("api rule weights = %v, want 90 to api and 10 to canary", weights)
	}
	login := v.rule(t, 80, "http-80/shop/web/rule-0/match-0").rule
	if got := condValues(login, "http-request-method"); !slices.Equal(got, []string{"POST"}) {
		t.Errorf("login method = %q", got)
	}
	if got := condValues(login, "path-pattern"); !slices.Equal(got, []string{"/login"}) {
		t.Errorf("login path = %q", got)
	}
	canary := v.rule(t, 80, "http-80/shop/web/rule-1/match-0").rule
	if got := condValues(canary, "http-header"); !slices.Equal(got, []string{"x-env", "canary"}) {
		t.Errorf("canary header = %q", got)
	}
	if got := condValues(canary, "query-string"); !slices.Equal(got, []string{"v=2"}) {
		t.Errorf("canary query = %q", got)
	}
	old := v.rule(t, 80, "http-80/shop/old/rule-0/match-0").rule
	if a := old.Actions[0]; a.Type != elbtypes.ActionTypeEnumRedirect || a.RedirectConfig.StatusCode != elbtypes.RedirectActionStatusCodeEnumHttp301 ||
		awssdk.ToString(a.RedirectConfig.Protocol) != "HTTPS" || awssdk.ToString(a.RedirectConfig.Path) != "/new" || awssdk.ToString(a.RedirectConfig.Port) != "443" {
		t.Errorf("redirect action = %+v", a.RedirectConfig)
	}
	gone := v.rule(t, 80, "http-80/shop/gone/rule-0/match-0").rule
	if a := gone.Actions[0]; a.Type != elbtypes.ActionTypeEnumFixedResponse || awssdk.ToString(a.FixedResponseConfig.StatusCode) != "503" {
		t.Errorf("fixed response = %+v", a)
	}
	if got := condValues(gone, "host-header"); got != nil {
		t.Errorf("the catch-all host's rule has a host condition %q", got)
	}
	internal := v.rule(t, 8080, "http-8080/shop/internal/rule-0/match-0").rule
	if got := condValues(internal, "host-header"); !slices.Equal(got, []string{"*.internal.example.com"}) {
		t.Errorf("internal host = %q", got)
	}
	for name, g := range v.groups {
		if g.TargetType != elbtypes.TargetTypeEnumIp {
			t.Errorf("group %s target type %s, want ip", name, g.TargetType)
		}
		if tags := v.groupTags[*g.TargetGroupArn]; tags[lb.TagGatewayUID] != gatewayOwner.UID || tags[lb.TagResource] == "" || tags["team"] != "shop" {
			t.Errorf("group %s tags = %v", name, tags)
		}
	}
	if got := v.targets[*apiTG.TargetGroupName]; !slices.Equal(got, []string{"10.0.1.11:8080", "10.0.1.12:8080"}) {
		t.Errorf("api targets = %q", got)
	}

	// A no-op Ensure writes nothing.
	res, err = te.prov.Ensure(ctx, gatewayModel())
	if err != nil {
		t.Fatal(err)
	}
	noop := te.calls.take()
	t.Logf("no-op: %s; plan: %s", format(noop), res.Applied.Summary())
	if w := writes(noop); len(w) != 0 {
		t.Errorf("a no-op Ensure wrote: %s", format(w))
	}

	// A changed rule: only that rule is modified; every rule keeps its
	// priority.
	before := v.priorities()
	m = gatewayModel()
	m.Listeners[0].VirtualHosts[0].Rules[1].Match.Path.Value = "/signin"
	if res, err = te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	changed := te.calls.take()
	t.Logf("one rule changed: %s; plan:\n%s", format(changed), res.Applied)
	if w := writes(changed); !maps.Equal(w, map[string]int{"ModifyRule": 1}) {
		t.Errorf("changing one rule wrote %s, want ModifyRule=1", format(w))
	}
	if res.Applied.Count(providers.ActionUpdate, providers.KindRule) != 1 || res.Applied.Summary() != "updated 1 rule" {
		t.Errorf("plan = %s", res.Applied)
	}
	v = te.view(t, ctx)
	if got := v.priorities(); !maps.Equal(got, before) {
		t.Errorf("priorities changed: %v → %v", before, got)
	}
	if got := condValues(v.rule(t, 80, "http-80/shop/web/rule-0/match-0").rule, "path-pattern"); !slices.Equal(got, []string{"/signin"}) {
		t.Errorf("changed rule path = %q", got)
	}

	// A rule inserted between two: it takes a gap, the others stay.
	ins := lb.Rule{Name: "shop/beta/rule-0/match-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/beta"}}, Action: fwd("shop/canary:8080", 1)}
	vh := &m.Listeners[0].VirtualHosts[0]
	vh.Rules = slices.Insert(vh.Rules, 1, ins)
	if res, err = te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	inserted := te.calls.take()
	t.Logf("one rule inserted: %s; plan: %s", format(inserted), res.Applied.Summary())
	if w := writes(inserted); !maps.Equal(w, map[string]int{"CreateRule": 1}) {
		t.Errorf("inserting one rule wrote %s, want CreateRule=1", format(w))
	}
	v = te.view(t, ctx)
	after := v.priorities()
	newPrio := after["http-80/shop/beta/rule-0/match-0"]
	delete(after, "http-80/shop/beta/rule-0/match-0")
	if !maps.Equal(after, before) {
		t.Errorf("priorities changed on an insert: %v → %v", before, after)
	}
	if a, b := before["http-80/shop/api/rule-0/match-0"], before["http-80/shop/web/rule-0/match-0"]; newPrio <= a || newPrio >= b {
		t.Errorf("inserted rule priority %d, want between %d and %d", newPrio, a, b)
	}

	// Two rules swapped: one SetRulePriorities call moves one of them, and
	// ALB's order is the model's again.
	vh.Rules[3], vh.Rules[4] = vh.Rules[4], vh.Rules[3]
	if res, err = te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	swapped := te.calls.take()
	t.Logf("two rules swapped: %s; plan:\n%s", format(swapped), res.Applied)
	if w := writes(swapped); !maps.Equal(w, map[string]int{"SetRulePriorities": 1}) {
		t.Errorf("swapping two rules wrote %s, want SetRulePriorities=1", format(w))
	}
	v = te.view(t, ctx)
	order = order[:0]
	for _, r := range v.rules[80] {
		order = append(order, r.logical)
	}
	var modelOrder []string
	for _, h := range m.Listeners[0].VirtualHosts {
		for _, r := range h.Rules {
			modelOrder = append(modelOrder, "http-80/"+r.Name)
		}
		if h.Hostname != "" {
			modelOrder = append(modelOrder, defaultRuleLogical("http-80", h.Hostname))
		}
	}
	if !slices.Equal(order, modelOrder) {
		t.Errorf("ALB order after a swap = %q, want the model's %q", order, modelOrder)
	}

	// A target change: one registration, one deregistration, nothing else.
	m.TargetGroups[0].Targets = []lb.Target{{IP: "10.0.1.12", Port: 8080}, {IP: "10.0.1.13", Port: 8080}}
	if res, err = te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	targets := te.calls.take()
	t.Logf("targets changed: %s; plan: %s", format(targets), res.Applied.Summary())
	if w := writes(targets); !maps.Equal(w, map[string]int{"RegisterTargets": 1, "DeregisterTargets": 1}) {
		t.Errorf("a target change wrote %s", format(w))
	}
	v = te.view(t, ctx)
	if got := v.targets[*apiTG.TargetGroupName]; !slices.Equal(got, []string{"10.0.1.12:8080", "10.0.1.13:8080"}) {
		t.Errorf("api targets = %q", got)
	}

	// Delete: nothing with our tags remains.
	if err := te.prov.Delete(ctx, gatewayOwner); err != nil {
		t.Fatal(err)
	}
	deleted := te.calls.take()
	t.Logf("delete: %s", format(deleted))
	te.checkNothingOwned(t, ctx, gatewayOwner)
	t.Logf("outcomes (CountCalls): %v", te.calls.outcomes)
	if te.calls.outcomes[OutcomeSuccess] == 0 || te.calls.outcomes[OutcomeError] != 0 || te.calls.outcomes[OutcomeNotFound] != 4 {
		t.Errorf("CountCalls outcomes = %v, want successes, 4 not-found (the names checked before creating) and no errors", te.calls.outcomes)
	}
	if err := te.prov.Delete(ctx, gatewayOwner); err != nil {
		t.Fatal(err)
	}
	if w := writes(te.calls.take()); len(w) != 0 {
		t.Errorf("a second Delete wrote %s", format(w))
	}
}

func (te *testEnv) checkNothingOwned(t *testing.T, ctx context.Context, o lb.Owner) {
	t.Helper()
	lbs, err := te.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
	if err != nil {
		t.Fatal(err)
	}
	tgs, err := te.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, l := range lbs.LoadBalancers {
		arns = append(arns, *l.LoadBalancerArn)
		ls, err := te.elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: l.LoadBalancerArn})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range ls.Listeners {
			arns = append(arns, *x.ListenerArn)
		}
	}
	for _, g := range tgs.TargetGroups {
		arns = append(arns, *g.TargetGroupArn)
	}
	tags, err := te.tags(ctx, arns...)
	if err != nil {
		t.Fatal(err)
	}
	for arn, tg := range tags {
		if owns(tg, o) {
			t.Errorf("%s still has %s's tags: %v", arn, o.Key(), tg)
		}
	}
}

// TestForeignNamesUntouched plants a load balancer and a target group with
// the very names the provider would use, without tags: Ensure refuses to
// create over them, and neither Ensure nor Delete changes them.
func TestForeignNamesUntouched(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	m := gatewayModel()
	m.Owner.UID = "foreign-uid"
	lbOut, err := te.elb.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: awssdk.String(lbName(m.Owner)),
		Subnets: te.moto.PublicSubnetIDs, Type: elbtypes.LoadBalancerTypeEnumApplication})
	if err != nil {
		t.Fatal(err)
	}
	tgOut, err := te.elb.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: awssdk.String(tgName(m.Owner, m.TargetGroups[0])),
		Protocol: elbtypes.ProtocolEnumHttp, Port: awssdk.Int32(80), VpcId: &te.moto.VPCID, TargetType: elbtypes.TargetTypeEnumIp})
	if err != nil {
		t.Fatal(err)
	}
	lbARN, tgARN := *lbOut.LoadBalancers[0].LoadBalancerArn, *tgOut.TargetGroups[0].TargetGroupArn
	_, err = te.prov.Ensure(ctx, m)
	var refusal *providers.InvalidError
	if !errors.As(err, &refusal) {
		t.Errorf("Ensure over foreign names = %v, want an InvalidError", err)
	} else {
		t.Logf("Ensure refused: %v", err)
	}
	if err := te.prov.Delete(ctx, m.Owner); err != nil {
		t.Fatal(err)
	}
	te.checkNothingOwned(t, ctx, m.Owner)
	tags, err := te.tags(ctx, lbARN, tgARN)
	if err != nil {
		t.Fatalf("the foreign resources are gone: %v", err)
	}
	for arn, tg := range tags {
		if len(tg) != 0 {
			t.Errorf("foreign %s got tags %v", arn, tg)
		}
	}
	ls, err := te.elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: &lbARN})
	if err != nil || len(ls.Listeners) != 0 {
		t.Errorf("foreign load balancer's listeners = %v, %v; want none", ls, err)
	}
	if _, err := te.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{tgARN}}); err != nil {
		t.Errorf("foreign target group: %v", err)
	}
}

// TestSubnetDiscovery leaves Subnets and VPCID out: the provider finds the
// public subnets by their role and cluster tags, and the VPC from them.
func TestSubnetDiscovery(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	cfg, err := te.moto.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{AWS: cfg, ClusterName: te.moto.Cluster})
	if err != nil {
		t.Fatal(err)
	}
	m := gatewayModel()
	if _, err := p.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	v := te.view(t, ctx)
	var subnets []string
	for _, az := range v.lb.AvailabilityZones {
		subnets = append(subnets, *az.SubnetId)
	}
	if !slices.Equal(sortedCopy(subnets), sortedCopy(te.moto.PublicSubnetIDs)) {
		t.Errorf("subnets = %v, want the public ones %v", subnets, te.moto.PublicSubnetIDs)
	}
	for name, g := range v.groups {
		if awssdk.ToString(g.VpcId) != te.moto.VPCID {
			t.Errorf("group %s in VPC %s, want %s", name, awssdk.ToString(g.VpcId), te.moto.VPCID)
		}
	}
	other, _ := New(Config{AWS: cfg, ClusterName: "not-this-cluster"})
	m.Owner.UID = "other"
	if _, err := other.Ensure(ctx, m); !errors.Is(err, providers.ErrInvalid) {
		t.Errorf("Ensure without subnets of the cluster = %v, want a refusal", err)
	}
}
