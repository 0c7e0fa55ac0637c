package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// describeTagsBatch is DescribeTags' limit of ARNs per call, and
// describeByARNBatch how many ARNs one DescribeLoadBalancers or
// DescribeTargetGroups call takes (DescribeLoadBalancers' limit is 20).
const (
	describeTagsBatch  = 20
	describeByARNBatch = 20
)

// owns reports whether tags are owner's.
func owns(tags map[string]string, o lb.Owner) bool {
	return tags[lb.TagCluster] == o.Cluster && tags[lb.TagGatewayUID] == o.UID
}

// tagsOf reads the tags of arns, 20 at a time.
func (p *Provider) tagsOf(ctx context.Context, arns []string) (map[string]map[string]string, error) {
	out := make(map[string]map[string]string, len(arns))
	for batch := range slices.Chunk(arns, describeTagsBatch) {
		res, err := p.elb.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: batch})
		if err != nil {
			return nil, classify(err, "DescribeTags", "")
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

// observed also keeps what the diff needs to stay off foreign resources.
type observed struct {
	*state
	// groupNames maps every target group ARN seen to its name, so that a
	// rule forwarding to a group that is not ours reads as its ARN.
	groupNames map[string]string
	// extraLBs are further load balancers with owner's tags (a crash
	// between create and tag cannot make one, but a copy by hand can);
	// extraNLBs the same for the NLB.
	extraLBs  []*loadBalancer
	extraNLBs []*loadBalancer
}

// observe finds owner's resources: the inventory says which load
// balancers and target groups carry owner's tags (inventory.go); they are
// described again by ARN, with their tags, and ownership is decided on
// those. Then the listeners and rules of ours.
func (p *Provider) observe(ctx context.Context, o lb.Owner) (*observed, error) {
	obs, err := p.observeOnce(ctx, o)
	if errors.Is(err, errStaleInventory) {
		// Something the scan listed is gone: scan again, once.
		p.inv.invalidate()
		obs, err = p.observeOnce(ctx, o)
	}
	return obs, err
}

// errStaleInventory is a resource of the scan that is no longer there.
var errStaleInventory = errors.New("the region scan lists a resource that is gone")

func (p *Provider) observeOnce(ctx context.Context, o lb.Owner) (*observed, error) {
	obs := &observed{state: &state{Rules: map[string][]*rule{}}, groupNames: map[string]string{}}
	scan, err := p.scan(ctx)
	if err != nil {
		return nil, err
	}
	lbARNs, tgARNs := scan.owned(o)
	slices.Sort(lbARNs)
	slices.Sort(tgARNs)
	var lbs []elbtypes.LoadBalancer
	for batch := range slices.Chunk(lbARNs, describeByARNBatch) {
		res, err := p.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: batch})
		if isCode(err, "LoadBalancerNotFound") {
			return nil, errStaleInventory
		}
		if err != nil {
			return nil, classify(err, "DescribeLoadBalancers", "")
		}
		lbs = append(lbs, res.LoadBalancers...)
	}
	var tgs []elbtypes.TargetGroup
	for batch := range slices.Chunk(tgARNs, describeByARNBatch) {
		res, err := p.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: batch})
		if isCode(err, "TargetGroupNotFound") {
			return nil, errStaleInventory
		}
		if err != nil {
			return nil, classify(err, "DescribeTargetGroups", "")
		}
		tgs = append(tgs, res.TargetGroups...)
	}
	tags, err := p.tagsOf(ctx, append(slices.Clone(lbARNs), tgARNs...))
	if err != nil {
		return nil, err
	}
	for _, l := range lbs {
		arn := awssdk.ToString(l.LoadBalancerArn)
		t := tags[arn]
		if t == nil || !owns(t, o) || !ownedKind(t[lb.TagResource], l.Type) {
			continue
		}
		var subnets []string
		var eips map[string]string
		for _, az := range l.AvailabilityZones {
			subnets = append(subnets, awssdk.ToString(az.SubnetId))
			for _, a := range az.LoadBalancerAddresses {
				if id := awssdk.ToString(a.AllocationId); id != "" {
					if eips == nil {
						eips = map[string]string{}
					}
					eips[awssdk.ToString(az.SubnetId)] = id
				}
			}
		}
		slices.Sort(subnets)
		r := &loadBalancer{Name: awssdk.ToString(l.LoadBalancerName), Scheme: string(l.Scheme),
			IPAddressType: string(l.IpAddressType), Subnets: subnets, Tags: t, ARN: arn, DNSName: awssdk.ToString(l.DNSName), ElasticIPs: eips}
		if l.Type == elbtypes.LoadBalancerTypeEnumApplication {
			r.SecurityGroups = l.SecurityGroups // an NLB has none of ours (options.go)
		}
		if l.State != nil {
			r.State = string(l.State.Code)
		}
		switch {
		case l.Type == elbtypes.LoadBalancerTypeEnumNetwork && obs.NLB == nil:
			obs.NLB = r
		case l.Type == elbtypes.LoadBalancerTypeEnumNetwork:
			obs.extraNLBs = append(obs.extraNLBs, r)
		case obs.LB == nil:
			obs.LB = r
		default:
			obs.extraLBs = append(obs.extraLBs, r)
		}
	}

	for _, g := range tgs {
		arn := awssdk.ToString(g.TargetGroupArn)
		t := tags[arn]
		if t == nil || !owns(t, o) {
			continue
		}
		obs.groupNames[arn] = awssdk.ToString(g.TargetGroupName)
		tg := &targetGroup{Logical: t[lb.TagResource], Name: awssdk.ToString(g.TargetGroupName), Protocol: string(g.Protocol),
			ProtocolVersion: awssdk.ToString(g.ProtocolVersion), Port: awssdk.ToInt32(g.Port), Tags: t, ARN: arn, Health: health{
				Protocol: string(g.HealthCheckProtocol), Path: awssdk.ToString(g.HealthCheckPath), Port: awssdk.ToString(g.HealthCheckPort),
				Interval: awssdk.ToInt32(g.HealthCheckIntervalSeconds), Timeout: awssdk.ToInt32(g.HealthCheckTimeoutSeconds),
				Healthy: awssdk.ToInt32(g.HealthyThresholdCount), Unhealthy: awssdk.ToInt32(g.UnhealthyThresholdCount)}}
		if g.Matcher != nil {
			tg.Health.Matcher, tg.Health.GRPCCodes = awssdk.ToString(g.Matcher.HttpCode), awssdk.ToString(g.Matcher.GrpcCode)
		}
		th, err := p.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: g.TargetGroupArn})
		if isCode(err, "TargetGroupNotFound") {
			return nil, errStaleInventory
		}
		if err != nil {
			return nil, classify(err, "DescribeTargetHealth", "")
		}
		for _, d := range th.TargetHealthDescriptions {
			if d.TargetHealth != nil && d.TargetHealth.State == elbtypes.TargetHealthStateEnumDraining {
				continue // already deregistered
			}
			if d.Target != nil {
				tg.Targets = append(tg.Targets, lb.Target{IP: awssdk.ToString(d.Target.Id), Port: awssdk.ToInt32(d.Target.Port)})
			}
		}
		sortTargets(tg.Targets)
		obs.Groups = append(obs.Groups, tg)
	}
	sort.Slice(obs.Groups, func(i, j int) bool { return obs.Groups[i].Name < obs.Groups[j].Name })

	if obs.Certs, err = p.observeCertificates(ctx, o); err != nil {
		return nil, err
	}
	if obs.LB != nil {
		if err := p.observeListeners(ctx, obs, o); err != nil {
			return nil, err
		}
	}
	if obs.NLB != nil {
		if err := p.observeNLBListeners(ctx, obs, o); err != nil {
			return nil, err
		}
	}
	if err := p.observeOptions(ctx, obs, o); err != nil {
		return nil, err
	}
	return obs, nil
}

