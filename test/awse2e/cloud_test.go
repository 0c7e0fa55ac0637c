package awse2e

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// What moto holds, read with the SDK's Describe calls: the tests' only
// source of truth about the cloud.

// cloud is every ELBv2 resource tagged for one Gateway.
type cloud struct {
	LBs       []elbtypes.LoadBalancer
	Listeners []listenerView               // by load balancer, then port
	Groups    []groupView                  // by name
	Tags      map[string]map[string]string // of those resources only, by ARN
}

type listenerView struct {
	elbtypes.Listener
	Rules []elbtypes.Rule // by priority, the default rule last
	// SNI are the certificates that are not the default one.
	SNI []string
}

type groupView struct {
	elbtypes.TargetGroup
	Targets []string // "ip:port", sorted
}

// tagsOf reads the tags of arns, 20 at a time.
func tagsOf(t testing.TB, arns []string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for batch := range slices.Chunk(arns, 20) {
		res, err := suite.elb.DescribeTags(ctxFor(t), &elbv2.DescribeTagsInput{ResourceArns: batch})
		must(t, err)
		for _, d := range res.TagDescriptions {
			m := map[string]string{}
			for _, tag := range d.Tags {
				m[awssdk.ToString(tag.Key)] = awssdk.ToString(tag.Value)
			}
			out[awssdk.ToString(d.ResourceArn)] = m
		}
	}
	return out
}

func allLoadBalancers(t testing.TB) []elbtypes.LoadBalancer {
	t.Helper()
	var out []elbtypes.LoadBalancer
	p := elbv2.NewDescribeLoadBalancersPaginator(suite.elb, &elbv2.DescribeLoadBalancersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctxFor(t))
		must(t, err)
		out = append(out, page.LoadBalancers...)
	}
	return out
}

func allTargetGroups(t testing.TB) []elbtypes.TargetGroup {
	t.Helper()
	var out []elbtypes.TargetGroup
	p := elbv2.NewDescribeTargetGroupsPaginator(suite.elb, &elbv2.DescribeTargetGroupsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctxFor(t))
		must(t, err)
		out = append(out, page.TargetGroups...)
	}
	return out
}

// cloudOf reads everything tagged with the Gateway's uid.
func cloudOf(t testing.TB, uid string) *cloud {
	t.Helper()
	c := &cloud{}
	lbs, groups := allLoadBalancers(t), allTargetGroups(t)
	var arns []string
	for _, l := range lbs {
		arns = append(arns, awssdk.ToString(l.LoadBalancerArn))
	}
	for _, g := range groups {
		arns = append(arns, awssdk.ToString(g.TargetGroupArn))
	}
	all := tagsOf(t, arns)
	c.Tags = map[string]map[string]string{}
	ours := func(arn *string) bool {
		tags := all[awssdk.ToString(arn)]
		if tags[lb.TagGatewayUID] != uid {
			return false
		}
		c.Tags[awssdk.ToString(arn)] = tags
		return true
	}
	for _, l := range lbs {
		if !ours(l.LoadBalancerArn) {
			continue
		}
		c.LBs = append(c.LBs, l)
		ls, err := suite.elb.DescribeListeners(ctxFor(t), &elbv2.DescribeListenersInput{LoadBalancerArn: l.LoadBalancerArn})
		if gone(err) {
			continue
		}
		must(t, err)
		slices.SortFunc(ls.Listeners, func(a, b elbtypes.Listener) int { return cmp.Compare(*a.Port, *b.Port) })
		for _, x := range ls.Listeners {
			v := listenerView{Listener: x}
			for marker := (*string)(nil); ; {
				rs, err := suite.elb.DescribeRules(ctxFor(t), &elbv2.DescribeRulesInput{ListenerArn: x.ListenerArn, Marker: marker})
				if gone(err) {
					break
				}
				must(t, err)
				v.Rules = append(v.Rules, rs.Rules...)
				if marker = rs.NextMarker; awssdk.ToString(marker) == "" {
					break
				}
			}
			slices.SortFunc(v.Rules, func(a, b elbtypes.Rule) int { return cmp.Compare(priority(a), priority(b)) })
			if x.Protocol == elbtypes.ProtocolEnumHttps || x.Protocol == elbtypes.ProtocolEnumTls {
				cs, err := suite.elb.DescribeListenerCertificates(ctxFor(t), &elbv2.DescribeListenerCertificatesInput{ListenerArn: x.ListenerArn})
				if gone(err) {
					continue
				}
				must(t, err)
				for _, cert := range cs.Certificates {
					if !awssdk.ToBool(cert.IsDefault) {
						v.SNI = append(v.SNI, awssdk.ToString(cert.CertificateArn))
					}
				}
				slices.Sort(v.SNI)
			}
			c.Listeners = append(c.Listeners, v)
		}
		var rules []string
		for _, x := range c.Listeners {
			for _, r := range x.Rules {
				// A default rule is the listener's, tagged as the
				// listener.
				if !awssdk.ToBool(r.IsDefault) {
					rules = append(rules, awssdk.ToString(r.RuleArn))
				}
			}
		}
		for arn, tags := range tagsOf(t, rules) {
			c.Tags[arn] = tags
		}
	}
	for _, g := range groups {
		if !ours(g.TargetGroupArn) {
			continue
		}
		v := groupView{TargetGroup: g}
		h, err := suite.elb.DescribeTargetHealth(ctxFor(t), &elbv2.DescribeTargetHealthInput{TargetGroupArn: g.TargetGroupArn})
		if gone(err) {
			// Deleted since it was listed: the controller is still
			// converging (a TCP listener seen before its route forwards
			// to an empty group until the route arrives).
			continue
		}
		must(t, err)
		for _, d := range h.TargetHealthDescriptions {
			v.Targets = append(v.Targets, net.JoinHostPort(awssdk.ToString(d.Target.Id), strconv.Itoa(int(awssdk.ToInt32(d.Target.Port)))))
		}
		slices.Sort(v.Targets)
		c.Groups = append(c.Groups, v)
	}
	slices.SortFunc(c.Groups, func(a, b groupView) int { return cmp.Compare(*a.TargetGroupName, *b.TargetGroupName) })
	return c
}

