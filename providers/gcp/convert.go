package gcp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// Load-balancing schemes: regional external and regional internal
// Application Load Balancers (Envoy-based, with advanced traffic
// management).
const (
	schemeExternal = "EXTERNAL_MANAGED"
	schemeInternal = "INTERNAL_MANAGED"
)

// maxRatePerEndpoint is the RATE balancing mode's per-endpoint capacity.
// GCE_VM_IP_PORT backends of a managed load balancer need a balancing mode
// with a capacity; the figure is set high so that it spreads load without
// ever capping it.
const maxRatePerEndpoint = 1e6

// maxConnectionsPerEndpoint is the CONNECTION balancing mode's
// per-endpoint capacity, likewise.
const maxConnectionsPerEndpoint = 1e6

// converter turns one model into the desired state. It is pure: the
// observed URL maps only lend their rule priorities, so that priorities
// stay put across changes.
type converter struct {
	m   *lb.LoadBalancer
	loc location
	// prev holds the observed priorities: by URL map name, path matcher
	// name and rule name.
	prev map[string]map[string]map[string]int32
	// refusals collects what the cloud cannot express, by model element.
	refusals refusals
	labels   labels
	// given is the reserved address the model's requested IP names
	// (addresses.go), nil when it requests none.
	given *computepb.Address
}

// desired is the pure conversion of m: the state to reach, and notes on
// how the model was realized (labels rewritten or refused). Everything GCP
// cannot express comes back as one *providers.InvalidError naming every
// element at fault.
func desired(m *lb.LoadBalancer, loc location, have *state) (*state, []string, error) {
	return desiredOn(m, loc, have, nil)
}

// desiredOn is desired with the reserved address that the model's
// requested IP names (Provider.givenAddress).
func desiredOn(m *lb.LoadBalancer, loc location, have *state, given *computepb.Address) (*state, []string, error) {
	c := &converter{m: m, loc: loc, prev: priorities(have), labels: sanitizeLabels(m.Tags), given: given}
	s := c.convert()
	if err := c.refusals.err(); err != nil {
		return nil, nil, err
	}
	return s, c.labels.Notes, nil
}

func (c *converter) scheme() string {
	if c.m.Options.Scheme == lb.SchemeInternal {
		return schemeInternal
	}
	return schemeExternal
}

func (c *converter) desc(logical string) *string {
	return proto.String(description(c.m.Owner, logical))
}