// listenersOf reads every listener of the load balancer arn, paged.
func (p *Provider) listenersOf(ctx context.Context, arn string) ([]elbtypes.Listener, error) {
	var ls []elbtypes.Listener
	pager := elbv2.NewDescribeListenersPaginator(p.elb, &elbv2.DescribeListenersInput{LoadBalancerArn: &arn})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, classify(err, "DescribeListeners", "")
		}
		ls = append(ls, page.Listeners...)
	}
	return ls, nil
}

func (p *Provider) observeListeners(ctx context.Context, obs *observed, o lb.Owner) error {
	ls, err := p.listenersOf(ctx, obs.LB.ARN)
	if err != nil {
		return err
	}
	var arns []string
	rulesOf := map[string][]elbtypes.Rule{}
	for _, l := range ls {
		arns = append(arns, awssdk.ToString(l.ListenerArn))
		var marker *string
		for {
			res, err := p.elb.DescribeRules(ctx, &elbv2.DescribeRulesInput{ListenerArn: l.ListenerArn, Marker: marker})
			if err != nil {
				return classify(err, "DescribeRules", "")
			}
			for _, r := range res.Rules {
				if !awssdk.ToBool(r.IsDefault) {
					rulesOf[awssdk.ToString(l.ListenerArn)] = append(rulesOf[awssdk.ToString(l.ListenerArn)], r)
					arns = append(arns, awssdk.ToString(r.RuleArn))
				}
			}
			if marker = res.NextMarker; marker == nil || *marker == "" {
				break
			}
		}
	}
	tags, err := p.tagsOf(ctx, arns)
	if err != nil {
		return err
	}
	sort.Slice(ls, func(i, j int) bool { return awssdk.ToInt32(ls[i].Port) < awssdk.ToInt32(ls[j].Port) })
	for _, l := range ls {
		arn := awssdk.ToString(l.ListenerArn)
		t := tags[arn]
		if !owns(t, o) {
			continue // someone else's listener on our load balancer: left alone
		}
		ol := &listener{Logical: t[lb.TagResource], Port: awssdk.ToInt32(l.Port), Protocol: string(l.Protocol), Tags: t, ARN: arn}
		if len(l.DefaultActions) == 1 {
			ol.Default = obs.readAction(l.DefaultActions[0])
		}
		if l.Protocol == elbtypes.ProtocolEnumHttps {
			ol.SSLPolicy = awssdk.ToString(l.SslPolicy)
			if ol.Certificates, err = p.readListenerCertificates(ctx, l, servedCertificates(obs.Certs)); err != nil {
				return err
			}
		}
		obs.Listeners = append(obs.Listeners, ol)
		var rules []*rule
		for _, r := range rulesOf[arn] {
			rt := tags[awssdk.ToString(r.RuleArn)]
			if !owns(rt, o) {
				continue
			}
			prio, _ := strconv.Atoi(awssdk.ToString(r.Priority))
			or := &rule{Logical: rt[lb.TagResource], Priority: int32(prio), Tags: rt, ARN: awssdk.ToString(r.RuleArn)}
			for _, c := range r.Conditions {
				or.Conditions = append(or.Conditions, readCondition(c)...)
			}
			if len(r.Actions) == 1 {
				or.Action = obs.readAction(r.Actions[0])
			} else {
				or.Action = action{Type: fmt.Sprintf("%d actions", len(r.Actions))}
			}
			or.Transforms = readTransforms(r.Transforms)
			normalize(or)
			rules = append(rules, or)
		}
		sort.Slice(rules, func(i, j int) bool { return rules[i].Priority < rules[j].Priority })
		obs.Rules[ol.Logical] = rules
	}
	return nil
}