// priority orders rules, the default rule last.
func priority(r elbtypes.Rule) int {
	if awssdk.ToBool(r.IsDefault) {
		return 1 << 30
	}
	n, _ := strconv.Atoi(awssdk.ToString(r.Priority))
	return n
}

// group returns the target group of the model's logical id.
func (c *cloud) group(t testing.TB, logical string) *groupView {
	t.Helper()
	for i := range c.Groups {
		if c.Tags[awssdk.ToString(c.Groups[i].TargetGroupArn)][lb.TagResource] == logical {
			return &c.Groups[i]
		}
	}
	t.Fatalf("no target group %s", logical)
	return nil
}

// listenerOn returns the listener on port.
func (c *cloud) listenerOn(t testing.TB, port int32) *listenerView {
	t.Helper()
	for i := range c.Listeners {
		if awssdk.ToInt32(c.Listeners[i].Port) == port {
			return &c.Listeners[i]
		}
	}
	t.Fatalf("no listener on port %d", port)
	return nil
}

// ownedCertificates are the ACM certificates tagged for the Gateway uid.
func ownedCertificates(t testing.TB, uid string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	p := acm.NewListCertificatesPaginator(suite.acm, &acm.ListCertificatesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctxFor(t))
		must(t, err)
		for _, s := range page.CertificateSummaryList {
			tags, err := suite.acm.ListTagsForCertificate(ctxFor(t), &acm.ListTagsForCertificateInput{CertificateArn: s.CertificateArn})
			must(t, err)
			m := map[string]string{}
			for _, tag := range tags.Tags {
				m[awssdk.ToString(tag.Key)] = awssdk.ToString(tag.Value)
			}
			if m[lb.TagGatewayUID] == uid {
				out[awssdk.ToString(s.CertificateArn)] = m
			}
		}
	}
	return out
}

// leftovers lists what still carries the Gateway uid's tags.
func leftovers(t testing.TB, uid string) error {
	t.Helper()
	c := cloudOf(t, uid)
	certs := ownedCertificates(t, uid)
	if len(c.LBs)+len(c.Groups)+len(certs) == 0 {
		return nil
	}
	return fmt.Errorf("left behind: %d load balancers, %d target groups, %d certificates", len(c.LBs), len(c.Groups), len(certs))
}

// gone says that a resource listed a moment ago was deleted since: the
// controller may be applying a change while a test looks, and the next look
// sees the cloud without it.
func gone(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "LoadBalancerNotFound", "ListenerNotFound", "TargetGroupNotFound", "RuleNotFound":
		return true
	}
	return false
}
