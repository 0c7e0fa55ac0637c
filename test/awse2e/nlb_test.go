package awse2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

func tcpRoute(ns, name, gw, section, svc string, port int32) *gwv1.TCPRoute {
	p := gwv1.PortNumber(port)
	r := &gwv1.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	r.Spec.ParentRefs = []gwv1.ParentReference{{Name: gwv1.ObjectName(gw)}}
	if section != "" {
		s := gwv1.SectionName(section)
		r.Spec.ParentRefs[0].SectionName = &s
	}
	r.Spec.Rules = []gwv1.TCPRouteRule{{BackendRefs: []gwv1.BackendRef{{BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(svc), Port: &p}}}}}
	return r
}

// A Gateway with a TCP listener becomes an NLB with a TCP listener
// forwarding to an IP target group of the Service's endpoints.
func TestTCPGatewayBecomesAnNLB(t *testing.T) {
	ns := namespace(t)
	service(t, ns, "db", 5432, "10.0.8.10", "10.0.8.11")
	create(t, gateway(ns, "db", listener("pg", gwv1.TCPProtocolType, 5432)), tcpRoute(ns, "db", "db", "", "db", 5432))
	addr := programmed(t, ns, "db")
	uid := string(getGateway(t, ns, "db").UID)
	// Programmed may come first with the listener alone (the route not
	// yet seen), forwarding to an empty group: wait for the route's.
	var c *cloud
	eventually(t, 30*time.Second, func() error {
		c = cloudOf(t, uid)
		if len(c.Groups) != 1 || len(c.Groups[0].Targets) != 2 {
			return fmt.Errorf("%d target groups, want 1 with the Service's 2 endpoints", len(c.Groups))
		}
		return nil
	})
	if len(c.LBs) != 1 || c.LBs[0].Type != elbtypes.LoadBalancerTypeEnumNetwork {
		t.Fatalf("load balancers %+v, want one NLB", c.LBs)
	}
	if awssdk.ToString(c.LBs[0].DNSName) != addr {
		t.Errorf("Gateway address %q, NLB DNS name %q", addr, awssdk.ToString(c.LBs[0].DNSName))
	}
	l := c.listenerOn(t, 5432)
	if l.Protocol != elbtypes.ProtocolEnumTcp || len(l.DefaultActions) != 1 {
		t.Fatalf("listener %s with %d default actions, want TCP forwarding", l.Protocol, len(l.DefaultActions))
	}
	if len(c.Groups) != 1 {
		t.Fatalf("%d target groups, want 1", len(c.Groups))
	}
	g := c.Groups[0]
	if g.Protocol != elbtypes.ProtocolEnumTcp || g.TargetType != elbtypes.TargetTypeEnumIp ||
		!slices.Equal(g.Targets, []string{"10.0.8.10:5432", "10.0.8.11:5432"}) {
		t.Errorf("target group %s %s targets %v, want TCP ip targets 10.0.8.10-11:5432", g.Protocol, g.TargetType, g.Targets)
	}
	forwards := l.DefaultActions[0].TargetGroupArn
	if cfg := l.DefaultActions[0].ForwardConfig; forwards == nil && cfg != nil && len(cfg.TargetGroups) == 1 {
		forwards = cfg.TargetGroups[0].TargetGroupArn
	}
	if awssdk.ToString(forwards) != awssdk.ToString(g.TargetGroupArn) {
		t.Errorf("listener forwards to %s, want %s", awssdk.ToString(forwards), awssdk.ToString(g.TargetGroupArn))
	}
	for arn, tags := range c.Tags {
		if tags[lb.TagGatewayUID] != uid || tags[lb.TagCluster] != clusterName {
			t.Errorf("%s tags %v, want the ownership tags", arn, tags)
		}
	}
	must(t, suite.c.Delete(ctxFor(t), getGateway(t, ns, "db")))
	eventually(t, 60*time.Second, func() error { return leftovers(t, uid) })
}

// A Gateway with HTTP and TCP listeners gets an ALB and an NLB, both its
// own, both in its addresses, and says so in its Programmed message.
func TestMixedGatewaySplitsAcrossAnALBAndAnNLB(t *testing.T) {
	ns := namespace(t)
	service(t, ns, "web", 8080, "10.0.9.10")
	service(t, ns, "db", 5432, "10.0.9.20")
	create(t, gateway(ns, "mixed", listener("http", gwv1.HTTPProtocolType, 80), listener("pg", gwv1.TCPProtocolType, 5432)),
		route(ns, "web", "mixed", nil, rule(prefix("/"), backendRef("web", 8080, 1))),
		tcpRoute(ns, "db", "mixed", "pg", "db", 5432))
	programmed(t, ns, "mixed")
	gw := getGateway(t, ns, "mixed")
	uid := string(gw.UID)
	c := cloudOf(t, uid)
	types := map[elbtypes.LoadBalancerTypeEnum]string{}
	for _, l := range c.LBs {
		types[l.Type] = awssdk.ToString(l.DNSName)
	}
	if len(c.LBs) != 2 || types[elbtypes.LoadBalancerTypeEnumApplication] == "" || types[elbtypes.LoadBalancerTypeEnumNetwork] == "" {
		t.Fatalf("load balancers %v, want an ALB and an NLB", types)
	}
	var addrs []string
	for _, a := range gw.Status.Addresses {
		addrs = append(addrs, a.Value)
	}
	if want := []string{types[elbtypes.LoadBalancerTypeEnumApplication], types[elbtypes.LoadBalancerTypeEnumNetwork]}; !slices.Equal(addrs, want) {
		t.Errorf("Gateway addresses %v, want the ALB's then the NLB's %v", addrs, want)
	}
	p := meta.FindStatusCondition(gw.Status.Conditions, string(gwv1.GatewayConditionProgrammed))
	if p == nil || !strings.Contains(p.Message, "NLB") || !strings.Contains(p.Message, "ALB") {
		t.Errorf("Programmed = %+v, want a message naming the split", p)
	}
	t.Logf("Programmed message: %s", p.Message)
	must(t, suite.c.Delete(ctxFor(t), gw))
	eventually(t, 60*time.Second, func() error { return leftovers(t, uid) })
}
