package awse2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// securityGroupsOf are the security groups tagged for the Gateway uid, with
// their ingress as "port from source".
func securityGroupsOf(t testing.TB, uid string) map[string][]string {
	t.Helper()
	out, err := suite.ec2.DescribeSecurityGroups(ctxFor(t), &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
		{Name: awssdk.String("tag:" + lb.TagGatewayUID), Values: []string{uid}}}})
	must(t, err)
	groups := map[string][]string{}
	for _, g := range out.SecurityGroups {
		rules, err := suite.ec2.DescribeSecurityGroupRules(ctxFor(t), &ec2.DescribeSecurityGroupRulesInput{Filters: []ec2types.Filter{
			{Name: awssdk.String("group-id"), Values: []string{*g.GroupId}}}})
		must(t, err)
		var in []string
		for _, r := range rules.SecurityGroupRules {
			if !awssdk.ToBool(r.IsEgress) {
				in = append(in, fmt.Sprintf("%d from %s%s", awssdk.ToInt32(r.FromPort), awssdk.ToString(r.CidrIpv4), awssdk.ToString(r.CidrIpv6)))
			}
		}
		slices.Sort(in)
		groups[*g.GroupId] = in
	}
	return groups
}

// TestParametersReachTheALB: a Gateway's LoadBalancerParameters become the
// ALB's attributes, its target groups' and its security group's rules;
// a change to them is applied in place, given security groups replace the
// owned one, and deleting the Gateway leaves nothing of ours.
func TestParametersReachTheALB(t *testing.T) {
	ns := namespace(t)
	service(t, ns, "app", 8080, "10.0.4.10")
	fg, err := suite.ec2.CreateSecurityGroup(ctxFor(t), &ec2.CreateSecurityGroupInput{GroupName: awssdk.String(ns + "-edge"),
		Description: awssdk.String("the user's"), VpcId: &suite.moto.VPCID})
	must(t, err)
	foreign := *fg.GroupId

	params := &v1alpha1.LoadBalancerParameters{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lb"}, Spec: v1alpha1.LoadBalancerParametersSpec{
		IdleTimeout: &metav1.Duration{Duration: 120 * time.Second},
		AWS: &v1alpha1.AWSParameters{SourceRanges: []string{"10.0.0.0/8"}, DeregistrationDelay: &metav1.Duration{Duration: 10 * time.Second},
			Attributes: map[string]string{"routing.http2.enabled": "false"}},
	}}
	gw := gateway(ns, "gw", listener("http", gwv1.HTTPProtocolType, 80))
	gw.Spec.Infrastructure = &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{
		Group: gwv1.Group(v1alpha1.GroupVersion.Group), Kind: v1alpha1.KindLoadBalancerParameters, Name: "lb"}}
	create(t, params, gw, route(ns, "r", "gw", nil, rule(prefix("/"), backendRef("app", 8080, 1))))
	programmed(t, ns, "gw")
	uid := string(getGateway(t, ns, "gw").UID)

	state := func() (attrs, groupAttrs map[string]string, lbGroups []string) {
		c := cloudOf(t, uid)
		if len(c.LBs) != 1 || len(c.Groups) != 1 {
			return nil, nil, nil
		}
		la, err := suite.elb.DescribeLoadBalancerAttributes(ctxFor(t), &elbv2.DescribeLoadBalancerAttributesInput{LoadBalancerArn: c.LBs[0].LoadBalancerArn})
		must(t, err)
		attrs = map[string]string{}
		for _, a := range la.Attributes {
			attrs[*a.Key] = *a.Value
		}
		ga, err := suite.elb.DescribeTargetGroupAttributes(ctxFor(t), &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: c.Groups[0].TargetGroupArn})
		must(t, err)
		groupAttrs = map[string]string{}
		for _, a := range ga.Attributes {
			groupAttrs[*a.Key] = *a.Value
		}
		return attrs, groupAttrs, sortedStrings(c.LBs[0].SecurityGroups)
	}
	expect := func(idle, http2, delay string, ingress []string, given bool) {
		t.Helper()
		eventually(t, 30*time.Second, func() error {
			attrs, groupAttrs, lbGroups := state()
			if attrs["idle_timeout.timeout_seconds"] != idle || attrs["routing.http2.enabled"] != http2 {
				return fmt.Errorf("load balancer attributes %v, want idle timeout %s and http2 %s", attrs, idle, http2)
			}
			if groupAttrs["deregistration_delay.timeout_seconds"] != delay {
				return fmt.Errorf("target group attributes %v, want deregistration delay %s", groupAttrs, delay)
			}
			owned := securityGroupsOf(t, uid)
			if given {
				if len(owned) != 0 || !slices.Equal(lbGroups, []string{foreign}) {
					return fmt.Errorf("security groups %v (owned %v), want only the given %s", lbGroups, owned, foreign)
				}
				return nil
			}
			if len(owned) != 1 {
				return fmt.Errorf("owned security groups %v, want one", owned)
			}
			for id, in := range owned {
				if !slices.Equal(lbGroups, []string{id}) || !slices.Equal(in, ingress) {
					return fmt.Errorf("load balancer groups %v, owned %s with ingress %q; want it alone, with %q", lbGroups, id, in, ingress)
				}
			}
			return nil
		})
	}
	expect("120", "false", "10", []string{"80 from 10.0.0.0/8"}, false)

	update(t, params, func(p *v1alpha1.LoadBalancerParameters) {
		p.Spec.IdleTimeout = &metav1.Duration{Duration: 300 * time.Second}
		p.Spec.AWS.SourceRanges = []string{"192.168.0.0/16"}
		p.Spec.AWS.DeregistrationDelay = nil
		p.Spec.AWS.Attributes = nil
	})
	expect("300", "true", "300", []string{"80 from 192.168.0.0/16"}, false)

	update(t, params, func(p *v1alpha1.LoadBalancerParameters) {
		p.Spec.AWS.SourceRanges = nil
		p.Spec.AWS.SecurityGroups = []string{foreign}
	})
	expect("300", "true", "300", nil, true)

	must(t, suite.c.Delete(ctxFor(t), getGateway(t, ns, "gw")))
	eventually(t, 60*time.Second, func() error {
		if err := leftovers(t, uid); err != nil {
			return err
		}
		if g := securityGroupsOf(t, uid); len(g) != 0 {
			return fmt.Errorf("security groups left: %v", g)
		}
		return nil
	})
	_, err = suite.ec2.DescribeSecurityGroups(ctxFor(t), &ec2.DescribeSecurityGroupsInput{GroupIds: []string{foreign}})
	must(t, err)
}

func sortedStrings(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