func (c *converter) convert() *state {
	s := &state{Endpoints: map[string][]*computepb.NetworkEndpoint{}}
	o := c.m.Owner
	for _, l := range c.m.Listeners {
		switch l.Protocol {
		case lb.ProtocolHTTP, lb.ProtocolHTTPS, lb.ProtocolTCP:
		default:
			// UDP and TLS passthrough need a passthrough Network Load
			// Balancer, whose backends are VMs or instance groups, not
			// the Pods' IPs: Capabilities leaves them out.
			c.refusals.add(l.Name, fmt.Sprintf("a %s listener (the GCP provider serves HTTP, HTTPS and TCP)", l.Protocol))
		}
		if why := clientValidationRefusal(l); why != "" {
			c.refusals.add(l.Name, why)
		}
	}
	if len(c.m.Listeners) == 0 {
		return s
	}
	// The sink takes what the URL map answers by itself (no match, fixed
	// responses, invalid backends): an empty backend service behind a
	// fault-injection abort at 100%, which answers before any backend is
	// chosen. TCP listeners have no URL map.
	if slices.ContainsFunc(c.m.Listeners, func(l lb.Listener) bool { return l.Protocol == lb.ProtocolHTTP || l.Protocol == lb.ProtocolHTTPS }) {
		s.Backends = append(s.Backends, &computepb.BackendService{
			Name:                proto.String(c.sinkName()),
			Description:         c.desc(logicalSink),
			LoadBalancingScheme: proto.String(c.scheme()),
			Protocol:            proto.String("HTTP"),
		})
	}
	for _, tg := range c.m.TargetGroups {
		c.targetGroup(s, tg)
	}
	var ip string
	switch len(c.m.Options.Addresses) {
	case 0:
		a := &computepb.Address{
			Name:        proto.String(name(o, tagAddress, logicalLB, c.scheme())),
			Description: c.desc(logicalLB),
			Labels:      c.userLabels(),
		}
		if c.scheme() == schemeInternal {
			a.AddressType = proto.String("INTERNAL")
			a.Subnetwork = proto.String(c.loc.Subnetwork)
		} else {
			a.AddressType = proto.String("EXTERNAL")
			a.NetworkTier = proto.String("PREMIUM")
		}
		s.Addresses = append(s.Addresses, a)
		ip = c.loc.regional("addresses", a.GetName())
	case 1:
		ip = c.requestedIP(s)
	default:
		c.refusals.add("", fmt.Sprintf("%d addresses (every forwarding rule of a Gateway shares one)", len(c.m.Options.Addresses)))
		return s
	}
	for _, l := range c.m.Listeners {
		if l.Protocol == lb.ProtocolTCP {
			if target := c.tcpProxy(s, l); target != "" {
				s.Rules = append(s.Rules, c.forwardingRule(l, ip, target))
			}
			continue
		}
		if l.Protocol != lb.ProtocolHTTP && l.Protocol != lb.ProtocolHTTPS {
			continue
		}
		um := c.urlMap(l)
		s.URLMaps = append(s.URLMaps, um)
		umLink := c.loc.regional("urlMaps", um.GetName())
		var target string
		if l.Protocol == lb.ProtocolHTTP {
			p := &computepb.TargetHttpProxy{Name: proto.String(name(o, tagHTTPProxy, l.Name)), Description: c.desc(l.Name), UrlMap: proto.String(umLink)}
			s.HTTPProxies = append(s.HTTPProxies, p)
			target = c.loc.regional("targetHttpProxies", p.GetName())
		} else {
			p := &computepb.TargetHttpsProxy{Name: proto.String(name(o, tagHTTPSProxy, l.Name)), Description: c.desc(l.Name), UrlMap: proto.String(umLink)}
			p.SslCertificates = c.certificates(s, l)
			s.HTTPSProxies = append(s.HTTPSProxies, p)
			target = c.loc.regional("targetHttpsProxies", p.GetName())
		}
		s.Rules = append(s.Rules, c.forwardingRule(l, ip, target))
	}
	return s
}

// forwardingRule is listener l's rule: its port on the address ip, to
// target.
func (c *converter) forwardingRule(l lb.Listener, ip, target string) *computepb.ForwardingRule {
	o := c.m.Owner
	port := strconv.Itoa(int(l.Port))
	fr := &computepb.ForwardingRule{
		// A forwarding rule can change only its target and labels in
		// place: the port, address, scheme and network are in the name.
		Name:                proto.String(name(o, tagForwarding, l.Name, port, ip, c.scheme(), c.loc.Network, string(l.Protocol))),
		Description:         c.desc(l.Name),
		IPAddress:           proto.String(ip),
		IPProtocol:          proto.String("TCP"),
		PortRange:           proto.String(port + "-" + port),
		LoadBalancingScheme: proto.String(c.scheme()),
		Target:              proto.String(target),
		Network:             proto.String(c.loc.Network),
		Labels:              c.userLabels(),
	}
	if c.scheme() == schemeInternal {
		fr.Subnetwork = proto.String(c.loc.Subnetwork)
	} else {
		fr.NetworkTier = proto.String("PREMIUM")
	}
	return fr
}

