package aws

// A Gateway's TCP, UDP and TLS listeners go to a Network Load Balancer of
// its own, next to the ALB that carries its HTTP and HTTPS listeners: an
// ALB cannot take layer-4 listeners, nor an NLB HTTP routing. Both are
// tagged with the Gateway's ownership tags (cloudgate.dev/resource
// "loadbalancer" for the ALB, "nlb" for the NLB), both are found by tag,
// and both go when the Gateway goes. The NLB shares the target group,
// certificate and target steps of the plan with the ALB; only the load
// balancer and its listeners (an NLB has no rules) are planned here.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// logicalNLB is the NLB's cloudgate.dev/resource tag.
const logicalNLB = "nlb"

// NLB limits (ELB quotas page, "Network Load Balancers"): listeners per
// NLB, and certificates per NLB besides the listeners' default ones.
const (
	maxListenersPerNLB    = 50
	maxNLBSNICertificates = 25
)

// Protocols of NLB listeners and target groups that the model has no
// name for.
const (
	protoTCPUDP = "TCP_UDP"
	protoTLS    = "TLS"
)

// streamGroupPort is the port of an NLB target group. Targets are always
// registered with their own port, so it is never used for traffic; a
// constant keeps a change of endpoints from recreating the group.
const streamGroupPort = 1

// msgNoSNI is the refusal of a TLS listener whose Streams go to more than
// one destination.
const msgNoSNI = "aws: an NLB cannot route TLS connections by server name (SNI); one TLSRoute per listener"

func nlbName(o lb.Owner) string { return name(o, o.Name, "nlb") }

// isStream reports a listener protocol that an NLB carries.
func isStream(p lb.Protocol) bool {
	return p == lb.ProtocolTCP || p == lb.ProtocolUDP || p == lb.ProtocolTLS
}

// ownedKind reports whether a load balancer of type t with resource tag
// res is one of ours: the ALB or the NLB, each of its own type (a tag
// copied onto the other type by hand is not).
func ownedKind(res string, t elbtypes.LoadBalancerTypeEnum) bool {
	switch res {
	case logicalLB:
		return t == elbtypes.LoadBalancerTypeEnumApplication
	case logicalNLB:
		return t == elbtypes.LoadBalancerTypeEnumNetwork
	}
	return false
}

// streamTGName is tgName for NLB groups, readable by Service and port
// ("ns/svc:53/udp" reads "svc-53"); the hash covers the protocol too.
func streamTGName(o lb.Owner, logical, proto string) string {
	readable := logical
	if _, rest, ok := strings.Cut(readable, "/"); ok {
		readable = rest
	}
	readable, _, _ = strings.Cut(readable, "/")
	return name(o, readable, "targetgroup", logical, proto)
}

// streamGroup converts a model group for an NLB: protocol proto (TCP,
// UDP, TCP_UDP), health checked over TCP on the traffic port unless the
// model says otherwise (an NLB cannot probe UDP: its UDP and TCP_UDP
// groups need a TCP, HTTP or HTTPS check, which the model's protocols
// are).
func streamGroup(m *lb.LoadBalancer, tg lb.TargetGroup, proto, logical string) (*targetGroup, error) {
	h := health{Protocol: string(lb.ProtocolTCP), Port: "traffic-port", Interval: 30, Timeout: 10, Healthy: 5, Unhealthy: 2}
	if hc := tg.HealthCheck; hc != nil {
		switch hc.Protocol {
		case "", lb.ProtocolTCP:
		case lb.ProtocolHTTP, lb.ProtocolHTTPS:
			h.Protocol, h.Path, h.Matcher = string(hc.Protocol), "/", "200-399"
		default:
			return nil, fmt.Errorf("aws: an NLB health check speaks TCP, HTTP or HTTPS, not %s", hc.Protocol)
		}
		if hc.Path != "" {
			if h.Protocol == string(lb.ProtocolTCP) {
				return nil, fmt.Errorf("aws: a TCP health check has no path")
			}
			h.Path = hc.Path
		}
		overlayTiming(&h, hc)
		if len(hc.SuccessCodes) > 0 {
			if h.Protocol == string(lb.ProtocolTCP) {
				return nil, fmt.Errorf("aws: a TCP health check has no success codes")
			}
			h.Matcher = matcher(hc.SuccessCodes)
		}
	}
	targets := elbTargets(tg.Targets)
	return &targetGroup{Logical: logical, Name: streamTGName(m.Owner, logical, proto), Protocol: proto, Port: streamGroupPort,
		Health: h, Tags: m.AllTags(resourceTag(logical)), Targets: targets}, nil
}

