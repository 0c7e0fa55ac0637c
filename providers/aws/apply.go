package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// applier runs a plan's changes, keeping the ARNs later steps point at.
type applier struct {
	p         *Provider
	vpcID     string
	lb        *loadBalancer
	nlb       *loadBalancer
	want      *state
	listeners map[string]string // logical id → ARN (the ALB's and the NLB's)
	groups    map[string]string // name → ARN
	certs     map[string]string // imported certificate logical id → ARN
	sg        string            // the owned security group's ID
}

func (a *applier) run(ctx context.Context, cs []*change) (providers.Plan, error) {
	var applied providers.Plan
	for _, c := range cs {
		if c.run != nil {
			err := c.run(ctx, a, c)
			if changesInventory(c.step) {
				// Also after a failure: the call may have gone through.
				a.p.inv.invalidate()
			}
			if err != nil {
				return applied, err
			}
		}
		applied.Steps = append(applied.Steps, c.step)
	}
	return applied, nil
}

// changesInventory reports whether a step may change what the region scan
// holds: a load balancer or target group made or deleted, or a certificate
// made, deleted or retagged (the scan keeps certificates' tags).
func changesInventory(s providers.Step) bool {
	switch s.Kind {
	case providers.KindLoadBalancer, providers.KindTargetGroup:
		return s.Action == providers.ActionCreate || s.Action == providers.ActionRecreate || s.Action == providers.ActionDelete
	case providers.KindCertificate:
		return s.Action != providers.ActionNothing
	}
	return false
}

func elbTags(t map[string]string) []elbtypes.Tag {
	keys := slices.Sorted(maps.Keys(t))
	out := make([]elbtypes.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, elbtypes.Tag{Key: awssdk.String(k), Value: awssdk.String(t[k])})
	}
	return out
}

// retag brings arn's tags from have to want: AddTags for new and changed
// values, RemoveTags for keys no longer wanted (never "aws:" ones).
func (a *applier) retag(ctx context.Context, arn string, have, want map[string]string, elem string) error {
	add := map[string]string{}
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			add[k] = v
		}
	}
	var remove []string
	for k := range have {
		if _, ok := want[k]; !ok && !strings.HasPrefix(k, reservedPrefix) {
			remove = append(remove, k)
		}
	}
	slices.Sort(remove)
	if len(add) > 0 {
		if _, err := a.p.elb.AddTags(ctx, &elbv2.AddTagsInput{ResourceArns: []string{arn}, Tags: elbTags(add)}); err != nil {
			return classify(err, "AddTags", elem)
		}
	}
	if len(remove) > 0 {
		if _, err := a.p.elb.RemoveTags(ctx, &elbv2.RemoveTagsInput{ResourceArns: []string{arn}, TagKeys: remove}); err != nil {
			return classify(err, "RemoveTags", elem)
		}
	}
	return nil
}

// healthInput leaves out the path and matcher a TCP health check has none
// of: ELBv2 refuses them there.
func healthInput(h health) (proto elbtypes.ProtocolEnum, path, port *string, interval, timeout, healthy, unhealthy *int32, m *elbtypes.Matcher) {
	if h.Path != "" {
		path = awssdk.String(h.Path)
	}
	if h.Matcher != "" {
		m = &elbtypes.Matcher{HttpCode: awssdk.String(h.Matcher)}
	}
	if h.GRPCCodes != "" {
		m = &elbtypes.Matcher{GrpcCode: awssdk.String(h.GRPCCodes)}
	}
	return elbtypes.ProtocolEnum(h.Protocol), path, awssdk.String(h.Port), awssdk.Int32(h.Interval),
		awssdk.Int32(h.Timeout), awssdk.Int32(h.Healthy), awssdk.Int32(h.Unhealthy), m
}