// readCondition reads a condition as convertRule writes it: values from
// the field's config (or the older top-level Values), regexes from its
// RegexValues (or the top-level ones).
func readCondition(c elbtypes.RuleCondition) []condition {
	field := awssdk.ToString(c.Field)
	out := condition{Field: field, Values: slices.Clone(c.Values), Regex: slices.Clone(c.RegexValues)}
	config := func(values, regex []string) {
		if len(values) > 0 {
			out.Values = slices.Clone(values)
		}
		if len(regex) > 0 {
			out.Regex = slices.Clone(regex)
		}
	}
	switch field {
	case "host-header":
		if c.HostHeaderConfig != nil {
			config(c.HostHeaderConfig.Values, c.HostHeaderConfig.RegexValues)
		}
	case "path-pattern":
		if c.PathPatternConfig != nil {
			config(c.PathPatternConfig.Values, c.PathPatternConfig.RegexValues)
		}
	case "http-request-method":
		if c.HttpRequestMethodConfig != nil {
			config(c.HttpRequestMethodConfig.Values, nil)
		}
	case "http-header":
		if c.HttpHeaderConfig != nil {
			out.Name = strings.ToLower(awssdk.ToString(c.HttpHeaderConfig.HttpHeaderName))
			out.Values = slices.Clone(c.HttpHeaderConfig.Values)
			config(nil, c.HttpHeaderConfig.RegexValues)
		}
	case "query-string":
		// One condition per pair, as convertRule writes them.
		if c.QueryStringConfig != nil {
			var cs []condition
			for _, kv := range c.QueryStringConfig.Values {
				cs = append(cs, condition{Field: field, Values: []string{awssdk.ToString(kv.Key) + "=" + awssdk.ToString(kv.Value)}})
			}
			if len(cs) == 1 {
				return cs
			}
			vals := make([]string, len(cs))
			for i, c := range cs {
				vals[i] = c.Values[0]
			}
			out.Values = vals
		}
	}
	if len(out.Values) == 0 {
		out.Values = nil
	}
	if len(out.Regex) == 0 {
		out.Regex = nil
	}
	return []condition{out}
}