// tcpProxy adds a TCP listener's target TCP proxy (a regional external
// proxy Network Load Balancer) and returns its link, or "" when its stream
// cannot be expressed. A TCP listener's connections all go to its first
// Stream; a target TCP proxy forwards to one backend service, so the
// stream must have exactly one backend. The proxy cannot change its
// service in place (the regional API has no setBackendService): the
// service is in its name.
func (c *converter) tcpProxy(s *state, l lb.Listener) string {
	if len(l.Streams) == 0 {
		c.refusals.add(l.Name, "a TCP listener without a stream")
		return ""
	}
	st := l.Streams[0]
	var valid []lb.WeightedBackend
	for _, b := range st.Backends {
		if b.TargetGroup != "" && b.Weight > 0 {
			valid = append(valid, b)
		}
	}
	var bs string
	switch {
	case len(valid) == 0:
		// Every backend is invalid (or weighs 0): the model closes every
		// connection, which a proxy to an empty backend service does.
		bs = c.loc.regional("backendServices", c.tcpSink(s))
	case len(valid) == 1 && len(valid) == len(st.Backends):
		bs = c.loc.regional("backendServices", c.backendName(valid[0].TargetGroup))
	default:
		c.refusals.add(st.Name, "a TCP stream with more than one backend (a target TCP proxy forwards to one backend service, with no weights)")
		return ""
	}
	p := &computepb.TargetTcpProxy{
		Name:        proto.String(name(c.m.Owner, tagTCPProxy, l.Name, bs)),
		Description: c.desc(l.Name),
		Service:     proto.String(bs),
		ProxyHeader: proto.String("NONE"),
	}
	s.TCPProxies = append(s.TCPProxies, p)
	return c.loc.regional("targetTcpProxies", p.GetName())
}

// userLabels is a copy of the sanitized labels (nil for none), one per
// resource so that no two resources share a map.
func (c *converter) userLabels() map[string]string {
	if len(c.labels.Labels) == 0 {
		return nil
	}
	return maps.Clone(c.labels.Labels)
}

func (c *converter) sinkName() string { return name(c.m.Owner, tagBackend, logicalSink) }

// tcpSink adds, once, the empty TCP backend service that TCP listeners
// without a valid backend forward to, and returns its name.
func (c *converter) tcpSink(s *state) string {
	n := name(c.m.Owner, tagBackend, logicalTCPSink)
	for _, b := range s.Backends {
		if b.GetName() == n {
			return n
		}
	}
	s.Backends = append(s.Backends, &computepb.BackendService{
		Name:                proto.String(n),
		Description:         c.desc(logicalTCPSink),
		LoadBalancingScheme: proto.String(c.scheme()),
		Protocol:            proto.String("TCP"),
	})
	return n
}

func (c *converter) backendName(tg string) string { return name(c.m.Owner, tagBackend, tg) }

