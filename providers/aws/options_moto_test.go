package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// optionsModel is gatewayModel with an HTTPS listener, for the SSL policy.
func optionsModel(cert lb.Certificate) *lb.LoadBalancer {
	m := gatewayModel()
	https := lb.Listener{Name: "https-443", Port: 443, Protocol: lb.ProtocolHTTPS, VirtualHosts: []lb.VirtualHost{
		{Hostname: "a.example.com", Certificates: []lb.Certificate{cert}, Rules: []lb.Rule{{Name: "shop/a/rule-0/match-0",
			Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/"}}, Action: fwd("shop/web:80", 1)}}}}}
	m.Listeners = slices.Insert(m.Listeners, 1, https)
	return m
}

// optionsView is what the options set, read with the test's own clients.
type optionsView struct {
	lbAttrs    map[string]string
	groupAttrs map[string]map[string]string // by group name
	sslPolicy  string                       // of the HTTPS listener
	subnets    []string
	lbGroups   []string
}

func (te *testEnv) options(t *testing.T, ctx context.Context) optionsView {
	t.Helper()
	v := te.view(t, ctx)
	out := optionsView{groupAttrs: map[string]map[string]string{}, lbGroups: sortedCopy(v.lb.SecurityGroups)}
	for _, az := range v.lb.AvailabilityZones {
		out.subnets = append(out.subnets, *az.SubnetId)
	}
	slices.Sort(out.subnets)
	la, err := te.elb.DescribeLoadBalancerAttributes(ctx, &elbv2.DescribeLoadBalancerAttributesInput{LoadBalancerArn: v.lb.LoadBalancerArn})
	if err != nil {
		t.Fatal(err)
	}
	out.lbAttrs = attributeMap(la.Attributes)
	for name, g := range v.groups {
		ga, err := te.elb.DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: g.TargetGroupArn})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, a := range ga.Attributes {
			m[*a.Key] = *a.Value
		}
		out.groupAttrs[name] = m
	}
	if l, ok := v.listeners[443]; ok {
		out.sslPolicy = awssdk.ToString(l.SslPolicy)
	}
	return out
}

// ingress is a group's ingress rules as "tcp/port from source", with each
// rule's tags.
func ingress(t *testing.T, ctx context.Context, c *ec2.Client, group string) map[string]map[string]string {
	t.Helper()
	out, err := c.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{
		Filters: []ec2types.Filter{{Name: awssdk.String("group-id"), Values: []string{group}}}})
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]map[string]string{}
	for _, r := range out.SecurityGroupRules {
		if awssdk.ToBool(r.IsEgress) {
			continue
		}
		src := awssdk.ToString(r.CidrIpv4) + awssdk.ToString(r.CidrIpv6)
		if r.ReferencedGroupInfo != nil {
			src = "group " + awssdk.ToString(r.ReferencedGroupInfo.GroupId)
		}
		rules[fmt.Sprintf("%s/%d from %s", awssdk.ToString(r.IpProtocol), awssdk.ToInt32(r.FromPort), src)] = ec2Tags(r.Tags)
	}
	return rules
}

// ownedGroups are the security groups with owner's tags.
func ownedGroups(t *testing.T, ctx context.Context, c *ec2.Client, o lb.Owner) []ec2types.SecurityGroup {
	t.Helper()
	out, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
		{Name: awssdk.String("tag:" + lb.TagGatewayUID), Values: []string{o.UID}}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.SecurityGroups
}

func keys(m map[string]map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// TestOptionsOnMoto sets every option the provider applies, checks each in
// the cloud with Describe calls, changes them in place, removes them (the
// defaults come back), and deletes a Gateway whose load balancer has
// deletion protection.
func TestOptionsOnMoto(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	cfg, err := te.moto.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ec := ec2.NewFromConfig(cfg)
	// The targets' security group, the user's: untagged, with a rule of
	// its own that must stay.
	bg, err := ec.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String("pods"), Description: awssdk.String("pods"), VpcId: &te.moto.VPCID})
	if err != nil {
		t.Fatal(err)
	}
	backend := *bg.GroupId
	if _, err := ec.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &backend, IpPermissions: []ec2types.IpPermission{
		{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(22), ToPort: awssdk.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: awssdk.String("10.9.0.0/16")}}}}}); err != nil {
		t.Fatal(err)
	}
	userRule := "tcp/22 from 10.9.0.0/16"

	cert := pemCertificate(t, "shop/a-tls", "a.example.com")
	model := func(o lb.Options) *lb.LoadBalancer {
		m := optionsModel(cert)
		m.Options = o
		return m
	}
	delay := 30 * time.Second
	full := lb.Options{IdleTimeout: 120 * time.Second, DeletionProtection: true, AccessLogs: &lb.AccessLogs{Bucket: "logs", Prefix: "shop"},
		AWS: &lb.AWSOptions{
			Attributes:            map[string]string{"routing.http2.enabled": "false", "client_keep_alive.seconds": "600"},
			TargetGroupAttributes: map[string]string{"slow_start.duration_seconds": "30"},
			Subnets:               te.moto.PrivateSubnetIDs,
			SourceRanges:          []string{"10.0.0.0/8", "2001:db8::/32"},
			BackendSecurityGroup:  backend,
			SSLPolicy:             "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
			DeregistrationDelay:   &delay,
		}}

	// Every option lands.
	te.calls.take()
	if _, err := te.prov.Ensure(ctx, model(full)); err != nil {
		t.Fatal(err)
	}
	t.Logf("create with options: %s", format(writes(te.calls.take())))
	v := te.options(t, ctx)
	for k, want := range map[string]string{"idle_timeout.timeout_seconds": "120", "deletion_protection.enabled": "true",
		"access_logs.s3.enabled": "true", "access_logs.s3.bucket": "logs", "access_logs.s3.prefix": "shop",
		"routing.http2.enabled": "false", "client_keep_alive.seconds": "600"} {
		if v.lbAttrs[k] != want {
			t.Errorf("load balancer attribute %s = %q, want %q", k, v.lbAttrs[k], want)
		}
	}
	if len(v.groupAttrs) != 3 {
		t.Fatalf("target groups %v", slices.Collect(maps.Keys(v.groupAttrs)))
	}
	for name, ga := range v.groupAttrs {
		if ga["deregistration_delay.timeout_seconds"] != "30" || ga["slow_start.duration_seconds"] != "30" {
			t.Errorf("group %s attributes %v, want a 30s deregistration delay and slow start", name, ga)
		}
	}
	if v.sslPolicy != "ELBSecurityPolicy-TLS13-1-2-Res-2021-06" {
		t.Errorf("HTTPS listener SSL policy %q", v.sslPolicy)
	}
	if !slices.Equal(v.subnets, sortedCopy(te.moto.PrivateSubnetIDs)) {
		t.Errorf("subnets %v, want the parameters' %v", v.subnets, te.moto.PrivateSubnetIDs)
	}
	owned := ownedGroups(t, ctx, ec, gatewayOwner)
	if len(owned) != 1 {
		t.Fatalf("owned security groups: %d, want 1", len(owned))
	}
	sg := *owned[0].GroupId
	if tags := ec2Tags(owned[0].Tags); !owns(tags, gatewayOwner) || tags[lb.TagResource] != logicalSG {
		t.Errorf("owned group tags %v", tags)
	}
	if !slices.Equal(v.lbGroups, []string{sg}) {
		t.Errorf("load balancer security groups %v, want the owned %s", v.lbGroups, sg)
	}
	wantIngress := []string{}
	for _, port := range []string{"80", "443", "8080"} {
		wantIngress = append(wantIngress, "tcp/"+port+" from 10.0.0.0/8", "tcp/"+port+" from 2001:db8::/32")
	}
	slices.Sort(wantIngress)
	in := ingress(t, ctx, ec, sg)
	if got := keys(in); !slices.Equal(got, wantIngress) {
		t.Errorf("owned group ingress %q, want %q", got, wantIngress)
	}
	for r, tags := range in {
		if !owns(tags, gatewayOwner) {
			t.Errorf("rule %s has tags %v, want the ownership tags", r, tags)
		}
	}
	// The backend group admits ours on the target ports (8080 and 80), in
	// rules tagged as ours, and keeps its own rule.
	bin := ingress(t, ctx, ec, backend)
	wantBackend := []string{"tcp/80 from group " + sg, "tcp/8080 from group " + sg, userRule}
	slices.Sort(wantBackend)
	if got := keys(bin); !slices.Equal(got, wantBackend) {
		t.Errorf("backend group ingress %q, want %q", got, wantBackend)
	}
	if len(bin[userRule]) != 0 {
		t.Errorf("the user's rule got tags %v", bin[userRule])
	}
	for r, tags := range bin {
		if r != userRule && !owns(tags, gatewayOwner) {
			t.Errorf("backend rule %s has tags %v", r, tags)
		}
	}

	// A no-op writes nothing.
	if _, err := te.prov.Ensure(ctx, model(full)); err != nil {
		t.Fatal(err)
	}
	noop := te.calls.take()
	t.Logf("no-op with options: %s", format(noop))
	if w := writes(noop); len(w) != 0 {
		t.Errorf("a no-op Ensure wrote %s", format(w))
	}

	// Changes update in place: one attributes call per resource, one
	// authorize and one revoke for the new source range.
	changed := full
	changed.IdleTimeout = 300 * time.Second
	changed.AccessLogs = nil
	aws := *full.AWS
	zero := time.Duration(0)
	aws.DeregistrationDelay = &zero
	aws.SourceRanges = []string{"10.0.0.0/8", "192.168.0.0/16"}
	aws.SSLPolicy = "ELBSecurityPolicy-TLS13-1-3-2021-06"
	changed.AWS = &aws
	res, err := te.prov.Ensure(ctx, model(changed))
	if err != nil {
		t.Fatal(err)
	}
	w := writes(te.calls.take())
	t.Logf("options changed: %s; plan: %s", format(w), res.Applied.Summary())
	if want := map[string]int{"ModifyLoadBalancerAttributes": 1, "ModifyTargetGroupAttributes": 3, "ModifyListener": 1,
		"AuthorizeSecurityGroupIngress": 1, "RevokeSecurityGroupIngress": 1}; !maps.Equal(w, want) {
		t.Errorf("changing options wrote %s, want %s", format(w), format(want))
	}
	v = te.options(t, ctx)
	if v.lbAttrs["idle_timeout.timeout_seconds"] != "300" || v.lbAttrs["access_logs.s3.enabled"] != "false" || v.lbAttrs["access_logs.s3.bucket"] != "" {
		t.Errorf("attributes after the change %v", v.lbAttrs)
	}
	for name, ga := range v.groupAttrs {
		if ga["deregistration_delay.timeout_seconds"] != "0" {
			t.Errorf("group %s deregistration delay %q, want 0", name, ga["deregistration_delay.timeout_seconds"])
		}
	}
	if v.sslPolicy != "ELBSecurityPolicy-TLS13-1-3-2021-06" {
		t.Errorf("SSL policy after the change %q", v.sslPolicy)
	}
	if got := keys(ingress(t, ctx, ec, sg)); !slices.Contains(got, "tcp/443 from 192.168.0.0/16") || slices.Contains(got, "tcp/443 from 2001:db8::/32") {
		t.Errorf("owned group ingress after the change %q", got)
	}
	if got := ownedGroups(t, ctx, ec, gatewayOwner); len(got) != 1 || *got[0].GroupId != sg {
		t.Errorf("the owned group was replaced: %v", got)
	}

	// A policy ELBv2 does not have is refused on the listener that asks
	// for it, before anything else changes.
	bogus := changed
	bogusAWS := *changed.AWS
	bogusAWS.SSLPolicy = "ELBSecurityPolicy-TLS13-9-9-2099-01"
	bogus.AWS = &bogusAWS
	_, err = te.prov.Ensure(ctx, model(bogus))
	var refusal *providers.InvalidError
	if !errors.As(err, &refusal) || !slices.Equal(refusal.Elements, []string{"https-443"}) {
		t.Errorf("an unknown SSL policy: %v, want an InvalidError naming https-443", err)
	}
	te.calls.take()

	// Removing the options restores AWS's defaults.
	if _, err := te.prov.Ensure(ctx, model(lb.Options{})); err != nil {
		t.Fatal(err)
	}
	t.Logf("options removed: %s", format(writes(te.calls.take())))
	v = te.options(t, ctx)
	for k, want := range albAttributeDefaults {
		if v.lbAttrs[k] != want {
			t.Errorf("after removal, attribute %s = %q, want the default %q", k, v.lbAttrs[k], want)
		}
	}
	for name, ga := range v.groupAttrs {
		for k, want := range groupAttributeDefaults {
			if ga[k] != want {
				t.Errorf("after removal, group %s attribute %s = %q, want the default %q", name, k, ga[k], want)
			}
		}
	}
	if v.sslPolicy != defaultSSLPolicy {
		t.Errorf("after removal, SSL policy %q, want %s", v.sslPolicy, defaultSSLPolicy)
	}
	if !slices.Equal(v.subnets, sortedCopy(te.moto.PublicSubnetIDs)) {
		t.Errorf("after removal, subnets %v, want the configured %v", v.subnets, te.moto.PublicSubnetIDs)
	}
	wantIngress = []string{"tcp/80 from 0.0.0.0/0", "tcp/443 from 0.0.0.0/0", "tcp/8080 from 0.0.0.0/0"}
	slices.Sort(wantIngress)
	if got := keys(ingress(t, ctx, ec, sg)); !slices.Equal(got, wantIngress) {
		t.Errorf("after removal, owned group ingress %q, want %q", got, wantIngress)
	}
	if got := keys(ingress(t, ctx, ec, backend)); !slices.Equal(got, []string{userRule}) {
		t.Errorf("after removal, backend group ingress %q, want only the user's rule", got)
	}
	if _, err := te.prov.Ensure(ctx, model(lb.Options{})); err != nil {
		t.Fatal(err)
	}
	if w := writes(te.calls.take()); len(w) != 0 {
		t.Errorf("a no-op Ensure at the defaults wrote %s", format(w))
	}

	// Deleting a Gateway whose load balancer is protected (motoext refuses
	// DeleteLoadBalancer then, as AWS does) deletes it, and the owned
	// group after it; the backend group keeps its own rule.
	if _, err := te.prov.Ensure(ctx, model(full)); err != nil {
		t.Fatal(err)
	}
	te.calls.take()
	arn := te.view(t, ctx).lb.LoadBalancerArn
	if _, err := te.elb.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: arn}); !isCode(err, "OperationNotPermitted") {
		t.Fatalf("deleting a protected load balancer directly: %v, want OperationNotPermitted", err)
	}
	if err := te.prov.Delete(ctx, gatewayOwner); err != nil {
		t.Fatal(err)
	}
	w = writes(te.calls.take())
	t.Logf("delete: %s", format(w))
	if want := map[string]int{"ModifyLoadBalancerAttributes": 1, "DeleteLoadBalancer": 1, "RevokeSecurityGroupIngress": 1,
		"DeleteSecurityGroup": 1, "DeleteTargetGroup": 3, "DeleteCertificate": 1}; !maps.Equal(w, want) {
		t.Errorf("Delete wrote %s, want %s (protection off, then the load balancer, the backend rules, our group)", format(w), format(want))
	}
	te.checkNothingOwned(t, ctx, gatewayOwner)
	if got := ownedGroups(t, ctx, ec, gatewayOwner); len(got) != 0 {
		t.Errorf("owned security groups left after Delete: %d", len(got))
	}
	if got := keys(ingress(t, ctx, ec, backend)); !slices.Equal(got, []string{userRule}) {
		t.Errorf("after Delete, backend group ingress %q, want only the user's rule", got)
	}
}

