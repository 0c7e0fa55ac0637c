package aws

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// The parameters the provider applies besides scheme, address type and
// tags: load balancer attributes (idleTimeout, deletionProtection,
// accessLogs, aws.attributes), target group attributes
// (aws.deregistrationDelay, aws.targetGroupAttributes), the HTTPS
// listeners' SSL policy, subnets, security groups (securitygroups.go) and
// raised quotas.
//
// Attributes are diffed key by key against what Describe*Attributes
// returns, and only the keys that differ are written: a no-op reconcile
// writes nothing. A key in the tables below that the parameters leave
// unset is held at AWS's default, so that removing a field restores the
// default; a raw attribute outside the tables that is removed from the
// parameters keeps its last value (the provider cannot know its default).

// defaultSSLPolicy is the HTTPS listeners' policy when aws.sslPolicy is
// unset: TLS 1.3 and 1.2 only, AWS's recommendation.
const defaultSSLPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"

// albAttributeDefaults are an ALB's attributes as AWS creates them
// (DescribeLoadBalancerAttributes of a new ALB).
var albAttributeDefaults = map[string]string{
	"idle_timeout.timeout_seconds":                             "60",
	"deletion_protection.enabled":                              "false",
	"access_logs.s3.enabled":                                   "false",
	"access_logs.s3.bucket":                                    "",
	"access_logs.s3.prefix":                                    "",
	"routing.http2.enabled":                                    "true",
	"routing.http.drop_invalid_header_fields.enabled":          "false",
	"routing.http.preserve_host_header.enabled":                "false",
	"routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
	"routing.http.xff_client_port.enabled":                     "false",
	"routing.http.xff_header_processing.mode":                  "append",
	"routing.http.desync_mitigation_mode":                      "defensive",
	"client_keep_alive.seconds":                                "3600",
	"waf.fail_open.enabled":                                    "false",
}

// groupAttributeDefaults are an IP target group's attributes as AWS
// creates them.
var groupAttributeDefaults = map[string]string{
	"deregistration_delay.timeout_seconds": "300",
	"stickiness.enabled":                   "false",
	"slow_start.duration_seconds":          "0",
	"load_balancing.algorithm.type":        "round_robin",
}

// streamGroupAttributeDefaults are a TCP, UDP or TLS target group's (an
// NLB's): slow start and the algorithm are ALB-only.
var streamGroupAttributeDefaults = map[string]string{
	"deregistration_delay.timeout_seconds": "300",
	"stickiness.enabled":                   "false",
}

// maxAttributesPerCall is ModifyLoadBalancerAttributes' and
// ModifyTargetGroupAttributes' limit.
const maxAttributesPerCall = 20

// unappliedOptions refuses the parameters the provider does not apply, so
// that none is silently ignored: the Gateway is told (Programmed=False/
// Invalid, the list in its event) instead of getting a load balancer
// without them.
func unappliedOptions(o lb.Options) error {
	var missing []string
	// Static addresses are an NLB's Elastic IPs, or refused as not
	// usable (addresses.go).
	if a := o.AWS; a != nil && a.TargetType != "" && a.TargetType != "ip" {
		missing = append(missing, "aws.targetType "+a.TargetType+" (targets are Pod IPs; NodePort instance targets are not implemented)")
	}
	if len(missing) == 0 {
		return nil
	}
	return &providers.InvalidError{Message: "the aws provider does not apply " + strings.Join(missing, ", ")}
}

// quotas are the limits desired counts against: AWS's defaults, or the
// account's raised quotas from the parameters.
type quotas struct {
	rules, certificates, groups, listeners int
}

func quotasOf(o lb.Options) quotas {
	q := quotas{rules: maxRulesPerALB, certificates: maxSNICertificates, groups: maxGroupsPerALB, listeners: maxListenersPerALB}
	if o.AWS == nil {
		return q
	}
	raise := func(to *int, v int) {
		if v > *to {
			*to = v
		}
	}
	raise(&q.rules, o.AWS.Quotas.RulesPerLoadBalancer)
	raise(&q.certificates, o.AWS.Quotas.CertificatesPerLoadBalancer)
	raise(&q.groups, o.AWS.Quotas.TargetGroupsPerLoadBalancer)
	raise(&q.listeners, o.AWS.Quotas.ListenersPerLoadBalancer)
	return q
}

// maxGroupsPerALB is the quota "Target groups per Application Load
// Balancer".
const maxGroupsPerALB = 100

// optionSubnets are the parameters' subnets, nil when they give none.
func optionSubnets(o lb.Options) []string {
	if o.AWS == nil || len(o.AWS.Subnets) == 0 {
		return nil
	}
	return sortedCopy(o.AWS.Subnets)
}

