package awse2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// rules makes route rules to svc with n matches in all, Exact paths
// /<name>-0 ...: each match is one ALB rule. A route has at most 16 rules,
// so they take several matches each.
func rules(name string, n int, svc string) []gwv1.HTTPRouteRule {
	var out []gwv1.HTTPRouteRule
	for i := range n {
		if i%8 == 0 {
			out = append(out, gwv1.HTTPRouteRule{BackendRefs: []gwv1.HTTPBackendRef{backendRef(svc, 8080, 1)}})
		}
		r := &out[len(out)-1]
		r.Matches = append(r.Matches, exact(fmt.Sprintf("/%s-%d", name, i)))
	}
	return out
}

// A route that does not fit in an ALB's rule quota is refused by name, and
// everything that fits keeps working: the older route, and a route added
// afterwards that still fits.
func TestRouteOverTheRuleQuota(t *testing.T) {
	ns := namespace(t)
	service(t, ns, "app", 8080, "10.0.3.10")
	create(t, gateway(ns, "big", listener("http", gwv1.HTTPProtocolType, 80)),
		route(ns, "first", "big", nil, rules("first", 60, "app")...))
	programmed(t, ns, "big")
	routeCondition(t, ns, "first", string(gwv1.RouteConditionAccepted), metav1.ConditionTrue, "")
	// 60 + 40 rules: over the 90 an ALB leaves for routes (100 less the
	// hostname catch-alls' reserve).
	time.Sleep(1100 * time.Millisecond) // a later creation time: "second" is the newer route
	create(t, route(ns, "second", "big", nil, rules("second", 40, "app")...))
	routeCondition(t, ns, "second", string(gwv1.RouteConditionAccepted), metav1.ConditionFalse, "does not fit: provider aws takes at most 90 rules on one port")
	create(t, route(ns, "small", "big", nil, rules("small", 5, "app")...))
	routeCondition(t, ns, "small", string(gwv1.RouteConditionAccepted), metav1.ConditionTrue, "")

	uid := string(getGateway(t, ns, "big").UID)
	eventually(t, 30*time.Second, func() error {
		c := cloudOf(t, uid)
		got := c.rendered(c.listenerOn(t, 80))
		var first, second, small int
		for _, r := range got {
			switch {
			case strings.Contains(r, "=/first-"):
				first++
			case strings.Contains(r, "=/second-"):
				second++
			case strings.Contains(r, "=/small-"):
				small++
			}
		}
		if first != 60 || second != 0 || small != 5 {
			return fmt.Errorf("rules on the ALB: %d of first, %d of second, %d of small; want 60, 0, 5", first, second, small)
		}
		return nil
	})
	programmed(t, ns, "big")
}

// Resources without our tags are never modified or deleted: a foreign load
// balancer and target group made beforehand, one of them holding the very
// name the controller would give its own, stay as they were through a
// Gateway's whole life.
func TestForeignResourcesUntouched(t *testing.T) {
	ns := namespace(t)
	service(t, ns, "app", 8080, "10.0.4.10")
	foreignLB, err := suite.elb.CreateLoadBalancer(ctxFor(t), &elbv2.CreateLoadBalancerInput{
		Name: awssdk.String("someone-elses-alb"), Subnets: suite.moto.PublicSubnetIDs, Type: elbtypes.LoadBalancerTypeEnumApplication,
		Tags: []elbtypes.Tag{{Key: awssdk.String("owner"), Value: awssdk.String("another-team")}},
	})
	must(t, err)
	lbARN := awssdk.ToString(foreignLB.LoadBalancers[0].LoadBalancerArn)
	foreignTG, err := suite.elb.CreateTargetGroup(ctxFor(t), &elbv2.CreateTargetGroupInput{
		Name: awssdk.String("someone-elses-tg"), Protocol: elbtypes.ProtocolEnumHttp, Port: awssdk.Int32(8080),
		VpcId: awssdk.String(suite.moto.VPCID), TargetType: elbtypes.TargetTypeEnumIp,
	})
	must(t, err)
	tgARN := awssdk.ToString(foreignTG.TargetGroups[0].TargetGroupArn)
	_, err = suite.elb.RegisterTargets(ctxFor(t), &elbv2.RegisterTargetsInput{TargetGroupArn: &tgARN,
		Targets: []elbtypes.TargetDescription{{Id: awssdk.String("10.0.4.99"), Port: awssdk.Int32(8080)}}})
	must(t, err)
	_, err = suite.elb.CreateListener(ctxFor(t), &elbv2.CreateListenerInput{LoadBalancerArn: &lbARN, Port: awssdk.Int32(80),
		Protocol: elbtypes.ProtocolEnumHttp, DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: &tgARN}}})
	must(t, err)
	snapshot := func() string {
		t.Helper()
		var b strings.Builder
		l, err := suite.elb.DescribeLoadBalancers(ctxFor(t), &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{lbARN}})
		must(t, err)
		fmt.Fprintf(&b, "lb %s %s %s; ", *l.LoadBalancers[0].LoadBalancerName, l.LoadBalancers[0].Scheme, *l.LoadBalancers[0].DNSName)
		ls, err := suite.elb.DescribeListeners(ctxFor(t), &elbv2.DescribeListenersInput{LoadBalancerArn: &lbARN})
		must(t, err)
		for _, x := range ls.Listeners {
			fmt.Fprintf(&b, "listener %d %s -> %s; ", *x.Port, x.Protocol, *x.DefaultActions[0].TargetGroupArn)
		}
		h, err := suite.elb.DescribeTargetHealth(ctxFor(t), &elbv2.DescribeTargetHealthInput{TargetGroupArn: &tgARN})
		must(t, err)
		for _, d := range h.TargetHealthDescriptions {
			fmt.Fprintf(&b, "target %s:%d; ", *d.Target.Id, *d.Target.Port)
		}
		tags := tagsOf(t, []string{lbARN, tgARN})
		fmt.Fprintf(&b, "tags %v %v", tags[lbARN], tags[tgARN])
		return b.String()
	}
	before := snapshot()

	create(t, gateway(ns, "gw", listener("http", gwv1.HTTPProtocolType, 80)),
		route(ns, "r", "gw", nil, rule(prefix("/"), backendRef("app", 8080, 1))))
	programmed(t, ns, "gw")
	uid := string(getGateway(t, ns, "gw").UID)
	must(t, suite.c.Delete(ctxFor(t), getGateway(t, ns, "gw")))
	eventually(t, 60*time.Second, func() error { return leftovers(t, uid) })
	if after := snapshot(); after != before {
		t.Errorf("foreign resources changed:\n before %s\n after  %s", before, after)
	}
	var names []string
	for _, l := range allLoadBalancers(t) {
		names = append(names, *l.LoadBalancerName)
	}
	if !slices.Contains(names, "someone-elses-alb") {
		t.Errorf("the foreign load balancer is gone: %v", names)
	}
}
