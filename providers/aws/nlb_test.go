package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

var l4Owner = lb.Owner{Cluster: "cloudgate-aws-test", Namespace: "games", Name: "arena", UID: "7f1e0c2a-uid"}

func stream(name string, backends ...any) lb.Stream {
	return lb.Stream{Name: name, Backends: fwd(backends...).Forward}
}

func l4Group(name string, p lb.Protocol, ips ...string) lb.TargetGroup {
	g := lb.TargetGroup{Name: name, Protocol: p}
	for _, ip := range ips {
		g.Targets = append(g.Targets, lb.Target{IP: ip, Port: 5000})
	}
	return g
}

// tcpModel is a Gateway with one TCP listener, as mapping builds it for a
// TCPRoute to Service arena port 5000.
func tcpModel() *lb.LoadBalancer {
	return &lb.LoadBalancer{
		Owner:        l4Owner,
		Tags:         map[string]string{"team": "games"},
		TargetGroups: []lb.TargetGroup{l4Group("games/arena:5000/tcp", lb.ProtocolTCP, "10.0.2.11", "10.0.2.12")},
		Listeners: []lb.Listener{{Name: "tcp-5000", Port: 5000, Protocol: lb.ProtocolTCP,
			Streams: []lb.Stream{stream("games/arena/rule-0", "games/arena:5000/tcp", 1)}}},
	}
}

// nlbView is owner's NLB as Describe calls on the test's own client show it.
type nlbView struct {
	lb        elbtypes.LoadBalancer
	tags      map[string]string
	listeners map[int32]elbtypes.Listener
	groups    map[string]elbtypes.TargetGroup // by ARN
	groupTags map[string]map[string]string    // by ARN
	targets   map[string][]string             // by ARN
}

func (te *testEnv) nlbView(t *testing.T, ctx context.Context, o lb.Owner) *nlbView {
	t.Helper()
	lbs, err := te.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{nlbName(o)}})
	if err != nil {
		t.Fatalf("the NLB: %v", err)
	}
	v := &nlbView{lb: lbs.LoadBalancers[0], listeners: map[int32]elbtypes.Listener{}, groups: map[string]elbtypes.TargetGroup{},
		targets: map[string][]string{}}
	tags, err := te.tags(ctx, *v.lb.LoadBalancerArn)
	if err != nil {
		t.Fatal(err)
	}
	v.tags = tags[*v.lb.LoadBalancerArn]
	ls, err := te.elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: v.lb.LoadBalancerArn})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls.Listeners {
		if _, dup := v.listeners[*l.Port]; dup {
			t.Errorf("two listeners on port %d", *l.Port)
		}
		v.listeners[*l.Port] = l
	}
	// Every group owner's tags mark, not only those DescribeTargetGroups
	// lists for the NLB: moto 5.2.1 does not associate a group that a
	// ModifyListener starts forwarding to.
	tgs, err := te.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, g := range tgs.TargetGroups {
		all = append(all, *g.TargetGroupArn)
	}
	allTags, err := te.tags(ctx, all...)
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, g := range tgs.TargetGroups {
		if tags := allTags[*g.TargetGroupArn]; !owns(tags, o) || tags[lb.TagResource] == "" || !isNLBGroup(g.Protocol) {
			continue
		}
		v.groups[*g.TargetGroupArn] = g
		arns = append(arns, *g.TargetGroupArn)
		th, err := te.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: g.TargetGroupArn})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range th.TargetHealthDescriptions {
			v.targets[*g.TargetGroupArn] = append(v.targets[*g.TargetGroupArn], targetID(lb.Target{IP: *d.Target.Id, Port: *d.Target.Port}))
		}
		slices.Sort(v.targets[*g.TargetGroupArn])
	}
	if v.groupTags, err = te.tags(ctx, arns...); err != nil {
		t.Fatal(err)
	}
	return v
}

func isNLBGroup(p elbtypes.ProtocolEnum) bool {
	return p == elbtypes.ProtocolEnumTcp || p == elbtypes.ProtocolEnumUdp || p == elbtypes.ProtocolEnumTcpUdp || p == elbtypes.ProtocolEnumTls
}

// forwards is a listener's default action as target group ARN → weight.
func forwards(t *testing.T, l elbtypes.Listener) map[string]int32 {
	t.Helper()
	if len(l.DefaultActions) != 1 || l.DefaultActions[0].Type != elbtypes.ActionTypeEnumForward {
		t.Fatalf("listener %d default actions = %+v, want one forward", *l.Port, l.DefaultActions)
	}
	a := l.DefaultActions[0]
	out := map[string]int32{}
	if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
		for _, g := range a.ForwardConfig.TargetGroups {
			out[*g.TargetGroupArn] = awssdk.ToInt32(g.Weight)
		}
	} else {
		out[awssdk.ToString(a.TargetGroupArn)] = 1
	}
	return out
}