// readTransforms reads transforms as convertRewrite writes them: one
// rewrite each. Anything else (several rewrites) reads as a transform
// that no model asks for, so that the diff replaces it.
func readTransforms(ts []elbtypes.RuleTransform) []transform {
	var out []transform
	for _, t := range ts {
		var rws []elbtypes.RewriteConfig
		switch {
		case t.HostHeaderRewriteConfig != nil:
			rws = t.HostHeaderRewriteConfig.Rewrites
		case t.UrlRewriteConfig != nil:
			rws = t.UrlRewriteConfig.Rewrites
		}
		o := transform{Type: string(t.Type)}
		if len(rws) == 1 {
			o.Regex, o.Replace = awssdk.ToString(rws[0].Regex), awssdk.ToString(rws[0].Replace)
		} else {
			o.Regex = fmt.Sprintf("%d rewrites", len(rws))
		}
		out = append(out, o)
	}
	return out
}

func (obs *observed) readAction(a elbtypes.Action) action {
	switch a.Type {
	case elbtypes.ActionTypeEnumForward:
		out := action{Type: "forward"}
		if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
			for _, g := range a.ForwardConfig.TargetGroups {
				out.Forward = append(out.Forward, forward{TargetGroup: obs.groupName(awssdk.ToString(g.TargetGroupArn)), Weight: awssdk.ToInt32(g.Weight)})
			}
		} else if a.TargetGroupArn != nil {
			out.Forward = []forward{{TargetGroup: obs.groupName(*a.TargetGroupArn), Weight: 1}}
		}
		if fc := a.ForwardConfig; fc != nil && fc.TargetGroupStickinessConfig != nil && awssdk.ToBool(fc.TargetGroupStickinessConfig.Enabled) {
			out.Stickiness = awssdk.ToInt32(fc.TargetGroupStickinessConfig.DurationSeconds)
		}
		normalizeAction(&out)
		return out
	case elbtypes.ActionTypeEnumFixedResponse:
		out := action{Type: "fixed-response"}
		if a.FixedResponseConfig != nil {
			out.StatusCode = awssdk.ToString(a.FixedResponseConfig.StatusCode)
		}
		return out
	case elbtypes.ActionTypeEnumRedirect:
		out := action{Type: "redirect", Redirect: &redirect{}}
		if c := a.RedirectConfig; c != nil {
			out.StatusCode = string(c.StatusCode)
			out.Redirect = &redirect{Protocol: awssdk.ToString(c.Protocol), Host: awssdk.ToString(c.Host), Port: awssdk.ToString(c.Port),
				Path: awssdk.ToString(c.Path), Query: awssdk.ToString(c.Query)}
		}
		return out
	}
	return action{Type: string(a.Type)}
}

func (obs *observed) groupName(arn string) string {
	if n, ok := obs.groupNames[arn]; ok {
		return n
	}
	return arn
}