// withOptions completes the desired state with the options; it is pure.
// They apply to the ALB: an NLB (nlb.go) gets the subnets and the target
// group attributes only, and desired refuses the rest for its listeners
// (nlbOptionProblems).
func withOptions(m *lb.LoadBalancer, s *state) {
	o := m.Options
	var a lb.AWSOptions
	if o.AWS != nil {
		a = *o.AWS
	}
	for _, g := range s.Groups {
		defaults := groupAttributeDefaults
		if g.Protocol != string(lb.ProtocolHTTP) && g.Protocol != string(lb.ProtocolHTTPS) {
			defaults = streamGroupAttributeDefaults
		}
		attrs := maps.Clone(defaults)
		maps.Copy(attrs, a.TargetGroupAttributes)
		if d := a.DeregistrationDelay; d != nil {
			attrs["deregistration_delay.timeout_seconds"] = strconv.Itoa(int(*d / time.Second))
		}
		g.Attributes = attrs
	}
	if s.LB == nil {
		s.Security = &security{} // no ALB: no group of ours
		return
	}
	attrs := maps.Clone(albAttributeDefaults)
	maps.Copy(attrs, a.Attributes)
	if o.IdleTimeout != 0 {
		attrs["idle_timeout.timeout_seconds"] = strconv.Itoa(int(o.IdleTimeout / time.Second))
	}
	if o.DeletionProtection {
		attrs["deletion_protection.enabled"] = "true"
	}
	if al := o.AccessLogs; al != nil {
		attrs["access_logs.s3.enabled"] = "true"
		attrs["access_logs.s3.bucket"] = al.Bucket
		attrs["access_logs.s3.prefix"] = al.Prefix
	}
	s.LB.Attributes = attrs

	policy := a.SSLPolicy
	if policy == "" {
		policy = defaultSSLPolicy
	}
	for _, l := range s.Listeners {
		if l.Protocol == string(lb.ProtocolHTTPS) {
			l.SSLPolicy = policy
		}
	}

	s.Security = desiredSecurity(m, s.Listeners, s.LB.IPAddressType, s.LB.Subnets)
	s.LB.SecurityGroups = s.Security.Groups
}

// nlbOptionProblems names the options an NLB would need and the provider
// does not apply to one: NLB attributes and listener attributes differ
// from an ALB's (its idle timeout is the TCP listeners'
// tcp.idle_timeout.seconds), and its security groups can only be set when
// it is created. They are refused on the NLB's listeners, so that the
// reconciler serves the rest of the Gateway.
func nlbOptionProblems(o lb.Options) []string {
	var out []string
	add := func(cond bool, field string) {
		if cond {
			out = append(out, field)
		}
	}
	add(o.IdleTimeout != 0, "idleTimeout")
	add(o.DeletionProtection, "deletionProtection")
	add(o.AccessLogs != nil, "accessLogs")
	if a := o.AWS; a != nil {
		add(len(a.Attributes) > 0, "aws.attributes")
		add(len(a.SecurityGroups) > 0, "aws.securityGroups")
		add(len(a.SourceRanges) > 0, "aws.sourceRanges")
		add(a.BackendSecurityGroup != "", "aws.backendSecurityGroup")
		add(a.SSLPolicy != "", "aws.sslPolicy")
	}
	return out
}

// trimObserved keeps of have's attributes the keys want manages, so that
// the diff compares only those: AWS returns every attribute it has, and
// adds new ones over time. A load balancer that goes keeps all of its
// (deleteLB reads its deletion protection).
func trimObserved(want *state, have *observed) {
	if want.LB != nil && have.LB != nil {
		have.LB.Attributes = only(have.LB.Attributes, want.LB.Attributes)
	}
	wantGroups := map[string]*targetGroup{}
	for _, g := range want.Groups {
		wantGroups[g.Name] = g
	}
	for _, g := range have.Groups {
		if w := wantGroups[g.Name]; w != nil {
			g.Attributes = only(g.Attributes, w.Attributes)
		}
	}
}

func only(have, keys map[string]string) map[string]string {
	out := make(map[string]string, len(keys))
	for k := range keys {
		if v, ok := have[k]; ok {
			out[k] = v
		}
	}
	return out
}

