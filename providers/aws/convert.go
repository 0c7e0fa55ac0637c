package aws

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// The provider's view of ELBv2 resources, the same for the model (desired)
// and the cloud (observed), so that the diff is a comparison of values.

type loadBalancer struct {
	Name          string            `json:"name"`
	Scheme        string            `json:"scheme"`
	IPAddressType string            `json:"ipAddressType"`
	Subnets       []string          `json:"subnets"`
	Tags          map[string]string `json:"tags"`
	// Attributes (options.go) and SecurityGroups (ownedSG for the
	// provider's own, securitygroups.go), sorted.
	Attributes     map[string]string `json:"attributes"`
	SecurityGroups []string          `json:"securityGroups"`
	// ElasticIPs are an NLB's Elastic IP allocation ids by subnet
	// (addresses.go); staticIPs their addresses, in the order the Gateway
	// requests them, for the status.
	ElasticIPs map[string]string `json:"elasticIPs,omitempty"`
	staticIPs  []string
	ARN        string `json:"-"`
	DNSName    string `json:"-"`
	State      string `json:"-"`
}

type listener struct {
	Logical  string `json:"-"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"`
	Default  action `json:"defaultAction"`
	// Certificates of an HTTPS listener: the default first, then the SNI
	// ones sorted; an imported one by logical id, any other by ARN.
	Certificates []string          `json:"certificates,omitempty"`
	SSLPolicy    string            `json:"sslPolicy,omitempty"` // HTTPS only
	Tags         map[string]string `json:"tags"`
	ARN          string            `json:"-"`
	// Serves names the model listeners an NLB listener carries: its own
	// name, or a TCP and a UDP listener's that share one TCP_UDP port.
	Serves []string `json:"-"`
}

type action struct {
	Type       string    `json:"type"`                 // forward, fixed-response, redirect
	Forward    []forward `json:"forward,omitempty"`    // sorted by target group name
	StatusCode string    `json:"statusCode,omitempty"` // "404", or "HTTP_301"
	Redirect   *redirect `json:"redirect,omitempty"`
	// Stickiness is a forward's target group stickiness, in seconds; 0
	// for none (stickiness.go).
	Stickiness int32 `json:"stickiness,omitempty"`
}

type forward struct {
	TargetGroup string `json:"targetGroup"` // the ELBv2 name (an ARN for a group that is not ours)
	Weight      int32  `json:"weight"`
}

type redirect struct {
	Protocol string `json:"protocol"`
	Host     string `json:"host"`
	Port     string `json:"port"`
	Path     string `json:"path"`
	Query    string `json:"query"`
}

type targetGroup struct {
	Logical  string `json:"-"`
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	// ProtocolVersion is HTTP1, HTTP2 or GRPC for an ALB's groups, empty
	// for an NLB's (TCP, UDP, TCP_UDP, TLS).
	ProtocolVersion string            `json:"protocolVersion,omitempty"`
	Port            int32             `json:"port"`
	Health          health            `json:"healthCheck"`
	Attributes      map[string]string `json:"attributes"` // options.go
	Tags            map[string]string `json:"tags"`
	Targets         []lb.Target       `json:"-"`
	ARN             string            `json:"-"`
}

type health struct {
	Protocol  string `json:"protocol"`
	Path      string `json:"path"`
	Port      string `json:"port"`
	Interval  int32  `json:"interval"`
	Timeout   int32  `json:"timeout"`
	Healthy   int32  `json:"healthyThreshold"`
	Unhealthy int32  `json:"unhealthyThreshold"`
	Matcher   string `json:"matcher"`
	// GRPCCodes replace Matcher for a GRPC group.
	GRPCCodes string `json:"grpcCodes,omitempty"`
}

// state is a load balancer with its parts; LB is nil when there is none.
type state struct {
	LB        *loadBalancer
	Listeners []*listener        // model order (observed: by port)
	Rules     map[string][]*rule // by listener logical id, in evaluation order
	Groups    []*targetGroup     // by logical id
	Certs     []*certificate     // imported from PEM, by logical id
	// NLB carries the model's TCP, UDP and TLS listeners (nlb.go), nil
	// when it has none; NLBListeners are its listeners, by port.
	NLB          *loadBalancer
	NLBListeners []*listener
	Security     *security // security groups and their rules
}