// group is the one group of v whose resource tag is logical.
func (v *nlbView) group(t *testing.T, logical string) elbtypes.TargetGroup {
	t.Helper()
	for arn, tags := range v.groupTags {
		if tags[lb.TagResource] == logical {
			return v.groups[arn]
		}
	}
	t.Fatalf("no target group %q among %v", logical, slices.Collect(maps.Values(v.groupTags)))
	return elbtypes.TargetGroup{}
}

func TestNLBTCP(t *testing.T) {
	te := start(t)
	ctx := t.Context()

	te.calls.take()
	res, err := te.prov.Ensure(ctx, tcpModel())
	if err != nil {
		t.Fatal(err)
	}
	created := te.calls.take()
	t.Logf("create: %s; plan: %s", format(created), res.Applied.Summary())
	v := te.nlbView(t, ctx, l4Owner)
	if v.lb.Type != elbtypes.LoadBalancerTypeEnumNetwork || v.lb.Scheme != elbtypes.LoadBalancerSchemeEnumInternetFacing {
		t.Errorf("load balancer type %s scheme %s, want an internet-facing network one", v.lb.Type, v.lb.Scheme)
	}
	if v.tags[lb.TagResource] != logicalNLB || v.tags[lb.TagGatewayUID] != l4Owner.UID || v.tags["team"] != "games" {
		t.Errorf("NLB tags = %v", v.tags)
	}
	if _, err := te.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{lbName(l4Owner)}}); !isCode(err, "LoadBalancerNotFound") {
		t.Errorf("an ALB for a TCP-only Gateway: %v", err)
	}
	if !res.Status.Ready || len(res.Status.Addresses) != 1 || res.Status.Addresses[0].Value != *v.lb.DNSName || len(res.Status.Notes) != 0 {
		t.Errorf("status = %+v, want ready with the NLB's DNS name and no notes", res.Status)
	}
	l, ok := v.listeners[5000]
	if !ok || l.Protocol != elbtypes.ProtocolEnumTcp {
		t.Fatalf("listeners = %v, want TCP on 5000", v.listeners)
	}
	arena := v.group(t, "games/arena:5000/tcp")
	if got := forwards(t, l); !maps.Equal(got, map[string]int32{*arena.TargetGroupArn: 1}) {
		t.Errorf("listener forwards to %v, want the arena group", got)
	}
	if arena.Protocol != elbtypes.ProtocolEnumTcp || arena.TargetType != elbtypes.TargetTypeEnumIp ||
		arena.HealthCheckProtocol != elbtypes.ProtocolEnumTcp || awssdk.ToString(arena.HealthCheckPort) != "traffic-port" {
		t.Errorf("arena group = %s %s, health %s on %s; want TCP, ip, TCP on the traffic port", arena.Protocol, arena.TargetType,
			arena.HealthCheckProtocol, awssdk.ToString(arena.HealthCheckPort))
	}
	if got := v.targets[*arena.TargetGroupArn]; !slices.Equal(got, []string{"10.0.2.11:5000", "10.0.2.12:5000"}) {
		t.Errorf("arena targets = %q", got)
	}

	if res, err = te.prov.Ensure(ctx, tcpModel()); err != nil {
		t.Fatal(err)
	}
	noop := te.calls.take()
	t.Logf("no-op: %s", format(noop))
	if w := writes(noop); len(w) != 0 || res.Applied.Changes() {
		t.Errorf("a no-op Ensure wrote %s; plan %s", format(w), res.Applied)
	}

	// Weighted: a second backend takes a quarter; the listener is modified
	// in place.
	m := tcpModel()
	m.TargetGroups = append(m.TargetGroups, l4Group("games/lobby:5000/tcp", lb.ProtocolTCP, "10.0.2.21"))
	m.Listeners[0].Streams[0].Backends = fwd("games/arena:5000/tcp", 3, "games/lobby:5000/tcp", 1).Forward
	if res, err = te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	weighted := te.calls.take()
	t.Logf("weighted: %s; plan:\n%s", format(weighted), res.Applied)
	if w := writes(weighted); !maps.Equal(w, map[string]int{"CreateTargetGroup": 1, "RegisterTargets": 1, "ModifyListener": 1}) {
		t.Errorf("adding a weighted backend wrote %s", format(w))
	}
	v = te.nlbView(t, ctx, l4Owner)
	lobby := v.group(t, "games/lobby:5000/tcp")
	if got := forwards(t, v.listeners[5000]); !maps.Equal(got, map[string]int32{*arena.TargetGroupArn: 3, *lobby.TargetGroupArn: 1}) {
		t.Errorf("weighted forward = %v, want arena 3 and lobby 1", got)
	}
	if *v.listeners[5000].ListenerArn != *l.ListenerArn {
		t.Errorf("the listener was replaced")
	}

	// Another backend: the default action changes in place, the old group
	// goes.
	m = tcpModel()
	m.TargetGroups = []lb.TargetGroup{l4Group("games/lobby:5000/tcp", lb.ProtocolTCP, "10.0.2.21")}
	m.Listeners[0].Streams[0].Backends = fwd("games/lobby:5000/tcp", 1).Forward
	if res, err = te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	moved := te.calls.take()
	t.Logf("backend changed: %s; plan:\n%s", format(moved), res.Applied)
	if w := writes(moved); !maps.Equal(w, map[string]int{"ModifyListener": 1, "DeleteTargetGroup": 1}) {
		t.Errorf("changing the backend wrote %s, want ModifyListener=1 DeleteTargetGroup=1", format(w))
	}
	v = te.nlbView(t, ctx, l4Owner)
	if *v.listeners[5000].ListenerArn != *l.ListenerArn {
		t.Errorf("the listener was replaced")
	}
	if got := forwards(t, v.listeners[5000]); !maps.Equal(got, map[string]int32{*lobby.TargetGroupArn: 1}) {
		t.Errorf("forward = %v, want the lobby group", got)
	}

	if err := te.prov.Delete(ctx, l4Owner); err != nil {
		t.Fatal(err)
	}
	te.checkNothingOwned(t, ctx, l4Owner)
}