func createGroup(g *targetGroup) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		in := &elbv2.CreateTargetGroupInput{Name: awssdk.String(g.Name), Protocol: elbtypes.ProtocolEnum(g.Protocol), Port: awssdk.Int32(g.Port),
			VpcId: awssdk.String(a.vpcID), TargetType: elbtypes.TargetTypeEnumIp, HealthCheckEnabled: awssdk.Bool(true), Tags: elbTags(g.Tags)}
		if g.ProtocolVersion != "" {
			in.ProtocolVersion = awssdk.String(g.ProtocolVersion)
		}
		in.HealthCheckProtocol, in.HealthCheckPath, in.HealthCheckPort, in.HealthCheckIntervalSeconds, in.HealthCheckTimeoutSeconds,
			in.HealthyThresholdCount, in.UnhealthyThresholdCount, in.Matcher = healthInput(g.Health)
		out, err := a.p.elb.CreateTargetGroup(ctx, in)
		if err != nil {
			return classify(err, "CreateTargetGroup", g.Logical)
		}
		arn := awssdk.ToString(out.TargetGroups[0].TargetGroupArn)
		a.groups[g.Name], c.step.CloudID = arn, arn
		return a.setGroupAttributes(ctx, g, arn, groupAttributeDefaults)
	}
}

func updateGroup(h, g *targetGroup) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		if h.Health != g.Health {
			in := &elbv2.ModifyTargetGroupInput{TargetGroupArn: awssdk.String(h.ARN), HealthCheckEnabled: awssdk.Bool(true)}
			in.HealthCheckProtocol, in.HealthCheckPath, in.HealthCheckPort, in.HealthCheckIntervalSeconds, in.HealthCheckTimeoutSeconds,
				in.HealthyThresholdCount, in.UnhealthyThresholdCount, in.Matcher = healthInput(g.Health)
			if _, err := a.p.elb.ModifyTargetGroup(ctx, in); err != nil {
				return classify(err, "ModifyTargetGroup", g.Logical)
			}
		}
		if err := a.setGroupAttributes(ctx, g, h.ARN, h.Attributes); err != nil {
			return err
		}
		return a.retag(ctx, h.ARN, h.Tags, g.Tags, g.Logical)
	}
}

func deleteGroup(g *targetGroup) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		_, err := a.p.elb.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: awssdk.String(g.ARN)})
		if isCode(err, "TargetGroupNotFound") {
			return nil
		}
		if isCode(err, "ResourceInUse") {
			return fmt.Errorf("target group %s still in use (the load balancer is going): %w", g.Name, err)
		}
		return classify(err, "DeleteTargetGroup", "")
	}
}

func registerTargets(g *targetGroup, h *targetGroup) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		arn := a.groups[g.Name]
		var have []lb.Target
		if h != nil {
			have = h.Targets
		}
		var add, remove []elbtypes.TargetDescription
		for _, t := range g.Targets {
			if !slices.Contains(have, t) {
				// No AvailabilityZone (t.Zone): ELBv2 finds it for an address in the VPC, and only one outside it needs one.
				add = append(add, elbtypes.TargetDescription{Id: awssdk.String(t.IP), Port: awssdk.Int32(t.Port)})
			}
		}
		for _, t := range have {
			if !slices.Contains(g.Targets, t) {
				remove = append(remove, elbtypes.TargetDescription{Id: awssdk.String(t.IP), Port: awssdk.Int32(t.Port)})
			}
		}
		for batch := range slices.Chunk(remove, maxTargetsPerCall) {
			if _, err := a.p.elb.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: &arn, Targets: batch}); err != nil {
				return classify(err, "DeregisterTargets", g.Logical)
			}
		}
		for batch := range slices.Chunk(add, maxTargetsPerCall) {
			if _, err := a.p.elb.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: &arn, Targets: batch}); err != nil {
				return classify(err, "RegisterTargets", g.Logical)
			}
		}
		c.step.CloudID = arn
		return nil
	}
}

// createLB creates the ALB want, after deleting old when it is a Recreate.
func createLB(want, old *loadBalancer) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		made, err := a.createELB(ctx, c, want, old, elbtypes.LoadBalancerTypeEnumApplication, a.lbGroupIDs(want.SecurityGroups))
		if err != nil {
			return err
		}
		a.lb = made
		return a.setLBAttributes(ctx, made.ARN, albAttributeDefaults, want.Attributes)
	}
}