// observeOptions reads what the options set: the load balancer's
// attributes and security groups, and each target group's attributes.
func (p *Provider) observeOptions(ctx context.Context, obs *observed, o lb.Owner) error {
	if obs.LB != nil {
		out, err := p.elb.DescribeLoadBalancerAttributes(ctx, &elbv2.DescribeLoadBalancerAttributesInput{LoadBalancerArn: &obs.LB.ARN})
		if isCode(err, "LoadBalancerNotFound") {
			return errStaleInventory
		}
		if err != nil {
			return classify(err, "DescribeLoadBalancerAttributes", "")
		}
		obs.LB.Attributes = attributeMap(out.Attributes)
	}
	for _, g := range obs.Groups {
		out, err := p.elb.DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: &g.ARN})
		if isCode(err, "TargetGroupNotFound") {
			return errStaleInventory
		}
		if err != nil {
			return classify(err, "DescribeTargetGroupAttributes", "")
		}
		g.Attributes = make(map[string]string, len(out.Attributes))
		for _, a := range out.Attributes {
			g.Attributes[awssdk.ToString(a.Key)] = awssdk.ToString(a.Value)
		}
	}
	var lbGroups []string
	if obs.LB != nil {
		lbGroups = obs.LB.SecurityGroups
	}
	sec, err := p.observeSecurity(ctx, o, lbGroups)
	if err != nil {
		return err
	}
	obs.Security = sec
	if obs.LB != nil {
		obs.LB.SecurityGroups = sec.Groups
	}
	return nil
}

func attributeMap(as []elbtypes.LoadBalancerAttribute) map[string]string {
	out := make(map[string]string, len(as))
	for _, a := range as {
		out[awssdk.ToString(a.Key)] = awssdk.ToString(a.Value)
	}
	return out
}

// changedAttributes are the keys of want whose value have lacks or holds
// otherwise, sorted.
func changedAttributes(have, want map[string]string) []string {
	var out []string
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// setLBAttributes writes the attributes of want that differ from have;
// a new load balancer has AWS's defaults.
func (a *applier) setLBAttributes(ctx context.Context, arn string, have, want map[string]string) error {
	keys := changedAttributes(have, want)
	for batch := range slices.Chunk(keys, maxAttributesPerCall) {
		in := &elbv2.ModifyLoadBalancerAttributesInput{LoadBalancerArn: &arn}
		for _, k := range batch {
			in.Attributes = append(in.Attributes, elbtypes.LoadBalancerAttribute{Key: awssdk.String(k), Value: awssdk.String(want[k])})
		}
		if _, err := a.p.elb.ModifyLoadBalancerAttributes(ctx, in); err != nil {
			return classify(err, "ModifyLoadBalancerAttributes", "")
		}
	}
	return nil
}

func (a *applier) setGroupAttributes(ctx context.Context, g *targetGroup, arn string, have map[string]string) error {
	keys := changedAttributes(have, g.Attributes)
	for batch := range slices.Chunk(keys, maxAttributesPerCall) {
		in := &elbv2.ModifyTargetGroupAttributesInput{TargetGroupArn: &arn}
		for _, k := range batch {
			in.Attributes = append(in.Attributes, elbtypes.TargetGroupAttribute{Key: awssdk.String(k), Value: awssdk.String(g.Attributes[k])})
		}
		if _, err := a.p.elb.ModifyTargetGroupAttributes(ctx, in); err != nil {
			return classify(err, "ModifyTargetGroupAttributes", g.Logical)
		}
	}
	return nil
}

// setLBSecurityGroups attaches want's groups when they differ from have's.
func (a *applier) setLBSecurityGroups(ctx context.Context, arn string, have, want []string) error {
	if slices.Equal(have, want) {
		return nil
	}
	_, err := a.p.elb.SetSecurityGroups(ctx, &elbv2.SetSecurityGroupsInput{LoadBalancerArn: &arn, SecurityGroups: a.lbGroupIDs(want)})
	return classify(err, "SetSecurityGroups", "")
}

// unprotect turns deletion protection off before the provider deletes a
// load balancer of its own: deleting the Gateway (or changing what forces
// a new load balancer) is the user's request to delete it, and the
// protection guards against deletes by anyone else. A load balancer
// without Cloudgate's tags is never deleted, so never unprotected.
func (a *applier) unprotect(ctx context.Context, h *loadBalancer) error {
	if h.Attributes["deletion_protection.enabled"] != "true" {
		return nil
	}
	_, err := a.p.elb.ModifyLoadBalancerAttributes(ctx, &elbv2.ModifyLoadBalancerAttributesInput{LoadBalancerArn: &h.ARN,
		Attributes: []elbtypes.LoadBalancerAttribute{{Key: awssdk.String("deletion_protection.enabled"), Value: awssdk.String("false")}}})
	return classify(err, "ModifyLoadBalancerAttributes", "")
}