func TestNLBUDP(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	m := &lb.LoadBalancer{Owner: l4Owner, TargetGroups: []lb.TargetGroup{
		l4Group("games/dns:53/udp", lb.ProtocolUDP, "10.0.2.31"),
		l4Group("games/voice:53/udp", lb.ProtocolUDP, "10.0.2.41"),
	}, Listeners: []lb.Listener{
		{Name: "udp-53", Port: 53, Protocol: lb.ProtocolUDP, Streams: []lb.Stream{stream("games/dns/rule-0", "games/dns:53/udp", 1)}},
		{Name: "udp-3478", Port: 3478, Protocol: lb.ProtocolUDP, Streams: []lb.Stream{stream("games/voice/rule-0", "games/voice:53/udp", 1)}},
	}}
	// Parameters asked for an HTTP health check on the voice Service.
	m.TargetGroups[1].HealthCheck = &lb.HealthCheck{Protocol: lb.ProtocolHTTP, Path: "/healthz", Port: 8080}
	res, err := te.prov.Ensure(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Status.Ready {
		t.Errorf("status = %+v", res.Status)
	}
	v := te.nlbView(t, ctx, l4Owner)
	for port, logical := range map[int32]string{53: "games/dns:53/udp", 3478: "games/voice:53/udp"} {
		l := v.listeners[port]
		g := v.group(t, logical)
		if l.Protocol != elbtypes.ProtocolEnumUdp || g.Protocol != elbtypes.ProtocolEnumUdp {
			t.Errorf("port %d: listener %s, group %s; want UDP", port, l.Protocol, g.Protocol)
		}
		if got := forwards(t, l); !maps.Equal(got, map[string]int32{*g.TargetGroupArn: 1}) {
			t.Errorf("port %d forwards to %v", port, got)
		}
	}
	dns, voice := v.group(t, "games/dns:53/udp"), v.group(t, "games/voice:53/udp")
	if dns.HealthCheckProtocol != elbtypes.ProtocolEnumTcp || awssdk.ToString(dns.HealthCheckPort) != "traffic-port" {
		t.Errorf("dns health check %s on %s, want TCP on the traffic port", dns.HealthCheckProtocol, awssdk.ToString(dns.HealthCheckPort))
	}
	if voice.HealthCheckProtocol != elbtypes.ProtocolEnumHttp || awssdk.ToString(voice.HealthCheckPath) != "/healthz" || awssdk.ToString(voice.HealthCheckPort) != "8080" {
		t.Errorf("voice health check %s %s on %s, want the parameters' HTTP /healthz on 8080", voice.HealthCheckProtocol,
			awssdk.ToString(voice.HealthCheckPath), awssdk.ToString(voice.HealthCheckPort))
	}
	te.calls.take()
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	if w := writes(te.calls.take()); len(w) != 0 {
		t.Errorf("a no-op Ensure wrote %s", format(w))
	}
	if err := te.prov.Delete(ctx, l4Owner); err != nil {
		t.Fatal(err)
	}
	te.checkNothingOwned(t, ctx, l4Owner)
}

// dnsModel has a TCP and a UDP listener on port 53, each to Service dns
// port 53 (its TCP and its UDP entry), with the same endpoints.
func dnsModel() *lb.LoadBalancer {
	return &lb.LoadBalancer{Owner: l4Owner, TargetGroups: []lb.TargetGroup{
		l4Group("games/dns:53/tcp", lb.ProtocolTCP, "10.0.2.31", "10.0.2.32"),
		l4Group("games/dns:53/udp", lb.ProtocolUDP, "10.0.2.32", "10.0.2.31"),
	}, Listeners: []lb.Listener{
		{Name: "tcp-53", Port: 53, Protocol: lb.ProtocolTCP, Streams: []lb.Stream{stream("games/dns-tcp/rule-0", "games/dns:53/tcp", 1)}},
		{Name: "udp-53", Port: 53, Protocol: lb.ProtocolUDP, Streams: []lb.Stream{stream("games/dns-udp/rule-0", "games/dns:53/udp", 1)}},
	}}
}

func TestNLBTCPAndUDPOnOnePort(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	// TCP first; then UDP joins it on port 53, and the TCP listener gives
	// way to a TCP_UDP one (an NLB refuses a second listener on a port).
	tcpOnly := dnsModel()
	tcpOnly.TargetGroups, tcpOnly.Listeners = tcpOnly.TargetGroups[:1], tcpOnly.Listeners[:1]
	if _, err := te.prov.Ensure(ctx, tcpOnly); err != nil {
		t.Fatal(err)
	}
	te.calls.take()
	res, err := te.prov.Ensure(ctx, dnsModel())
	if err != nil {
		t.Fatal(err)
	}
	joined := te.calls.take()
	t.Logf("UDP joins TCP on 53: %s; plan:\n%s", format(writes(joined)), res.Applied)
	if w := writes(joined); w["DeleteListener"] != 0 || w["CreateListener"] != 0 || w["ModifyListener"] != 1 {
		t.Errorf("UDP joining TCP wrote %s, want the TCP listener modified in place", format(w))
	}
	if !res.Status.Ready || !res.Status.Listeners["tcp-53"].Ready || !res.Status.Listeners["udp-53"].Ready {
		t.Errorf("status = %+v, want both listeners ready", res.Status)
	}
	v := te.nlbView(t, ctx, l4Owner)
	l := v.listeners[53]
	if len(v.listeners) != 1 || l.Protocol != elbtypes.ProtocolEnumTcpUdp {
		t.Fatalf("listeners = %v, want one TCP_UDP on 53", v.listeners)
	}
	if len(v.groups) != 1 {
		t.Errorf("%d groups, want the one TCP_UDP group (the TCP one gone)", len(v.groups))
	}
	g := v.group(t, "games/dns:53/tcp_udp")
	if g.Protocol != elbtypes.ProtocolEnumTcpUdp || g.HealthCheckProtocol != elbtypes.ProtocolEnumTcp {
		t.Errorf("group %s, health %s; want TCP_UDP checked over TCP", g.Protocol, g.HealthCheckProtocol)
	}
	if got := forwards(t, l); !maps.Equal(got, map[string]int32{*g.TargetGroupArn: 1}) {
		t.Errorf("forward = %v", got)
	}
	if got := v.targets[*g.TargetGroupArn]; !slices.Equal(got, []string{"10.0.2.31:5000", "10.0.2.32:5000"}) {
		t.Errorf("targets = %q", got)
	}
	te.calls.take()
	if _, err := te.prov.Ensure(ctx, dnsModel()); err != nil {
		t.Fatal(err)
	}
	if w := writes(te.calls.take()); len(w) != 0 {
		t.Errorf("a no-op Ensure wrote %s", format(w))
	}

	// UDP to another Service: an NLB cannot carry it, and says so on both
	// listeners before writing anything.
	m := dnsModel()
	m.TargetGroups[1] = l4Group("games/other:53/udp", lb.ProtocolUDP, "10.0.2.41")
	m.Listeners[1].Streams[0].Backends = fwd("games/other:53/udp", 1).Forward
	_, err = te.prov.Ensure(ctx, m)
	var refusal *providers.InvalidError
	if !errors.As(err, &refusal) || !slices.Equal(refusal.Elements, []string{"tcp-53", "udp-53"}) || !strings.Contains(err.Error(), "TCP_UDP") {
		t.Errorf("Ensure = %v, want an InvalidError on tcp-53 and udp-53 about TCP_UDP", err)
	}
	if w := writes(te.calls.take()); len(w) != 0 {
		t.Errorf("a refused Ensure wrote %s", format(w))
	}
	if err := te.prov.Delete(ctx, l4Owner); err != nil {
		t.Fatal(err)
	}
	te.checkNothingOwned(t, ctx, l4Owner)
}

func tlsModel(streams ...lb.Stream) *lb.LoadBalancer {
	return &lb.LoadBalancer{Owner: l4Owner, TargetGroups: []lb.TargetGroup{
		l4Group("games/a:443/tcp", lb.ProtocolTCP, "10.0.2.51"),
		l4Group("games/b:443/tcp", lb.ProtocolTCP, "10.0.2.61"),
	}, Listeners: []lb.Listener{{Name: "tls-443", Port: 443, Protocol: lb.ProtocolTLS, Streams: streams}}}
}

func TestNLBTLSPassthrough(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	a := stream("games/a/rule-0/a.example.com", "games/a:443/tcp", 1)
	a.Hostname = "a.example.com"
	b := stream("games/b/rule-0/b.example.com", "games/b:443/tcp", 1)
	b.Hostname = "b.example.com"

	// Two TLSRoutes to two Services: no SNI routing on an NLB.
	_, err := te.prov.Ensure(ctx, tlsModel(a, b))
	var refusal *providers.InvalidError
	if !errors.As(err, &refusal) || !slices.Contains(refusal.Elements, "tls-443") || !strings.Contains(err.Error(), msgNoSNI) {
		t.Fatalf("Ensure of two TLS destinations = %v, want an InvalidError naming tls-443: %q", err, msgNoSNI)
	}
	if !slices.Contains(refusal.Elements, b.Name) || slices.Contains(refusal.Elements, a.Name) {
		t.Errorf("refused elements %q, want the second stream left out and the first kept", refusal.Elements)
	}
	te.checkNothingOwned(t, ctx, l4Owner)

	// One route: a TCP listener that passes TLS through.
	res, err := te.prov.Ensure(ctx, tlsModel(a))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Status.Ready {
		t.Errorf("status = %+v", res.Status)
	}
	v := te.nlbView(t, ctx, l4Owner)
	l := v.listeners[443]
	if l.Protocol != elbtypes.ProtocolEnumTcp || len(l.Certificates) != 0 {
		t.Errorf("listener %s with certificates %v, want TCP passthrough", l.Protocol, l.Certificates)
	}
	if got := forwards(t, l); !maps.Equal(got, map[string]int32{*v.group(t, "games/a:443/tcp").TargetGroupArn: 1}) {
		t.Errorf("forward = %v", got)
	}

	// Two hostnames to one Service need no SNI routing.
	b2 := stream("games/a2/rule-0/b.example.com", "games/a:443/tcp", 1)
	b2.Hostname = "b.example.com"
	te.calls.take()
	if _, err := te.prov.Ensure(ctx, tlsModel(a, b2)); err != nil {
		t.Fatalf("two hostnames, one destination: %v", err)
	}
	if w := writes(te.calls.take()); len(w) != 0 {
		t.Errorf("a second hostname to the same Service wrote %s", format(w))
	}
	if err := te.prov.Delete(ctx, l4Owner); err != nil {
		t.Fatal(err)
	}
	te.checkNothingOwned(t, ctx, l4Owner)
}

func TestNLBTLSTerminate(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	cfg, err := te.moto.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := stream("games/a/rule-0/a.example.com", "games/a:443/tcp", 1)
	a.Hostname, a.Certificates = "a.example.com", []lb.Certificate{pemCertificate(t, "games/a-tls", "a.example.com")}
	m := tlsModel(a)
	res, err := te.prov.Ensure(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Status.Ready {
		t.Errorf("status = %+v", res.Status)
	}
	certs := ownedCerts(acmView(t, ctx, acm.NewFromConfig(cfg)), l4Owner)
	arn, ok := certs["games/a-tls"]
	if !ok {
		t.Fatalf("imported certificates = %v, want games/a-tls", certs)
	}
	v := te.nlbView(t, ctx, l4Owner)
	l := v.listeners[443]
	if l.Protocol != elbtypes.ProtocolEnumTls || len(l.Certificates) != 1 || awssdk.ToString(l.Certificates[0].CertificateArn) != arn {
		t.Errorf("listener %s with certificates %+v, want TLS with %s", l.Protocol, l.Certificates, arn)
	}
	if g := v.group(t, "games/a:443/tcp"); g.Protocol != elbtypes.ProtocolEnumTcp {
		t.Errorf("group protocol %s, want TCP behind the terminating listener", g.Protocol)
	}
	te.calls.take()
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	if w := writes(te.calls.take()); len(w) != 0 {
		t.Errorf("a no-op Ensure wrote %s", format(w))
	}
	if err := te.prov.Delete(ctx, l4Owner); err != nil {
		t.Fatal(err)
	}
	te.checkNothingOwned(t, ctx, l4Owner)
	if left := ownedCerts(acmView(t, ctx, acm.NewFromConfig(cfg)), l4Owner); len(left) != 0 {
		t.Errorf("certificates left: %v", left)
	}
}

func ownedCerts(view map[string]map[string]string, o lb.Owner) map[string]string {
	out := map[string]string{} // logical → ARN
	for arn, tags := range view {
		if owns(tags, o) {
			out[tags[lb.TagResource]] = arn
		}
	}
	return out
}

// mixedModel is gatewayModel with a TCP listener too.
func mixedModel() *lb.LoadBalancer {
	m := gatewayModel()
	m.TargetGroups = append(m.TargetGroups, l4Group("shop/stock:5000/tcp", lb.ProtocolTCP, "10.0.1.41"))
	m.Listeners = append(m.Listeners, lb.Listener{Name: "tcp-5000", Port: 5000, Protocol: lb.ProtocolTCP,
		Streams: []lb.Stream{stream("shop/stock/rule-0", "shop/stock:5000/tcp", 1)}})
	return m
}

func TestMixedGateway(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	te.calls.take()
	res, err := te.prov.Ensure(ctx, mixedModel())
	if err != nil {
		t.Fatal(err)
	}
	created := te.calls.take()
	t.Logf("create of a mixed Gateway (ALB and NLB): %s", format(created))
	t.Logf("create writes: %s; plan: %s", format(writes(created)), res.Applied.Summary())
	alb := te.view(t, ctx)
	nlb := te.nlbView(t, ctx, gatewayOwner)
	wantAddrs := []lb.Address{{Type: lb.AddressHostname, Value: *alb.lb.DNSName}, {Type: lb.AddressHostname, Value: *nlb.lb.DNSName}}
	if !res.Status.Ready || !slices.Equal(res.Status.Addresses, wantAddrs) {
		t.Errorf("status = %+v, want ready with the ALB's then the NLB's DNS name", res.Status)
	}
	wantNote := "listeners split across an ALB (http-80, http-8080) and an NLB (tcp-5000)"
	if !slices.Equal(res.Status.Notes, []string{wantNote}) {
		t.Errorf("notes = %q, want %q", res.Status.Notes, wantNote)
	}
	if alb.lb.Type != elbtypes.LoadBalancerTypeEnumApplication || nlb.lb.Type != elbtypes.LoadBalancerTypeEnumNetwork {
		t.Errorf("types %s and %s", alb.lb.Type, nlb.lb.Type)
	}
	if len(alb.listeners) != 2 || len(nlb.listeners) != 1 || nlb.listeners[5000].Protocol != elbtypes.ProtocolEnumTcp {
		t.Errorf("ALB listeners %v, NLB listeners %v", slices.Collect(maps.Keys(alb.listeners)), slices.Collect(maps.Keys(nlb.listeners)))
	}
	if nlb.tags[lb.TagGatewayUID] != gatewayOwner.UID || nlb.tags["team"] != "shop" {
		t.Errorf("NLB tags = %v", nlb.tags)
	}

	// A no-op writes nothing; a provider that starts afresh finds both by tag.
	if _, err := te.prov.Ensure(ctx, mixedModel()); err != nil {
		t.Fatal(err)
	}
	noop := te.calls.take()
	t.Logf("no-op: %s", format(noop))
	if w := writes(noop); len(w) != 0 {
		t.Errorf("a no-op Ensure wrote %s", format(w))
	}
	fresh, err := New(Config{AWS: te.prov.cfg.AWS, ClusterName: te.moto.Cluster, VPCID: te.moto.VPCID, Subnets: te.moto.PublicSubnetIDs})
	if err != nil {
		t.Fatal(err)
	}
	if pl, err := fresh.Plan(ctx, mixedModel()); err != nil || pl.Changes() {
		t.Errorf("a new provider's plan = %v, %v; want no changes", pl, err)
	}
	te.calls.take()

	// Without its TCP listener the Gateway needs no NLB.
	if res, err = te.prov.Ensure(ctx, gatewayModel()); err != nil {
		t.Fatal(err)
	}
	dropped := te.calls.take()
	t.Logf("TCP listener removed: %s; plan:\n%s", format(dropped), res.Applied)
	if w := writes(dropped); !maps.Equal(w, map[string]int{"DeleteLoadBalancer": 1, "DeleteTargetGroup": 1}) {
		t.Errorf("removing the only L4 listener wrote %s", format(w))
	}
	if len(res.Status.Addresses) != 1 || len(res.Status.Notes) != 0 {
		t.Errorf("status = %+v, want the ALB alone", res.Status)
	}
	if _, err := te.prov.Ensure(ctx, mixedModel()); err != nil {
		t.Fatal(err)
	}

	te.calls.take()
	if err := te.prov.Delete(ctx, gatewayOwner); err != nil {
		t.Fatal(err)
	}
	deleted := te.calls.take()
	t.Logf("delete: %s", format(writes(deleted)))
	if w := writes(deleted); w["DeleteLoadBalancer"] != 2 {
		t.Errorf("Delete wrote %s, want both load balancers deleted", format(w))
	}
	te.checkNothingOwned(t, ctx, gatewayOwner)
}

// TestTargetBatches registers and deregisters more targets than one call
// takes (200).
func TestTargetBatches(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	var ips []string
	for i := range 450 {
		ips = append(ips, fmt.Sprintf("10.0.%d.%d", 10+i/200, 1+i%200))
	}
	m := tcpModel()
	m.TargetGroups[0] = l4Group("games/arena:5000/tcp", lb.ProtocolTCP, ips...)
	te.calls.take()
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := te.calls.take()["RegisterTargets"]; got != 3 {
		t.Errorf("450 targets took %d RegisterTargets calls, want 3", got)
	}
	v := te.nlbView(t, ctx, l4Owner)
	g := v.group(t, "games/arena:5000/tcp")
	if n := len(v.targets[*g.TargetGroupArn]); n != 450 {
		t.Errorf("%d targets registered, want 450", n)
	}
	m.TargetGroups[0] = l4Group("games/arena:5000/tcp", lb.ProtocolTCP, ips[:150]...)
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	if w := writes(te.calls.take()); !maps.Equal(w, map[string]int{"DeregisterTargets": 2}) {
		t.Errorf("deregistering 300 targets wrote %s, want DeregisterTargets=2", format(w))
	}
	v = te.nlbView(t, ctx, l4Owner)
	if n := len(v.targets[*g.TargetGroupArn]); n != 150 {
		t.Errorf("%d targets left, want 150", n)
	}
	if err := te.prov.Delete(ctx, l4Owner); err != nil {
		t.Fatal(err)
	}
}

// A group whose protocol changes gets a new name (names cover the
// protocol): the plan says Recreate for the new group, and deletes the
// old one once nothing forwards to it, after the listener moved.
func TestProtocolChangeRecreatesTheGroup(t *testing.T) {
	p := &Provider{}
	before := dnsModel()
	before.TargetGroups, before.Listeners = before.TargetGroups[1:], before.Listeners[1:] // UDP alone
	have, err := p.desired(before, []string{"subnet-a", "subnet-b"})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range have.Groups {
		g.ARN = "arn:" + g.Name
	}
	have.NLBListeners[0].ARN = "arn:listener"
	have.NLB.ARN = "arn:nlb"
	after := dnsModel()
	after.TargetGroups, after.Listeners = after.TargetGroups[1:], after.Listeners[1:]
	after.TargetGroups[0].Protocol = lb.ProtocolTCP // the Service port became TCP, the route stays
	after.TargetGroups[0].Name = "games/dns:53/udp"
	after.Listeners[0].Protocol, after.Listeners[0].Name = lb.ProtocolTCP, "udp-53"
	want, err := p.desired(after, []string{"subnet-a", "subnet-b"})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, c := range plan(want, &observed{state: have, groupNames: map[string]string{}}) {
		if c.step.Action != providers.ActionNothing {
			steps = append(steps, fmt.Sprintf("%s %s %s", c.step.Action, c.step.Kind, c.step.LogicalID))
		}
	}
	wantSteps := []string{
		"Recreate target group games/dns:53/udp", // the TCP one, under a new name
		"Create target games/dns:53/udp/10.0.2.31:5000", "Create target games/dns:53/udp/10.0.2.32:5000",
		"Update listener udp-53", // to a group that has its targets
		"Delete target games/dns:53/udp/10.0.2.31:5000", "Delete target games/dns:53/udp/10.0.2.32:5000",
		"Delete target group games/dns:53/udp",
	}
	if !slices.Equal(steps, wantSteps) {
		t.Errorf("plan steps:\n%s\nwant:\n%s", strings.Join(steps, "\n"), strings.Join(wantSteps, "\n"))
	}
}

// The layer-4 conversions that need no cloud: what becomes what, and
// what is refused naming what.
func TestDesiredNLB(t *testing.T) {
	p := &Provider{}
	subnets := []string{"subnet-a", "subnet-b"}

	// An invalid backend's share goes to an empty group of the
	// listener's protocol; a Stream without backends forwards there whole.
	m := tcpModel()
	m.Listeners[0].Streams[0].Backends = append(m.Listeners[0].Streams[0].Backends, lb.WeightedBackend{Weight: 1})
	m.Listeners = append(m.Listeners, lb.Listener{Name: "udp-7000", Port: 7000, Protocol: lb.ProtocolUDP})
	s, err := p.desired(m, subnets)
	if err != nil {
		t.Fatal(err)
	}
	if s.LB != nil || s.NLB == nil || len(s.NLBListeners) != 2 {
		t.Fatalf("ALB %v, NLB %v with %d listeners; want an NLB alone with 2", s.LB, s.NLB, len(s.NLBListeners))
	}
	byLogical := map[string]*targetGroup{}
	for _, g := range s.Groups {
		byLogical[g.Logical] = g
	}
	closedTCP, closedUDP := byLogical["closed/tcp"], byLogical["closed/udp"]
	if closedTCP == nil || closedUDP == nil || len(closedTCP.Targets) != 0 || closedUDP.Protocol != "UDP" {
		t.Fatalf("groups %v, want empty closed/tcp and closed/udp", slices.Collect(maps.Keys(byLogical)))
	}
	tcp := s.NLBListeners[0].Default.Forward
	if len(tcp) != 2 || !slices.ContainsFunc(tcp, func(f forward) bool { return f.TargetGroup == closedTCP.Name && f.Weight == 1 }) {
		t.Errorf("tcp-5000 forwards %v, want half to %s", tcp, closedTCP.Name)
	}
	if udp := s.NLBListeners[1].Default.Forward; len(udp) != 1 || udp[0].TargetGroup != closedUDP.Name {
		t.Errorf("udp-7000 forwards %v, want all to %s", udp, closedUDP.Name)
	}

	// Over the listeners of one NLB.
	m = tcpModel()
	for i := range maxListenersPerNLB {
		m.Listeners = append(m.Listeners, lb.Listener{Name: fmt.Sprintf("tcp-%d", 6000+i), Port: int32(6000 + i), Protocol: lb.ProtocolTCP,
			Streams: []lb.Stream{stream(fmt.Sprintf("games/r%d/rule-0", i), "games/arena:5000/tcp", 1)}})
	}
	_, err = p.desired(m, subnets)
	var refusal *providers.InvalidError
	if !errors.As(err, &refusal) || !slices.Equal(refusal.Elements, []string{"tcp-6049"}) {
		t.Errorf("51 listeners: %v, want tcp-6049 refused", err)
	}

	// Passthrough and Terminate on one port.
	a := stream("games/a/rule-0/a.example.com", "games/a:443/tcp", 1)
	a.Hostname = "a.example.com"
	b := a
	b.Name, b.Hostname, b.Certificates = "games/a/rule-0/b.example.com", "b.example.com", []lb.Certificate{{Name: "games/b", CertPEM: []byte("x"), KeyPEM: []byte("y")}}
	if _, err := p.desired(tlsModel(a, b), subnets); !errors.As(err, &refusal) || !slices.Equal(refusal.Elements, []string{"tls-443"}) || !strings.Contains(err.Error(), "terminates TLS or passes it through") {
		t.Errorf("mixed TLS modes: %v", err)
	}

	// An HTTP Gateway stays on the ALB alone, with no notes.
	s, err = p.desired(gatewayModel(), subnets)
	if err != nil || s.LB == nil || s.NLB != nil || splitNotes(s) != nil {
		t.Errorf("an HTTP Gateway: %+v, %v; want the ALB alone", s, err)
	}
}