// createELB deletes old (a Recreate) and creates want as a load balancer
// of type kind with security groups groups: the create of the ALB's step
// and of the NLB's alike.
func (a *applier) createELB(ctx context.Context, c *change, want, old *loadBalancer, kind elbtypes.LoadBalancerTypeEnum, groups []string) (*loadBalancer, error) {
	if old != nil {
		if err := deleteLB(old)(ctx, a, c); err != nil {
			return nil, err
		}
	}
	in := &elbv2.CreateLoadBalancerInput{Name: awssdk.String(want.Name),
		Type: kind, Scheme: elbtypes.LoadBalancerSchemeEnum(want.Scheme),
		IpAddressType: elbtypes.IpAddressType(want.IPAddressType), Subnets: want.Subnets, Tags: elbTags(want.Tags),
		SecurityGroups: groups}
	if len(want.ElasticIPs) > 0 {
		// An Elastic IP per subnet (addresses.go): subnet mappings
		// instead of subnets.
		in.Subnets = nil
		for _, s := range want.Subnets {
			in.SubnetMappings = append(in.SubnetMappings, elbtypes.SubnetMapping{SubnetId: awssdk.String(s), AllocationId: awssdk.String(want.ElasticIPs[s])})
		}
	}
	out, err := a.p.elb.CreateLoadBalancer(ctx, in)
	if err != nil {
		return nil, classify(err, "CreateLoadBalancer", "")
	}
	got := out.LoadBalancers[0]
	made := &loadBalancer{Name: want.Name, ARN: awssdk.ToString(got.LoadBalancerArn), DNSName: awssdk.ToString(got.DNSName)}
	if got.State != nil {
		made.State = string(got.State.Code)
	}
	c.step.CloudID = made.ARN
	return made, nil
}

func updateLB(h, want *loadBalancer) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		if !slices.Equal(h.Subnets, want.Subnets) {
			if _, err := a.p.elb.SetSubnets(ctx, &elbv2.SetSubnetsInput{LoadBalancerArn: &h.ARN, Subnets: want.Subnets}); err != nil {
				return classify(err, "SetSubnets", "")
			}
		}
		if err := a.setLBSecurityGroups(ctx, h.ARN, h.SecurityGroups, want.SecurityGroups); err != nil {
			return err
		}
		if err := a.setLBAttributes(ctx, h.ARN, h.Attributes, want.Attributes); err != nil {
			return err
		}
		return a.retag(ctx, h.ARN, h.Tags, want.Tags, "")
	}
}

func deleteLB(h *loadBalancer) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		if err := a.unprotect(ctx, h); err != nil {
			return err
		}
		_, err := a.p.elb.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: &h.ARN})
		if isCode(err, "LoadBalancerNotFound") {
			return nil
		}
		return classify(err, "DeleteLoadBalancer", "")
	}
}

func (a *applier) actions(act action) []elbtypes.Action {
	switch act.Type {
	case "fixed-response":
		return []elbtypes.Action{{Type: elbtypes.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbtypes.FixedResponseActionConfig{
			StatusCode: awssdk.String(act.StatusCode), ContentType: awssdk.String("text/plain")}}}
	case "redirect":
		r := act.Redirect
		return []elbtypes.Action{{Type: elbtypes.ActionTypeEnumRedirect, RedirectConfig: &elbtypes.RedirectActionConfig{
			StatusCode: elbtypes.RedirectActionStatusCodeEnum(act.StatusCode), Protocol: awssdk.String(r.Protocol),
			Host: awssdk.String(r.Host), Port: awssdk.String(r.Port), Path: awssdk.String(r.Path), Query: awssdk.String(r.Query)}}}
	}
	fc := &elbtypes.ForwardActionConfig{}
	for _, f := range act.Forward {
		fc.TargetGroups = append(fc.TargetGroups, elbtypes.TargetGroupTuple{TargetGroupArn: awssdk.String(a.groups[f.TargetGroup]), Weight: awssdk.Int32(f.Weight)})
	}
	if act.Stickiness > 0 {
		fc.TargetGroupStickinessConfig = &elbtypes.TargetGroupStickinessConfig{Enabled: awssdk.Bool(true), DurationSeconds: awssdk.Int32(act.Stickiness)}
	}
	return []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, ForwardConfig: fc}}
}