// targetGroup adds a target group's health check, network endpoint group
// (with its endpoints) and backend service.
func (c *converter) targetGroup(s *state, tg lb.TargetGroup) {
	o := c.m.Owner
	hc := c.healthCheck(tg)
	if hc == nil {
		return
	}
	s.HealthChecks = append(s.HealthChecks, hc)
	// One NEG per zone the targets report (a zonal NEG holds endpoints of
	// its zone only), in zone order; targets of no zone go to the
	// default one, as does an empty group, so that its backend service
	// always has a backend.
	byZone := map[string][]*computepb.NetworkEndpoint{}
	for _, t := range tg.Targets {
		z := t.Zone
		if z == "" {
			z = c.loc.Zone
		}
		if !strings.HasPrefix(z, c.loc.Region+"-") {
			c.refusals.add(tg.Name, fmt.Sprintf("endpoints in zone %q, outside the load balancer's region %s", z, c.loc.Region))
			return
		}
		if t.Node == "" {
			c.refusals.add(tg.Name, fmt.Sprintf("endpoint %s:%d without a node name in its EndpointSlice (a GCE_VM_IP_PORT network endpoint names the VM instance it runs on)", t.IP, t.Port))
			return
		}
		byZone[z] = append(byZone[z], &computepb.NetworkEndpoint{IpAddress: proto.String(t.IP), Port: proto.Int32(t.Port), Instance: proto.String(t.Node)})
	}
	if len(byZone) == 0 {
		byZone[c.loc.Zone] = nil
	}
	var backends []*computepb.Backend
	for _, z := range slices.Sorted(maps.Keys(byZone)) {
		// A NEG cannot change in place: its zone and network are in the
		// name.
		neg := &computepb.NetworkEndpointGroup{
			Name:                proto.String(name(o, tagNEG, tg.Name, z, c.loc.Network, c.loc.Subnetwork)),
			Description:         c.desc(tg.Name),
			NetworkEndpointType: proto.String("GCE_VM_IP_PORT"),
			Network:             proto.String(c.loc.Network),
			Zone:                proto.String("projects/" + c.loc.Project + "/zones/" + z),
		}
		if c.loc.Subnetwork != "" {
			neg.Subnetwork = proto.String(c.loc.Subnetwork)
		}
		s.NEGs = append(s.NEGs, neg)
		s.Endpoints[neg.GetName()] = byZone[z]
		backends = append(backends, c.backendOf(tg, neg, z))
	}
	// HTTP2 is HTTP/2 over TLS (the BackendService.protocol enum: "HTTP/2
	// with SSL"); an h2c group speaks cleartext HTTP/2, H2C.
	bsProtocol := map[lb.Protocol]string{lb.ProtocolHTTP: "HTTP", lb.ProtocolHTTPS: "HTTPS", lb.ProtocolH2C: "H2C", lb.ProtocolTCP: "TCP"}[tg.Protocol]
	tlsSettings, tlsProtocol, ok := c.backendTLS(tg)
	if !ok {
		return
	}
	if tlsProtocol != "" {
		bsProtocol = tlsProtocol
	}
	bs := &computepb.BackendService{
		Name:                ptr(c.backendName(tg.Name)),
		Description:         c.desc(tg.Name),
		LoadBalancingScheme: ptr(c.scheme()),
		Protocol:            ptr(bsProtocol),
		HealthChecks:        []string{c.loc.regional("healthChecks", hc.GetName())},
		Backends:            backends,
		TlsSettings:         tlsSettings,
	}
	c.withAffinity(bs, tg)
	s.Backends = append(s.Backends, bs)
}

// backendTLS is a target group's TLS (a BackendTLSPolicy) as a backend
// service's: protocol HTTPS (HTTP2 for an H2C group: GCP's HTTP2 is
// HTTP/2 over TLS), tlsSettings.sni the policy's hostname and
// tlsSettings.subjectAltNames its names. The CA bundles have nowhere to
// go: GCP checks a backend's chain only against a BackendAuthenticationConfig
// (Network Security API, named by tlsSettings.authenticationConfig), which
// this provider does not manage; Capabilities.BackendTLSVerify is unset,
// and mapping says so on the policy. A client certificate goes there too
// (refused; mapping refuses it first), and TLS over a TCP proxy is not
// wired (refused). ok is false when tg is refused.
func (c *converter) backendTLS(tg lb.TargetGroup) (settings *computepb.BackendServiceTlsSettings, protocol string, ok bool) {
	t := tg.TLS
	if t == nil {
		return nil, "", true
	}
	switch {
	case t.ClientCertificate != nil:
		c.refusals.add(tg.Name, "a client certificate presented to backends (it needs a BackendAuthenticationConfig, which the GCP provider does not manage)")
		return nil, "", false
	case tg.Protocol == lb.ProtocolHTTP:
		protocol = "HTTPS"
	case tg.Protocol == lb.ProtocolH2C:
		protocol = "HTTP2"
	default:
		c.refusals.add(tg.Name, fmt.Sprintf("TLS to the backends of a %s target group", tg.Protocol))
		return nil, "", false
	}
	settings = &computepb.BackendServiceTlsSettings{Sni: ptr(t.ServerName)}
	for _, n := range t.SubjectAltNames {
		if n.URI != "" {
			settings.SubjectAltNames = append(settings.SubjectAltNames, &computepb.BackendServiceTlsSettingsSubjectAltName{UniformResourceIdentifier: ptr(n.URI)})
		} else {
			settings.SubjectAltNames = append(settings.SubjectAltNames, &computepb.BackendServiceTlsSettingsSubjectAltName{DnsName: ptr(n.Hostname)})
		}
	}
	return settings, protocol, true
}