// ALB limits this provider respects.
const (
	maxRulesPerALB        = 100
	maxListenersPerALB    = 50
	maxTargetsPerCall     = 200 // per RegisterTargets or DeregisterTargets call
	maxConditionValues    = 5
	maxGroupsPerAction    = 5
	maxWeight             = 999
	maxPathPattern        = 128
	defaultRuleReserve    = 10 // cloud rules kept for the VirtualHosts' catch-alls
	listenerDefaultStatus = "404"
)

var notFound = action{Type: "fixed-response", StatusCode: listenerDefaultStatus}

// desired converts the model; it is pure. An element AWS cannot express
// safely comes back in an *providers.InvalidError naming it, before any
// write.
func (p *Provider) desired(m *lb.LoadBalancer, subnets []string) (*state, error) {
	if m == nil || len(m.Listeners) == 0 && len(m.TargetGroups) == 0 {
		return &state{Rules: map[string][]*rule{}}, nil
	}
	if err := unappliedOptions(m.Options); err != nil {
		return nil, err
	}
	scheme := string(m.Options.Scheme)
	if scheme == "" {
		scheme = string(lb.SchemeInternetFacing)
	}
	ipType := m.Options.IPAddressType
	if ipType == "" {
		ipType = "ipv4"
	}
	s := &state{
		LB: &loadBalancer{Name: lbName(m.Owner), Scheme: scheme, IPAddressType: ipType,
			Subnets: sortedCopy(subnets), Tags: m.AllTags(logicalLB)},
		Rules: map[string][]*rule{},
	}
	groupNames := map[string]string{}
	var bad []string
	var reasons []string
	refuse := func(elem, why string) {
		if !slices.Contains(bad, elem) {
			bad = append(bad, elem)
		}
		reasons = append(reasons, elem+": "+why)
	}
	for _, tg := range m.TargetGroups {
		g, err := convertGroup(m, tg)
		if err != nil {
			refuse(tg.Name, err.Error())
			continue
		}
		groupNames[tg.Name] = g.Name
		s.Groups = append(s.Groups, g)
	}
	q := quotasOf(m.Options)
	if len(s.Groups) > q.groups {
		for _, g := range s.Groups[q.groups:] {
			refuse(g.Logical, fmt.Sprintf("over the %d target groups of one ALB", q.groups))
		}
	}
	total := 0
	certs := map[string]*certificate{}
	sni := 0
	for _, l := range m.Listeners {
		if len(s.Listeners) == q.listeners {
			refuse(l.Name, fmt.Sprintf("over the %d listeners of one ALB", q.listeners))
			continue
		}
		if isStream(l.Protocol) {
			continue // the NLB's: desiredNLB
		}
		if l.Protocol != lb.ProtocolHTTP && l.Protocol != lb.ProtocolHTTPS {
			refuse(l.Name, fmt.Sprintf("%s listeners are not supported by the AWS provider", l.Protocol))
			continue
		}
		if why := clientValidationRefusal(l); why != "" {
			refuse(l.Name, why)
			continue
		}
		var lcerts []string
		if l.Protocol == lb.ProtocolHTTPS {
			var err error
			if lcerts, err = listenerCertificates(m, l, certs); err != nil {
				refuse(l.Name, err.Error())
				continue
			}
			if len(lcerts)-1 > q.certificates {
				refuse(l.Name, fmt.Sprintf("%d certificates, an ALB serves %d besides the default", len(lcerts), q.certificates))
				continue
			}
			sni += len(lcerts) - 1
			if sni > q.certificates {
				refuse(l.Name, fmt.Sprintf("over the %d certificates of one ALB besides the listeners' defaults", q.certificates))
				continue
			}
		}
		s.Listeners = append(s.Listeners, &listener{Logical: l.Name, Port: l.Port, Protocol: string(l.Protocol),
			Default: notFound, Certificates: lcerts, Tags: m.AllTags(resourceTag(l.Name))})
		var rules []*rule
		for _, vh := range l.VirtualHosts {
			for _, r := range vh.Rules {
				cr, err := convertRule(vh.Hostname, r, groupNames)
				if err != nil {
					refuse(r.Name, err.Error())
					continue
				}
				if cr == nil {
					continue // can never match (see convertRule): no cloud rule
				}
				if why := http2OnHTTP(cr, s.Groups); why != "" && l.Protocol == lb.ProtocolHTTP {
					refuse(r.Name, why)
					continue
				}
				total++
				if total > q.rules {
					refuse(r.Name, fmt.Sprintf("over the %d rules of one ALB", q.rules))
					continue
				}
				cr.Logical = ruleLogical(l.Name, r.Name)
				cr.Element = r.Name
				cr.Tags = m.AllTags(resourceTag(cr.Logical))
				rules = append(rules, cr)
			}
			// The VirtualHost's own 404, so that a request for this host
			// never falls through to a wildcard or catch-all host's rules.
			if vh.Hostname != "" {
				total++
				d := &rule{Logical: defaultRuleLogical(l.Name, vh.Hostname), Element: l.Name,
					Conditions: []condition{*hostMatch(vh.Hostname)}, Action: notFound}
				d.Tags = m.AllTags(resourceTag(d.Logical))
				if total > q.rules {
					refuse(l.Name, fmt.Sprintf("over the %d rules of one ALB", q.rules))
					continue
				}
				rules = append(rules, d)
			}
		}
		s.Rules[l.Name] = rules
	}
	desiredNLB(m, s, groupNames, certs, refuse)
	if s.NLB != nil {
		if fields := nlbOptionProblems(m.Options); len(fields) > 0 {
			for _, l := range s.NLBListeners {
				for _, name := range l.Serves {
					refuse(name, "the aws provider applies "+strings.Join(fields, ", ")+" to ALBs only, not to this NLB listener")
				}
			}
		}
	}
	if s.NLB != nil && len(s.Listeners) == 0 {
		s.LB = nil // layer 4 only: no ALB
	}
	if len(bad) > 0 {
		return nil, &providers.InvalidError{Elements: bad, Message: strings.Join(reasons, "; ")}
	}
	for _, k := range slices.Sorted(maps.Keys(certs)) {
		s.Certs = append(s.Certs, certs[k])
	}
	withOptions(m, s)
	withStickiness(m, s)
	return s, nil
}