func createListener(l *listener) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		in := &elbv2.CreateListenerInput{LoadBalancerArn: &a.lb.ARN, Port: awssdk.Int32(l.Port),
			Protocol: elbtypes.ProtocolEnum(l.Protocol), DefaultActions: a.actions(l.Default), Tags: elbTags(l.Tags)}
		if len(l.Certificates) > 0 {
			in.Certificates = a.certs1(l.Certificates[0])
		}
		if l.SSLPolicy != "" {
			in.SslPolicy = awssdk.String(l.SSLPolicy)
		}
		out, err := a.p.elb.CreateListener(ctx, in)
		if err != nil {
			return classify(err, "CreateListener", l.Logical)
		}
		arn := awssdk.ToString(out.Listeners[0].ListenerArn)
		a.listeners[l.Logical], c.step.CloudID = arn, arn
		if len(l.Certificates) > 1 {
			return a.setSNI(ctx, arn, nil, l.Certificates[1:], l.Logical)
		}
		return nil
	}
}

func updateListener(h, l *listener) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		def := func(cs []string) string {
			if len(cs) == 0 {
				return ""
			}
			return cs[0]
		}
		if h.Port != l.Port || h.Protocol != l.Protocol || !equalAction(h.Default, l.Default) || def(h.Certificates) != def(l.Certificates) || h.SSLPolicy != l.SSLPolicy {
			in := &elbv2.ModifyListenerInput{ListenerArn: &h.ARN, Port: awssdk.Int32(l.Port),
				Protocol: elbtypes.ProtocolEnum(l.Protocol), DefaultActions: a.actions(l.Default)}
			if len(l.Certificates) > 0 {
				in.Certificates = a.certs1(l.Certificates[0])
			}
			if l.SSLPolicy != "" {
				in.SslPolicy = awssdk.String(l.SSLPolicy)
			}
			if _, err := a.p.elb.ModifyListener(ctx, in); err != nil {
				return classify(err, "ModifyListener", l.Logical)
			}
		}
		var haveSNI, wantSNI []string
		if len(h.Certificates) > 1 {
			haveSNI = h.Certificates[1:]
		}
		if len(l.Certificates) > 1 {
			wantSNI = l.Certificates[1:]
		}
		// An SNI certificate that became the default is the listener's
		// default now: ELBv2 does not remove a default certificate.
		if d := def(l.Certificates); d != "" && d != def(h.Certificates) {
			haveSNI = slices.DeleteFunc(slices.Clone(haveSNI), func(k string) bool { return k == d })
		}
		if err := a.setSNI(ctx, h.ARN, haveSNI, wantSNI, l.Logical); err != nil {
			return err
		}
		return a.retag(ctx, h.ARN, h.Tags, l.Tags, l.Logical)
	}
}

func deleteListener(h *listener) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		_, err := a.p.elb.DeleteListener(ctx, &elbv2.DeleteListenerInput{ListenerArn: &h.ARN})
		if isCode(err, "ListenerNotFound") {
			return nil
		}
		return classify(err, "DeleteListener", "")
	}
}

func conditions(cs []condition) []elbtypes.RuleCondition {
	var out []elbtypes.RuleCondition
	for _, c := range cs {
		rc := elbtypes.RuleCondition{Field: awssdk.String(c.Field)}
		switch c.Field {
		case "host-header":
			rc.HostHeaderConfig = &elbtypes.HostHeaderConditionConfig{Values: c.Values, RegexValues: c.Regex}
		case "path-pattern":
			rc.PathPatternConfig = &elbtypes.PathPatternConditionConfig{Values: c.Values, RegexValues: c.Regex}
		case "http-request-method":
			rc.HttpRequestMethodConfig = &elbtypes.HttpRequestMethodConditionConfig{Values: c.Values}
		case "http-header":
			rc.HttpHeaderConfig = &elbtypes.HttpHeaderConditionConfig{HttpHeaderName: awssdk.String(c.Name), Values: c.Values, RegexValues: c.Regex}
		case "query-string":
			qc := &elbtypes.QueryStringConditionConfig{}
			for _, v := range c.Values {
				k, val, _ := strings.Cut(v, "=")
				qc.Values = append(qc.Values, elbtypes.QueryStringKeyValuePair{Key: awssdk.String(k), Value: awssdk.String(val)})
			}
			rc.QueryStringConfig = qc
		}
		out = append(out, rc)
	}
	return out
}