func matcher(codes []lb.CodeRange) string {
	var out []string
	for _, c := range codes {
		if c.From == c.To {
			out = append(out, strconv.Itoa(c.From))
		} else {
			out = append(out, fmt.Sprintf("%d-%d", c.From, c.To))
		}
	}
	return strings.Join(out, ",")
}

// nlbBuilder converts the model's layer-4 listeners.
type nlbBuilder struct {
	m      *lb.LoadBalancer
	s      *state
	names  map[string]string // model group → ELBv2 name (grows with the groups made here)
	groups map[string]lb.TargetGroup
	certs  map[string]*certificate
	refuse func(elem, why string)
	sni    int
}

// desiredNLB adds the NLB and its listeners for m's TCP, UDP and TLS
// listeners to s (nothing when there are none), with the groups only an
// NLB has: TCP_UDP ones, and the empty one a Stream without a valid
// backend forwards to. What an NLB cannot carry is refused naming the
// listener (and the Streams to leave out, when leaving them out helps).
func desiredNLB(m *lb.LoadBalancer, s *state, names map[string]string, certs map[string]*certificate, refuse func(elem, why string)) {
	byPort := map[int32][]lb.Listener{}
	var ports []int32
	for _, l := range m.Listeners {
		if !isStream(l.Protocol) {
			continue
		}
		if _, ok := byPort[l.Port]; !ok {
			ports = append(ports, l.Port)
		}
		byPort[l.Port] = append(byPort[l.Port], l)
	}
	if len(ports) == 0 {
		return
	}
	slices.Sort(ports)
	s.NLB = &loadBalancer{Name: nlbName(m.Owner), Scheme: s.LB.Scheme, IPAddressType: s.LB.IPAddressType,
		Subnets: s.LB.Subnets, Tags: m.AllTags(logicalNLB)}
	b := &nlbBuilder{m: m, s: s, names: names, groups: map[string]lb.TargetGroup{}, certs: certs, refuse: refuse}
	for _, g := range m.TargetGroups {
		b.groups[g.Name] = g
	}
	for _, port := range ports {
		ls := byPort[port]
		if len(s.NLBListeners) == maxListenersPerNLB {
			for _, l := range ls {
				refuse(l.Name, fmt.Sprintf("aws: over the %d listeners of one NLB", maxListenersPerNLB))
			}
			continue
		}
		var nl *listener
		switch {
		case len(ls) == 1 && ls[0].Protocol == lb.ProtocolTLS:
			nl = b.tls(ls[0])
		case len(ls) == 1:
			nl = b.plain(ls[0])
		case len(ls) == 2 && ls[0].Protocol != ls[1].Protocol && ls[0].Protocol != lb.ProtocolTLS && ls[1].Protocol != lb.ProtocolTLS:
			nl = b.tcpUDP(ls[0], ls[1])
		default:
			for _, l := range ls {
				refuse(l.Name, fmt.Sprintf("aws: an NLB has one listener per port (TCP and UDP may share one as TCP_UDP); port %d has %d", port, len(ls)))
			}
		}
		if nl == nil {
			continue
		}
		nl.Port = port
		nl.Tags = m.AllTags(resourceTag(nl.Logical))
		s.NLBListeners = append(s.NLBListeners, nl)
	}
	b.prune()
}

// plain is a TCP or UDP listener: its first Stream takes everything.
func (b *nlbBuilder) plain(l lb.Listener) *listener {
	var st lb.Stream
	if len(l.Streams) > 0 {
		st = l.Streams[0]
	}
	a, err := b.forward(st.Backends, string(l.Protocol))
	if err != nil {
		b.refuse(l.Name, err.Error())
		return nil
	}
	return &listener{Logical: l.Name, Protocol: string(l.Protocol), Default: a, Serves: []string{l.Name}}
}