func convertGroup(m *lb.LoadBalancer, tg lb.TargetGroup) (*targetGroup, error) {
	if tg.TLS != nil {
		return tlsGroup(m, tg)
	}
	var port int32
	switch tg.Protocol {
	case lb.ProtocolHTTP:
		port = 80
	case lb.ProtocolHTTPS:
		port = 443
	case lb.ProtocolTCP, lb.ProtocolUDP:
		return streamGroup(m, tg, string(tg.Protocol), tg.Name)
	case lb.ProtocolH2C:
		return h2cGroup(m, tg)
	default:
		return nil, fmt.Errorf("target group protocol %s is not supported by the AWS provider", tg.Protocol)
	}
	h := health{Protocol: string(tg.Protocol), Path: "/", Port: "traffic-port", Interval: 30, Timeout: 5,
		Healthy: 5, Unhealthy: 2, Matcher: "200"}
	if hc := tg.HealthCheck; hc != nil {
		if hc.Protocol != "" {
			h.Protocol = string(hc.Protocol)
		}
		if hc.Path != "" {
			h.Path = hc.Path
		}
		if h.Protocol == string(lb.ProtocolTCP) {
			return nil, fmt.Errorf("TCP health checks are not supported for an ALB's %s target group", tg.Protocol)
		}
		overlayTiming(&h, hc)
		if len(hc.SuccessCodes) > 0 {
			h.Matcher = matcher(hc.SuccessCodes)
		}
	}
	targets := elbTargets(tg.Targets)
	return &targetGroup{Logical: tg.Name, Name: tgName(m.Owner, tg), Protocol: string(tg.Protocol), ProtocolVersion: "HTTP1", Port: port,
		Health: h, Tags: m.AllTags(resourceTag(tg.Name)), Targets: targets}, nil
}