// TestGivenSecurityGroupsUntouched names a security group that is not
// ours: it is attached as it is and never modified, no group is created,
// and switching to an owned group and back creates and deletes only ours.
func TestGivenSecurityGroupsUntouched(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	cfg, err := te.moto.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ec := ec2.NewFromConfig(cfg)
	fg, err := ec.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String("edge"), Description: awssdk.String("edge"), VpcId: &te.moto.VPCID})
	if err != nil {
		t.Fatal(err)
	}
	foreign := *fg.GroupId
	if _, err := ec.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &foreign, IpPermissions: []ec2types.IpPermission{
		{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(443), ToPort: awssdk.Int32(443), IpRanges: []ec2types.IpRange{{CidrIp: awssdk.String("172.16.0.0/12")}}}}}); err != nil {
		t.Fatal(err)
	}
	before := ingress(t, ctx, ec, foreign)
	unchanged := func(when string) {
		t.Helper()
		got, err := ec.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{foreign}})
		if err != nil {
			t.Fatalf("%s: the foreign group: %v", when, err)
		}
		if tags := got.SecurityGroups[0].Tags; len(tags) != 0 {
			t.Errorf("%s: the foreign group got tags %v", when, tags)
		}
		if after := ingress(t, ctx, ec, foreign); !maps.EqualFunc(after, before, func(a, b map[string]string) bool { return maps.Equal(a, b) }) {
			t.Errorf("%s: the foreign group's ingress changed: %v → %v", when, keys(before), keys(after))
		}
	}
	given := gatewayModel()
	given.Options.AWS = &lb.AWSOptions{SecurityGroups: []string{foreign}}
	if _, err := te.prov.Ensure(ctx, given); err != nil {
		t.Fatal(err)
	}
	if v := te.options(t, ctx); !slices.Equal(v.lbGroups, []string{foreign}) {
		t.Errorf("load balancer security groups %v, want the given %s", v.lbGroups, foreign)
	}
	if got := ownedGroups(t, ctx, ec, gatewayOwner); len(got) != 0 {
		t.Errorf("a group was created next to the given one: %d", len(got))
	}
	unchanged("after Ensure")
	te.calls.take()

	// To the owned group and back: SetSecurityGroups each way, our group
	// created, then deleted.
	if _, err := te.prov.Ensure(ctx, gatewayModel()); err != nil {
		t.Fatal(err)
	}
	w := writes(te.calls.take())
	if want := map[string]int{"CreateSecurityGroup": 1, "AuthorizeSecurityGroupIngress": 1, "SetSecurityGroups": 1}; !maps.Equal(w, want) {
		t.Errorf("switching to the owned group wrote %s, want %s", format(w), format(want))
	}
	owned := ownedGroups(t, ctx, ec, gatewayOwner)
	if len(owned) != 1 {
		t.Fatalf("owned groups %d, want 1", len(owned))
	}
	if v := te.options(t, ctx); !slices.Equal(v.lbGroups, []string{*owned[0].GroupId}) {
		t.Errorf("load balancer security groups %v, want the owned %s", v.lbGroups, *owned[0].GroupId)
	}
	if _, err := te.prov.Ensure(ctx, given); err != nil {
		t.Fatal(err)
	}
	w = writes(te.calls.take())
	if want := map[string]int{"SetSecurityGroups": 1, "DeleteSecurityGroup": 1}; !maps.Equal(w, want) {
		t.Errorf("switching back to the given group wrote %s, want %s", format(w), format(want))
	}
	if got := ownedGroups(t, ctx, ec, gatewayOwner); len(got) != 0 {
		t.Errorf("owned groups left after switching back: %d", len(got))
	}
	unchanged("after switching")
	if err := te.prov.Delete(ctx, gatewayOwner); err != nil {
		t.Fatal(err)
	}
	te.checkNothingOwned(t, ctx, gatewayOwner)
	unchanged("after Delete")
}