// tls is a TLS listener: passed through as TCP, or terminated with its
// Streams' certificates. Either way every Stream must go where the first
// goes, since an NLB picks no destination by SNI.
func (b *nlbBuilder) tls(l lb.Listener) *listener {
	out := &listener{Logical: l.Name, Protocol: string(lb.ProtocolTCP), Serves: []string{l.Name}}
	if len(l.Streams) == 0 {
		a, err := b.forward(nil, string(lb.ProtocolTCP))
		if err != nil {
			b.refuse(l.Name, err.Error())
			return nil
		}
		out.Default = a
		return out
	}
	terminated := 0
	for _, st := range l.Streams {
		if len(st.Certificates) > 0 {
			terminated++
		}
	}
	if terminated > 0 && terminated < len(l.Streams) {
		b.refuse(l.Name, "aws: an NLB listener either terminates TLS or passes it through, not both; move the Passthrough or the Terminate Gateway listener to a port of its own")
		return nil
	}
	var extra []string
	for i, st := range l.Streams {
		a, err := b.forward(st.Backends, string(lb.ProtocolTCP))
		if err != nil {
			b.refuse(l.Name, err.Error())
			return nil
		}
		if i == 0 {
			out.Default = a
		} else if !equalAction(a, out.Default) {
			extra = append(extra, st.Name)
		}
	}
	if len(extra) > 0 {
		b.refuse(l.Name, msgNoSNI)
		for _, name := range extra {
			// Named too, so that the routes behind them can be left out
			// and the first route served.
			b.refuse(name, "goes elsewhere than "+l.Streams[0].Name+" on "+l.Name)
		}
		return nil
	}
	if terminated == 0 {
		return out
	}
	var hosts []lb.VirtualHost
	for _, st := range l.Streams {
		hosts = append(hosts, lb.VirtualHost{Hostname: st.Hostname, Certificates: st.Certificates})
	}
	keys, err := listenerCertificates(b.m, lb.Listener{Name: l.Name, VirtualHosts: hosts}, b.certs)
	if err != nil {
		b.refuse(l.Name, err.Error())
		return nil
	}
	b.sni += len(keys) - 1
	if b.sni > maxNLBSNICertificates {
		b.refuse(l.Name, fmt.Sprintf("aws: over the %d certificates of one NLB besides the listeners' defaults", maxNLBSNICertificates))
		return nil
	}
	out.Protocol, out.Certificates = protoTLS, keys
	return out
}

// tcpUDP is a TCP and a UDP listener on one port: an NLB takes them only
// as one TCP_UDP listener, whose groups must be TCP_UDP too, so both must
// forward to the same backends (Service port, endpoints and weights).
func (b *nlbBuilder) tcpUDP(x, y lb.Listener) *listener {
	tcp, udp := x, y
	if tcp.Protocol == lb.ProtocolUDP {
		tcp, udp = y, x
	}
	first := func(l lb.Listener) []lb.WeightedBackend {
		if len(l.Streams) == 0 {
			return nil
		}
		return l.Streams[0].Backends
	}
	merged, ok := b.sameBackends(first(tcp), first(udp))
	if !ok {
		msg := fmt.Sprintf("aws: an NLB serves TCP and UDP on port %d only as one TCP_UDP listener, which needs the same backends (Service port, endpoints and weights) for both; %s and %s forward to different ones",
			tcp.Port, tcp.Name, udp.Name)
		b.refuse(tcp.Name, msg)
		b.refuse(udp.Name, msg)
		return nil
	}
	a, err := b.forward(merged, protoTCPUDP)
	if err != nil {
		b.refuse(tcp.Name, err.Error())
		b.refuse(udp.Name, err.Error())
		return nil
	}
	return &listener{Logical: tcp.Name + "+" + udp.Name, Protocol: protoTCPUDP, Default: a, Serves: []string{tcp.Name, udp.Name}}
}