// backendOf is a NEG as a backend service's backend. A proxy Network Load
// Balancer balances connections, an Application Load Balancer requests;
// either needs a capacity, set high so that it spreads load without ever
// capping it.
func (c *converter) backendOf(tg lb.TargetGroup, neg *computepb.NetworkEndpointGroup, zone string) *computepb.Backend {
	link := fmt.Sprintf("projects/%s/zones/%s/networkEndpointGroups/%s", c.loc.Project, zone, neg.GetName())
	b := &computepb.Backend{Group: ptr(link), CapacityScaler: ptr(float32(1))}
	if tg.Protocol == lb.ProtocolTCP {
		b.BalancingMode, b.MaxConnectionsPerEndpoint = ptr("CONNECTION"), ptr(int32(maxConnectionsPerEndpoint))
	} else {
		b.BalancingMode, b.MaxRatePerEndpoint = ptr("RATE"), ptr(float32(maxRatePerEndpoint))
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// healthCheck is the probe of tg's endpoints: HTTP, HTTPS or HTTP/2 over
// TLS as the group speaks (HTTP for cleartext h2c), on each endpoint's own port unless the model names
// one, with the model's timings or GCP's defaults (5s interval, 5s
// timeout, 2 healthy, 2 unhealthy) written out, so that an observed check
// compares equal.
func (c *converter) healthCheck(tg lb.TargetGroup) *computepb.HealthCheck {
	h := lb.HealthCheck{}
	if tg.HealthCheck != nil {
		h = *tg.HealthCheck
	}
	if len(h.SuccessCodes) > 0 && !slices.Equal(h.SuccessCodes, []lb.CodeRange{{From: 200, To: 200}}) {
		c.refusals.add(tg.Name, "health-check success codes other than 200 (GCP's HTTP health checks take 200 only)")
		return nil
	}
	protocol := h.Protocol
	if protocol == "" {
		protocol = tg.Protocol
		// A group with TLS is probed over TLS, as it is served.
		if tg.TLS != nil && protocol == lb.ProtocolHTTP {
			protocol = lb.ProtocolHTTPS
		}
	}
	interval, timeout := int32(5), int32(5)
	if h.Interval > 0 {
		interval = int32(h.Interval.Seconds())
	}
	if h.Timeout > 0 {
		timeout = int32(h.Timeout.Seconds())
	}
	// GCP refuses a timeout above the interval.
	timeout = min(timeout, interval)
	healthy, unhealthy := int32(2), int32(2)
	if h.HealthyThreshold > 0 {
		healthy = int32(h.HealthyThreshold)
	}
	if h.UnhealthyThreshold > 0 {
		unhealthy = int32(h.UnhealthyThreshold)
	}
	port := func() (*string, *int32) {
		if h.Port > 0 {
			return ptr("USE_FIXED_PORT"), ptr(h.Port)
		}
		return ptr("USE_SERVING_PORT"), nil
	}
	path := h.Path
	if path == "" {
		path = "/"
	}
	hc := &computepb.HealthCheck{
		Name:               ptr(name(c.m.Owner, tagHealthCheck, tg.Name)),
		Description:        c.desc(tg.Name),
		CheckIntervalSec:   ptr(interval),
		TimeoutSec:         ptr(timeout),
		HealthyThreshold:   ptr(healthy),
		UnhealthyThreshold: ptr(unhealthy),
	}
	spec, p := port()
	switch protocol {
	case lb.ProtocolHTTP:
		hc.Type = ptr("HTTP")
		hc.HttpHealthCheck = &computepb.HTTPHealthCheck{PortSpecification: spec, Port: p, RequestPath: ptr(path)}
	case lb.ProtocolHTTPS:
		hc.Type = ptr("HTTPS")
		hc.HttpsHealthCheck = &computepb.HTTPSHealthCheck{PortSpecification: spec, Port: p, RequestPath: ptr(path)}
	case lb.ProtocolH2C:
		// GCP's HTTP2 health check speaks HTTP/2 over TLS, as its HTTP2
		// backend services do: right for a group with TLS, and failing
		// every cleartext h2c endpoint. Those get the HTTP check on the
		// same port, HTTP/1.1 in cleartext, which h2c servers that accept
		// upgrades answer (the README says so).
		if tg.TLS != nil && h.Protocol == "" {
			hc.Type = ptr("HTTP2")
			hc.Http2HealthCheck = &computepb.HTTP2HealthCheck{PortSpecification: spec, Port: p, RequestPath: ptr(path)}
			break
		}
		hc.Type = ptr("HTTP")
		hc.HttpHealthCheck = &computepb.HTTPHealthCheck{PortSpecification: spec, Port: p, RequestPath: ptr(path)}
	case lb.ProtocolTCP:
		hc.Type = ptr("TCP")
		hc.TcpHealthCheck = &computepb.TCPHealthCheck{PortSpecification: spec, Port: p}
	default:
		c.refusals.add(tg.Name, fmt.Sprintf("a %s target group behind an Application Load Balancer", tg.Protocol))
		return nil
	}
	return hc
}

// certificates are an HTTPS listener's certificates as the proxy names
// them, uploading the PEM ones. A PEM certificate's name covers its
// content: a rotated Secret is a new certificate, created (and switched
// to) before the old one is deleted, so the listener never lacks one.
func (c *converter) certificates(s *state, l lb.Listener) []string {
	var out []string
	seen := map[string]bool{}
	for _, vh := range l.VirtualHosts {
		for _, cert := range vh.Certificates {
			if seen[cert.Name] {
				continue
			}
			seen[cert.Name] = true
			if cert.Ref != nil {
				if cert.Ref.Kind != lb.CertificateRefGCP {
					c.refusals.add(cert.Name, fmt.Sprintf("a %s certificate reference", cert.Ref.Kind))
					continue
				}
				out = append(out, c.loc.regional("sslCertificates", cert.Ref.ID))
				continue
			}
			sum := sha256.Sum256(append(slices.Clone(cert.CertPEM), cert.KeyPEM...))
			n := name(c.m.Owner, tagCertificate, cert.Name, hex.EncodeToString(sum[:]))
			if !slices.ContainsFunc(s.Certificates, func(x *computepb.SslCertificate) bool { return x.GetName() == n }) {
				s.Certificates = append(s.Certificates, &computepb.SslCertificate{
					Name:        ptr(n),
					Description: c.desc(cert.Name),
					Type:        ptr("SELF_MANAGED"),
					Certificate: ptr(string(cert.CertPEM)),
					PrivateKey:  ptr(string(cert.KeyPEM)),
				})
			}
			out = append(out, c.loc.regional("sslCertificates", n))
		}
	}
	return out
}

// refusals gathers what GCP cannot express, so that one InvalidError names
// every element at fault (in the order met, each feature once).
type refusals struct {
	elements []string
	found    []refusal
}

type refusal struct{ element, feature string }

func (r *refusals) add(element, feature string) {
	if element != "" && !slices.Contains(r.elements, element) {
		r.elements = append(r.elements, element)
	}
	if f := (refusal{element, feature}); !slices.Contains(r.found, f) {
		r.found = append(r.found, f)
	}
}

// err is the refusals as one error. InvalidError's text names the
// elements; each feature names its own only when there are several.
func (r *refusals) err() error {
	if len(r.found) == 0 {
		return nil
	}
	var msgs []string
	for _, f := range r.found {
		msg := f.feature
		if f.element != "" && len(r.elements) > 1 {
			msg = fmt.Sprintf("%s (at %s)", f.feature, f.element)
		}
		if !slices.Contains(msgs, msg) {
			msgs = append(msgs, msg)
		}
	}
	return &providers.InvalidError{Elements: r.elements, Message: "GCP cannot express " + strings.Join(msgs, "; ")}
}