// overlayTiming lays the model's probe port, interval, timeout and
// thresholds over h's defaults, ALB's and NLB's alike; the timeout stays
// under the interval, as ELBv2 wants.
func overlayTiming(h *health, hc *lb.HealthCheck) {
	if hc.Port != 0 {
		h.Port = strconv.Itoa(int(hc.Port))
	}
	if hc.Interval != 0 {
		h.Interval = int32(hc.Interval / time.Second)
	}
	if hc.Timeout != 0 {
		h.Timeout = int32(hc.Timeout / time.Second)
	}
	if h.Timeout >= h.Interval {
		h.Timeout = h.Interval - 1
	}
	if hc.HealthyThreshold != 0 {
		h.Healthy = int32(hc.HealthyThreshold)
	}
	if hc.UnhealthyThreshold != 0 {
		h.Unhealthy = int32(hc.UnhealthyThreshold)
	}
}

// elbTargets is ts as ELBv2 holds them: each IP:port once, sorted, and
// without the zone, which registerTargets does not send. Observed targets
// have none either, so a zone never makes a target look changed.
func elbTargets(ts []lb.Target) []lb.Target {
	var out []lb.Target
	for _, t := range ts {
		out = append(out, lb.Target{IP: t.IP, Port: t.Port})
	}
	sortTargets(out)
	return slices.Compact(out)
}

func sortTargets(ts []lb.Target) {
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].IP != ts[j].IP {
			return ts[i].IP < ts[j].IP
		}
		return ts[i].Port < ts[j].Port
	})
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// tlsGroup converts a group with TLS to its targets (a BackendTLSPolicy):
// an HTTPS target group, of version HTTP2 or GRPC for an H2C one. What ALB
// cannot do is refused here as a backstop (mapping refuses it first, from
// Capabilities): a client certificate (ALB presents none to targets) and
// TLS to a layer-4 group (the NLB's TLS target groups are not wired).
// ALB does not verify the targets' certificates (the policy's ancestor
// status says so: Capabilities.BackendTLSVerify is unset), and ELBv2 has
// no field for the SNI name it sends them, so the model's CA bundles,
// server name and names have nowhere to go and are left out.
func tlsGroup(m *lb.LoadBalancer, tg lb.TargetGroup) (*targetGroup, error) {
	if tg.TLS.ClientCertificate != nil {
		return nil, fmt.Errorf("aws: an ALB cannot present a client certificate to targets (BackendTLSPolicy %s)", tg.TLS.Policy)
	}
	plain := tg
	plain.TLS = nil
	switch tg.Protocol {
	case lb.ProtocolHTTP:
		plain.Protocol = lb.ProtocolHTTPS
		g, err := convertGroup(m, plain)
		if err != nil {
			return nil, err
		}
		// Named from the model's group as it is (HTTP with TLS), so
		// that adding or removing the policy is a new group (ELBv2
		// cannot change a group's protocol).
		g.Name = tgName(m.Owner, lb.TargetGroup{Name: tg.Name, Protocol: "HTTP+TLS"})
		return g, nil
	case lb.ProtocolH2C:
		g, err := h2cGroup(m, plain)
		if err != nil {
			return nil, err
		}
		g.Protocol = string(lb.ProtocolHTTPS)
		if g.Health.Protocol == string(lb.ProtocolHTTP) {
			g.Health.Protocol = string(lb.ProtocolHTTPS)
		}
		g.Name = tgName(m.Owner, lb.TargetGroup{Name: tg.Name, Protocol: "H2C+TLS"})
		return g, nil
	}
	return nil, fmt.Errorf("aws: TLS to the targets of a %s target group is not supported (BackendTLSPolicy %s)", tg.Protocol, tg.TLS.Policy)
}