// sameBackends pairs a TCP Stream's backends with a UDP Stream's: the same
// Service port ("ns/svc:53/tcp" and "ns/svc:53/udp"), endpoints and
// weight, in any order. It returns the backends with their TCP_UDP groups
// (made as needed), or false.
func (b *nlbBuilder) sameBackends(tcp, udp []lb.WeightedBackend) ([]lb.WeightedBackend, bool) {
	if len(tcp) != len(udp) {
		return nil, false
	}
	base := func(w lb.WeightedBackend, suffix string) string {
		if w.TargetGroup == "" {
			return ""
		}
		return strings.TrimSuffix(w.TargetGroup, suffix)
	}
	sorted := func(ws []lb.WeightedBackend, suffix string) []lb.WeightedBackend {
		out := slices.Clone(ws)
		slices.SortFunc(out, func(p, q lb.WeightedBackend) int { return strings.Compare(base(p, suffix), base(q, suffix)) })
		return out
	}
	ts, us := sorted(tcp, "/tcp"), sorted(udp, "/udp")
	var out []lb.WeightedBackend
	for i := range ts {
		t, u := ts[i], us[i]
		if base(t, "/tcp") != base(u, "/udp") || t.Weight != u.Weight {
			return nil, false
		}
		if t.TargetGroup == "" {
			out = append(out, t)
			continue
		}
		tg, ug := b.groups[t.TargetGroup], b.groups[u.TargetGroup]
		if !slices.Equal(elbTargets(tg.Targets), elbTargets(ug.Targets)) {
			return nil, false
		}
		logical := base(t, "/tcp") + "/tcp_udp"
		if _, ok := b.names[logical]; !ok {
			g, err := streamGroup(b.m, tg, protoTCPUDP, logical)
			if err != nil {
				b.refuse(t.TargetGroup, err.Error())
				return nil, false
			}
			b.add(g)
		}
		out = append(out, lb.WeightedBackend{TargetGroup: logical, Weight: t.Weight})
	}
	return out, true
}

// forward is a Stream's action: weighted target groups of protocol proto,
// a share without a valid backend going to an empty group (whose
// connections fail), as does a Stream with no backends at all.
func (b *nlbBuilder) forward(backends []lb.WeightedBackend, proto string) (action, error) {
	var fw lb.Action
	for _, w := range backends {
		if w.TargetGroup == "" {
			w.TargetGroup = b.closed(proto)
		}
		fw.Forward = append(fw.Forward, lb.WeightedBackend{TargetGroup: w.TargetGroup, Weight: w.Weight})
	}
	if len(fw.Forward) == 0 {
		fw.Forward = []lb.WeightedBackend{{TargetGroup: b.closed(proto), Weight: 1}}
	}
	a, err := convertAction(fw, b.names)
	if err != nil {
		return action{}, fmt.Errorf("aws: %v", err)
	}
	normalizeAction(&a)
	return a, nil
}

// closed is the logical id of the empty group of protocol proto.
func (b *nlbBuilder) closed(proto string) string {
	logical := "closed/" + strings.ToLower(proto)
	if _, ok := b.names[logical]; !ok {
		g, _ := streamGroup(b.m, lb.TargetGroup{Name: logical}, proto, logical) // no health check: cannot fail
		b.add(g)
	}
	return logical
}

func (b *nlbBuilder) add(g *targetGroup) {
	b.names[g.Logical] = g.Name
	b.s.Groups = append(b.s.Groups, g)
}

// prune drops the model's TCP and UDP groups that no NLB listener
// forwards to (those merged into a TCP_UDP group), and sorts the groups.
func (b *nlbBuilder) prune() {
	used := map[string]bool{}
	for _, l := range b.s.NLBListeners {
		for _, f := range l.Default.Forward {
			used[f.TargetGroup] = true
		}
	}
	b.s.Groups = slices.DeleteFunc(b.s.Groups, func(g *targetGroup) bool {
		return (g.Protocol == string(lb.ProtocolTCP) || g.Protocol == string(lb.ProtocolUDP)) && !used[g.Name]
	})
	sort.Slice(b.s.Groups, func(i, j int) bool { return b.s.Groups[i].Logical < b.s.Groups[j].Logical })
}

// servedBy maps each model listener to the logical id of the cloud
// listener that carries it.
func servedBy(s *state) map[string]string {
	out := map[string]string{}
	for _, l := range s.Listeners {
		out[l.Logical] = l.Logical
	}
	for _, l := range s.NLBListeners {
		for _, n := range l.Serves {
			out[n] = l.Logical
		}
	}
	return out
}

// splitNotes tells users when their Gateway became two load balancers.
func splitNotes(s *state) []string {
	if s.LB == nil || s.NLB == nil {
		return nil
	}
	var alb, nlb []string
	for _, l := range s.Listeners {
		alb = append(alb, l.Logical)
	}
	for _, l := range s.NLBListeners {
		nlb = append(nlb, l.Serves...)
	}
	return []string{fmt.Sprintf("listeners split across an ALB (%s) and an NLB (%s)", strings.Join(alb, ", "), strings.Join(nlb, ", "))}
}