func transforms(ts []transform) []elbtypes.RuleTransform {
	var out []elbtypes.RuleTransform
	for _, t := range ts {
		rw := &elbtypes.RewriteConfig{Regex: awssdk.String(t.Regex), Replace: awssdk.String(t.Replace)}
		rt := elbtypes.RuleTransform{Type: elbtypes.TransformTypeEnum(t.Type)}
		if t.Type == hostRewrite {
			rt.HostHeaderRewriteConfig = &elbtypes.HostHeaderRewriteConfig{Rewrites: []elbtypes.RewriteConfig{*rw}}
		} else {
			rt.UrlRewriteConfig = &elbtypes.UrlRewriteConfig{Rewrites: []elbtypes.RewriteConfig{*rw}}
		}
		out = append(out, rt)
	}
	return out
}

func createRule(listenerLogical string, r *rule) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		arn := a.listeners[listenerLogical]
		out, err := a.p.elb.CreateRule(ctx, &elbv2.CreateRuleInput{ListenerArn: &arn, Priority: awssdk.Int32(r.Priority),
			Conditions: conditions(r.Conditions), Actions: a.actions(r.Action), Transforms: transforms(r.Transforms), Tags: elbTags(r.Tags)})
		if isCode(err, "PriorityInUse") {
			held, herr := a.ruleHoldingPriority(ctx, arn, r)
			if herr != nil {
				return herr
			}
			if held != "" {
				c.step.CloudID = held
				return nil
			}
		}
		if err != nil {
			return classify(err, "CreateRule", r.Element)
		}
		c.step.CloudID = awssdk.ToString(out.Rules[0].RuleArn)
		return nil
	}
}

// updateRule modifies what differs but the priority, which setPriorities
// moves for the whole listener at once.
func updateRule(h, r *rule) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		if !equalConditions(h.Conditions, r.Conditions) || !equalAction(h.Action, r.Action) || !slices.Equal(h.Transforms, r.Transforms) {
			in := &elbv2.ModifyRuleInput{RuleArn: &h.ARN, Conditions: conditions(r.Conditions), Actions: a.actions(r.Action)}
			switch {
			case len(r.Transforms) > 0:
				in.Transforms = transforms(r.Transforms)
			case len(h.Transforms) > 0:
				in.ResetTransforms = awssdk.Bool(true)
			}
			if _, err := a.p.elb.ModifyRule(ctx, in); err != nil {
				return classify(err, "ModifyRule", r.Element)
			}
		}
		return a.retag(ctx, h.ARN, h.Tags, r.Tags, r.Element)
	}
}

func deleteRule(h *rule) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		_, err := a.p.elb.DeleteRule(ctx, &elbv2.DeleteRuleInput{RuleArn: &h.ARN})
		if isCode(err, "RuleNotFound") {
			return nil
		}
		return classify(err, "DeleteRule", "")
	}
}

func (a *applier) setPriorities(ctx context.Context, moves map[string]int32) error {
	var in elbv2.SetRulePrioritiesInput
	for _, arn := range slices.Sorted(maps.Keys(moves)) {
		in.RulePriorities = append(in.RulePriorities, elbtypes.RulePriorityPair{RuleArn: awssdk.String(arn), Priority: awssdk.Int32(moves[arn])})
	}
	_, err := a.p.elb.SetRulePriorities(ctx, &in)
	return classify(err, "SetRulePriorities", "")
}

func equalConditions(a, b []condition) bool {
	return slices.EqualFunc(a, b, func(x, y condition) bool {
		return x.Field == y.Field && x.Name == y.Name && slices.Equal(x.Values, y.Values) && slices.Equal(x.Regex, y.Regex)
	})
}

func equalAction(a, b action) bool {
	if a.Type != b.Type || a.StatusCode != b.StatusCode || !slices.Equal(a.Forward, b.Forward) {
		return false
	}
	if (a.Redirect == nil) != (b.Redirect == nil) {
		return false
	}
	return a.Redirect == nil || *a.Redirect == *b.Redirect
}

func isCode(err error, code string) bool {
	var api interface{ ErrorCode() string }
	return err != nil && errors.As(err, &api) && api.ErrorCode() == code
}