// replacedGroup is the observed group that g takes over from: the same
// logical id under another name, hence another protocol (or version).
func replacedGroup(g *targetGroup, have []*targetGroup) *targetGroup {
	for _, h := range have {
		if h.Logical == g.Logical && h.Name != g.Name {
			return h
		}
	}
	return nil
}

// planNLB diffs the NLB and its listeners: first are the steps that run
// after the ALB's listeners and rules (unwanted listeners before the
// creates, which may need their port), goes the NLB's deletion, which
// runs next to the ALB's.
func planNLB(want *state, have *observed) (first, goes []*change) {
	step := func(kind providers.Kind, logical, cloudID string, act providers.Action, why string, diff providers.Diff) providers.Step {
		return providers.Step{Kind: kind, LogicalID: logical, CloudID: cloudID, Action: act, Why: why, Diff: diff}
	}
	h := have.NLB
	recreated := false
	switch {
	case want.NLB == nil && h != nil:
		for _, l := range have.NLBListeners {
			goes = append(goes, &change{step: step(providers.KindListener, l.Logical, l.ARN, providers.ActionDelete, providers.WhyHolderGoes, nil)})
		}
		goes = append(goes, &change{step: step(providers.KindLoadBalancer, logicalNLB, h.ARN, providers.ActionDelete, providers.WhyUnwanted, nil), run: deleteLB(h)})
	case want.NLB != nil && h == nil:
		first = append(first, &change{step: step(providers.KindLoadBalancer, logicalNLB, "", providers.ActionCreate, providers.WhyMissing, nil), run: createNLB(want.NLB, nil)})
	case want.NLB != nil:
		d := providers.Compare(h, want.NLB)
		switch {
		case h.Scheme != want.NLB.Scheme || h.IPAddressType != want.NLB.IPAddressType || h.Name != want.NLB.Name ||
			!maps.Equal(h.ElasticIPs, want.NLB.ElasticIPs):
			recreated = true
			for _, l := range have.NLBListeners {
				first = append(first, &change{step: step(providers.KindListener, l.Logical, l.ARN, providers.ActionDelete, providers.WhyHolderGoes, nil)})
			}
			first = append(first, &change{step: step(providers.KindLoadBalancer, logicalNLB, h.ARN, providers.ActionRecreate,
				"scheme, address type, name and Elastic IPs cannot change in place", d), run: createNLB(want.NLB, h)})
		case len(d) > 0:
			first = append(first, &change{step: step(providers.KindLoadBalancer, logicalNLB, h.ARN, providers.ActionUpdate, providers.WhyChanged, d), run: updateLB(h, want.NLB)})
		default:
			first = append(first, &change{step: step(providers.KindLoadBalancer, logicalNLB, h.ARN, providers.ActionNothing, providers.WhyUpToDate, nil)})
		}
	}
	for _, x := range have.extraNLBs {
		goes = append(goes, &change{step: step(providers.KindLoadBalancer, logicalNLB, x.ARN, providers.ActionDelete, "a second NLB with the same owner", nil), run: deleteLB(x)})
	}
	if want.NLB == nil {
		return first, goes
	}
	haveListeners := map[string]*listener{}
	wanted := map[string]bool{}
	wantedPorts := map[int32]string{}
	for _, l := range want.NLBListeners {
		wanted[l.Logical] = true
		wantedPorts[l.Port] = l.Logical
	}
	// A listener whose logical id changed on its port (a TCP listener that
	// a UDP one joins as TCP_UDP, or the reverse) is modified and retagged
	// in place, so that its connections never stop.
	takenOver := map[string]*listener{}
	if !recreated {
		for _, l := range have.NLBListeners {
			haveListeners[l.Logical] = l
			if wanted[l.Logical] {
				continue
			}
			if w, ok := wantedPorts[l.Port]; ok && takenOver[w] == nil && !slices.ContainsFunc(have.NLBListeners, func(h *listener) bool { return h.Logical == w }) {
				takenOver[w] = l
				continue
			}
			first = append(first, &change{step: step(providers.KindListener, l.Logical, l.ARN, providers.ActionDelete, providers.WhyUnwanted, nil), run: deleteListener(l)})
		}
	}
	for _, l := range want.NLBListeners {
		hl := haveListeners[l.Logical]
		if old := takenOver[l.Logical]; old != nil {
			first = append(first, &change{step: step(providers.KindListener, l.Logical, old.ARN, providers.ActionUpdate,
				"takes over "+old.Logical+" on its port", providers.Compare(old, l)), run: takeOver(old, l)})
			continue
		}
		switch d := providers.Compare(hl, l); {
		case hl == nil:
			first = append(first, &change{step: step(providers.KindListener, l.Logical, "", providers.ActionCreate, providers.WhyMissing, nil), run: createStreamListener(l)})
		case len(d) > 0:
			first = append(first, &change{step: step(providers.KindListener, l.Logical, hl.ARN, providers.ActionUpdate, providers.WhyChanged, d), run: updateListener(hl, l)})
		default:
			first = append(first, &change{step: step(providers.KindListener, l.Logical, hl.ARN, providers.ActionNothing, providers.WhyUpToDate, nil)})
		}
	}
	return first, goes
}

// takeOver turns listener old into l: modified, retagged, known by l's id.
func takeOver(old, l *listener) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		if err := updateListener(old, l)(ctx, a, c); err != nil {
			return err
		}
		a.listeners[l.Logical] = old.ARN
		return nil
	}
}

// adoptNLB hands the applier the observed NLB and, when it stays, its
// listeners' ARNs.
func (a *applier) adoptNLB(want *state, have *observed) {
	a.nlb = have.NLB
	if have.NLB == nil || want.NLB == nil || want.NLB.Name != have.NLB.Name {
		return
	}
	for _, l := range have.NLBListeners {
		a.listeners[l.Logical] = l.ARN
	}
}

// createNLB creates want, after deleting old when it is a Recreate; an
// NLB gets no security groups.
func createNLB(want, old *loadBalancer) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		made, err := a.createELB(ctx, c, want, old, elbtypes.LoadBalancerTypeEnumNetwork, nil)
		if err != nil {
			return err
		}
		a.nlb = made
		return nil
	}
}

// createStreamListener creates an NLB listener (updateListener and
// deleteListener serve both kinds).
func createStreamListener(l *listener) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		in := &elbv2.CreateListenerInput{LoadBalancerArn: &a.nlb.ARN, Port: awssdk.Int32(l.Port),
			Protocol: elbtypes.ProtocolEnum(l.Protocol), DefaultActions: a.actions(l.Default), Tags: elbTags(l.Tags)}
		if len(l.Certificates) > 0 {
			in.Certificates = a.certs1(l.Certificates[0]) // SslPolicy unset: ELBv2's default
		}
		out, err := a.p.elb.CreateListener(ctx, in)
		if err != nil {
			return classify(err, "CreateListener", l.Serves[0])
		}
		arn := awssdk.ToString(out.Listeners[0].ListenerArn)
		a.listeners[l.Logical], c.step.CloudID = arn, arn
		if len(l.Certificates) > 1 {
			return a.setSNI(ctx, arn, nil, l.Certificates[1:], l.Logical)
		}
		return nil
	}
}

// observeNLBListeners reads the NLB's listeners that carry our tags.
func (p *Provider) observeNLBListeners(ctx context.Context, obs *observed, o lb.Owner) error {
	ls, err := p.listenersOf(ctx, obs.NLB.ARN)
	if err != nil {
		return err
	}
	var arns []string
	for _, l := range ls {
		arns = append(arns, awssdk.ToString(l.ListenerArn))
	}
	tags, err := p.tagsOf(ctx, arns)
	if err != nil {
		return err
	}
	byARN := servedCertificates(obs.Certs)
	sort.Slice(ls, func(i, j int) bool { return awssdk.ToInt32(ls[i].Port) < awssdk.ToInt32(ls[j].Port) })
	for _, l := range ls {
		arn := awssdk.ToString(l.ListenerArn)
		t := tags[arn]
		if !owns(t, o) {
			continue // someone else's listener on our NLB: left alone
		}
		ol := &listener{Logical: t[lb.TagResource], Port: awssdk.ToInt32(l.Port), Protocol: string(l.Protocol), Tags: t, ARN: arn}
		if len(l.DefaultActions) == 1 {
			ol.Default = obs.readAction(l.DefaultActions[0])
		} else {
			ol.Default = action{Type: fmt.Sprintf("%d actions", len(l.DefaultActions))}
		}
		if l.Protocol == elbtypes.ProtocolEnumTls {
			if ol.Certificates, err = p.readListenerCertificates(ctx, l, byARN); err != nil {
				return err
			}
		}
		obs.NLBListeners = append(obs.NLBListeners, ol)
	}
	return nil
}
