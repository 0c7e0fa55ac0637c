package gcptest

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// This file holds the rules of single kinds: the checks the real API makes
// that the provider relies on, and the fields the API fills in.

// Address pools: external addresses from 100.64.0.0/10 (shared address
// space, never routed on the internet) unless Config.ExternalAddresses
// says otherwise, internal ones from 10.128.0.0/9.
var pools = map[string]netip.Prefix{
	"EXTERNAL": netip.MustParsePrefix("100.64.0.0/10"),
	"INTERNAL": netip.MustParsePrefix("10.128.0.0/9"),
}

// pool returns the prefix addresses of pool come from.
func (d *Double) pool(pool string) netip.Prefix {
	if pool == "EXTERNAL" && d.external.IsValid() {
		return d.external
	}
	return pools[pool]
}

// allocate returns the next free address of a pool. d.mu is held.
func (d *Double) allocate(pool string) (string, *apiError) {
	p := d.pool(pool)
	next, ok := d.ips[pool]
	if !ok {
		next = p.Addr().Next()
	}
	if !p.Contains(next) {
		return "", errorf(http.StatusForbidden, "quotaExceeded", "the double's %s address pool is exhausted", pool)
	}
	d.ips[pool] = next.Next()
	return next.String(), nil
}

func poolFor(addressType, scheme string) string {
	if addressType == "INTERNAL" || scheme == "INTERNAL" || scheme == "INTERNAL_MANAGED" || scheme == "INTERNAL_SELF_MANAGED" {
		return "INTERNAL"
	}
	return "EXTERNAL"
}

func prepareAddress(d *Double, _ string, obj proto.Message) *apiError {
	a := obj.(*computepb.Address)
	if a.AddressType == nil {
		a.AddressType = proto.String("EXTERNAL")
	}
	if a.GetAddress() == "" {
		ip, aerr := d.allocate(poolFor(a.GetAddressType(), ""))
		if aerr != nil {
			return aerr
		}
		a.Address = proto.String(ip)
	} else if _, err := netip.ParseAddr(a.GetAddress()); err != nil {
		return invalid("Invalid value for field 'resource.address': '%s'", a.GetAddress())
	}
	return nil
}

func presentAddress(d *Double, ref string, obj proto.Message) {
	a := obj.(*computepb.Address)
	a.Users = d.users(ref)
	if len(a.Users) > 0 {
		a.Status = proto.String("IN_USE")
	} else {
		a.Status = proto.String("RESERVED")
	}
}

// forwardingRuleRefs includes the reserved address a rule uses, whether it
// names it by URL or by its IP (both are how users give one).
func forwardingRuleRefs(d *Double, scope string, obj proto.Message) []reference {
	f := obj.(*computepb.ForwardingRule)
	refs := optional(
		reference{field: "target", link: f.GetTarget(), kinds: []string{"targetHttpProxies", "targetHttpsProxies", "targetTcpProxies"}},
		reference{field: "backendService", link: f.GetBackendService(), kinds: []string{"backendServices"}},
		reference{field: "subnetwork", link: f.GetSubnetwork(), kinds: []string{"subnetworks"}},
	)
	ip := f.GetIPAddress()
	if _, err := netip.ParseAddr(ip); err != nil && ip != "" {
		return append(refs, reference{field: "IPAddress", link: ip, kinds: []string{"addresses"}})
	}
	prefix := "projects/" + d.project + "/" + scope + "/addresses/"
	for ref, other := range d.objects {
		if a, ok := other.(*computepb.Address); ok && strings.HasPrefix(ref, prefix) && ip != "" && a.GetAddress() == ip {
			refs = append(refs, reference{field: "IPAddress", link: ref, kinds: []string{"addresses"}})
		}
	}
	return refs
}

func prepareForwardingRule(d *Double, scope string, obj proto.Message) *apiError {
	f := obj.(*computepb.ForwardingRule)
	if f.IPProtocol == nil {
		f.IPProtocol = proto.String("TCP")
	}
	if f.LoadBalancingScheme == nil {
		f.LoadBalancingScheme = proto.String("EXTERNAL")
	}
	if pr := f.GetPortRange(); pr != "" && !strings.Contains(pr, "-") {
		f.PortRange = proto.String(pr + "-" + pr)
	}
	switch ip := f.GetIPAddress(); {
	case ip == "":
		ip, aerr := d.allocate(poolFor("", f.GetLoadBalancingScheme()))
		if aerr != nil {
			return aerr
		}
		f.IPAddress = proto.String(ip)
	case !strings.Contains(ip, "/"):
		if _, err := netip.ParseAddr(ip); err != nil {
			return invalid("Invalid value for field 'resource.IPAddress': '%s'", ip)
		}
		if aerr := d.checkRuleAddress(scope, f); aerr != nil {
			return aerr
		}
	default:
		// A reserved address named by URL: the rule gets its IP, as in GCP.
		target, ok := d.resolve(ip)
		if a, found := d.objects[target].(*computepb.Address); ok && found {
			f.IPAddress = proto.String(a.GetAddress())
		}
	}
	return nil
}

func parsePortRange(pr string) (lo, hi int, ok bool) {
	a, b, _ := strings.Cut(pr, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	return lo, hi, err1 == nil && err2 == nil && lo >= 1 && lo <= hi && hi <= 65535
}

func checkForwardingRule(d *Double, ref string, obj proto.Message) *apiError {
	f := obj.(*computepb.ForwardingRule)
	if f.GetTarget() == "" && f.GetBackendService() == "" {
		return invalid("Invalid value for field 'resource.target': a forwarding rule needs a target or a backend service")
	}
	lo, hi, ok := parsePortRange(f.GetPortRange())
	if f.GetPortRange() != "" && !ok {
		return invalid("Invalid value for field 'resource.portRange': '%s'", f.GetPortRange())
	}
	scope := scopeOf(ref)
	scheme := f.GetLoadBalancingScheme()
	if strings.HasPrefix(scope, "regions/") && (scheme == "EXTERNAL_MANAGED" || scheme == "INTERNAL_MANAGED") && f.GetTarget() != "" {
		if !d.hasProxyOnlySubnet(scope, f.GetNetwork()) {
			return invalid("Invalid value for field 'resource.target': '%s'. An active proxy-only subnetwork is required in the same region and VPC as the forwarding rule.", f.GetTarget())
		}
	}
	// Two rules on one IP and protocol must not share a port.
	for other, o := range d.objects {
		g, isRule := o.(*computepb.ForwardingRule)
		if !isRule || other == ref || scopeOf(other) != scope || g.GetIPAddress() != f.GetIPAddress() || g.GetIPProtocol() != f.GetIPProtocol() {
			continue
		}
		glo, ghi, gok := parsePortRange(g.GetPortRange())
		if ok && gok && lo <= ghi && glo <= hi {
			return errorf(http.StatusBadRequest, "ipInUseByAnotherResource",
				"IP '%s' is already being used by another resource '%s' on an overlapping port range", f.GetIPAddress(), SelfLinkBase+other)
		}
	}
	return nil
}

// checkRuleAddress refuses an external forwarding rule given an IP that
// no reserved address of its region holds (GCP gives a chosen external IP
// only from a static address reserved in the project), and a rule on a
// reserved address of the other type. Internal rules may take an
// unreserved IP of their subnetwork (an ephemeral one): not checked.
// d.mu is held.
func (d *Double) checkRuleAddress(scope string, f *computepb.ForwardingRule) *apiError {
	ip := f.GetIPAddress()
	external := !strings.HasPrefix(f.GetLoadBalancingScheme(), "INTERNAL")
	prefix := "projects/" + d.project + "/" + scope + "/addresses/"
	for ref, o := range d.objects {
		a, ok := o.(*computepb.Address)
		if !ok || !strings.HasPrefix(ref, prefix) || a.GetAddress() != ip {
			continue
		}
		if (a.GetAddressType() == "INTERNAL") == external {
			return invalid("Invalid value for field 'resource.IPAddress': '%s'. The address '%s' is of type %s, which a forwarding rule of scheme %s cannot use.", ip, a.GetName(), a.GetAddressType(), f.GetLoadBalancingScheme())
		}
		if external && a.GetNetworkTier() != "" && f.GetNetworkTier() != "" && a.GetNetworkTier() != f.GetNetworkTier() {
			return invalid("Invalid value for field 'resource.networkTier': '%s'. The address '%s' is of network tier %s.", f.GetNetworkTier(), a.GetName(), a.GetNetworkTier())
		}
		return nil
	}
	if external {
		return invalid("Invalid value for field 'resource.IPAddress': '%s'. The specified external IP address is not reserved in %s.", ip, scope)
	}
	return nil
}

// hasProxyOnlySubnet says whether scope holds an ACTIVE REGIONAL_MANAGED_PROXY
// subnetwork in network (any network when network is empty). d.mu is held.
func (d *Double) hasProxyOnlySubnet(scope, network string) bool {
	want, _ := d.resolve(network)
	for ref, o := range d.objects {
		s, ok := o.(*computepb.Subnetwork)
		if !ok || scopeOf(ref) != scope || s.GetPurpose() != "REGIONAL_MANAGED_PROXY" || s.GetRole() != "ACTIVE" {
			continue
		}
		if got, _ := d.resolve(s.GetNetwork()); network == "" || got == want {
			return true
		}
	}
	return false
}

// checkURLMap holds the URL map rules the provider relies on; references to
// backend services are checked with every other reference.
func checkURLMap(_ *Double, _ string, obj proto.Message) *apiError {
	u := obj.(*computepb.UrlMap)
	if u.GetDefaultService() == "" && u.GetDefaultUrlRedirect() == nil && len(u.GetDefaultRouteAction().GetWeightedBackendServices()) == 0 {
		return invalid("Invalid value for field 'resource': a URL map needs one of defaultService, defaultRouteAction.weightedBackendServices or defaultUrlRedirect")
	}
	matchers := map[string]bool{}
	for _, pm := range u.GetPathMatchers() {
		if aerr := checkName(pm.GetName()); aerr != nil {
			return invalid("Invalid value for field 'resource.pathMatchers.name': '%s'", pm.GetName())
		}
		if matchers[pm.GetName()] {
			return invalid("Invalid value for field 'resource.pathMatchers': duplicate path matcher '%s'", pm.GetName())
		}
		matchers[pm.GetName()] = true
		if len(pm.GetPathRules()) > 0 && len(pm.GetRouteRules()) > 0 {
			return invalid("Invalid value for field 'resource.pathMatchers': path matcher '%s' has both pathRules and routeRules", pm.GetName())
		}
		priorities := map[int32]bool{}
		for _, rr := range pm.GetRouteRules() {
			if rr.Priority == nil || rr.GetPriority() < 0 {
				return invalid("Invalid value for field 'resource.pathMatchers.routeRules.priority': path matcher '%s' needs a priority from 0 to 2147483647 on every route rule", pm.GetName())
			}
			if priorities[rr.GetPriority()] {
				return invalid("Invalid value for field 'resource.pathMatchers.routeRules.priority': priority %d appears twice in path matcher '%s'", rr.GetPriority(), pm.GetName())
			}
			priorities[rr.GetPriority()] = true
			if rr.GetService() != "" && rr.GetUrlRedirect() != nil {
				return invalid("Invalid value for field 'resource.pathMatchers.routeRules': rule %d has both service and urlRedirect", rr.GetPriority())
			}
		}
	}
	hosts := map[string]bool{}
	for _, hr := range u.GetHostRules() {
		if !matchers[hr.GetPathMatcher()] {
			return invalid("Invalid value for field 'resource.hostRules.pathMatcher': path matcher '%s' does not exist", hr.GetPathMatcher())
		}
		for _, h := range hr.GetHosts() {
			if hosts[h] {
				return invalid("Invalid value for field 'resource.hostRules.hosts': host '%s' appears in more than one host rule", h)
			}
			hosts[h] = true
		}
	}
	return nil
}

func checkBackendService(_ *Double, ref string, obj proto.Message) *apiError {
	b := obj.(*computepb.BackendService)
	if err := checkAffinity(b, strings.Contains(ref, "regions/")); err != nil {
		return err
	}
	if len(b.GetHealthChecks()) > 1 {
		return invalid("Invalid value for field 'resource.healthChecks': at most one health check")
	}
	groups := map[string]bool{}
	for _, be := range b.GetBackends() {
		if groups[be.GetGroup()] {
			return invalid("Invalid value for field 'resource.backends': group '%s' appears twice", be.GetGroup())
		}
		groups[be.GetGroup()] = true
	}
	// tlsSettings configure TLS to the backends, which only the TLS
	// protocols speak; the API documents at most 5 subjectAltNames.
	if t := b.GetTlsSettings(); t != nil {
		switch b.GetProtocol() {
		case "HTTPS", "HTTP2", "SSL":
		default:
			return invalid("Invalid value for field 'resource.tlsSettings': tlsSettings need protocol HTTPS, HTTP2 or SSL, not '%s'", b.GetProtocol())
		}
		if len(t.GetSubjectAltNames()) > 5 {
			return invalid("Invalid value for field 'resource.tlsSettings.subjectAltNames': at most 5 entries")
		}
		if t.AuthenticationConfig != nil {
			return invalid("Invalid value for field 'resource.tlsSettings.authenticationConfig': gcptest serves no BackendAuthenticationConfig")
		}
	}
	return nil
}

func checkHealthCheck(_ *Double, _ string, obj proto.Message) *apiError {
	h := obj.(*computepb.HealthCheck)
	sub := map[string]bool{"TCP": h.TcpHealthCheck != nil, "HTTP": h.HttpHealthCheck != nil, "HTTPS": h.HttpsHealthCheck != nil,
		"HTTP2": h.Http2HealthCheck != nil, "GRPC": h.GrpcHealthCheck != nil, "SSL": h.SslHealthCheck != nil}
	if h.Type == nil {
		return invalid("Invalid value for field 'resource.type': a health check needs a type")
	}
	if _, known := sub[h.GetType()]; !known || !sub[h.GetType()] {
		return invalid("Invalid value for field 'resource.type': '%s' needs the matching %sHealthCheck settings", h.GetType(), strings.ToLower(h.GetType()))
	}
	return nil
}

// prepareSslCertificate checks a self-managed certificate the way the API
// does (the key must match the certificate) and fills in what the API
// derives from it.
func prepareSslCertificate(_ *Double, _ string, obj proto.Message) *apiError {
	c := obj.(*computepb.SslCertificate)
	if c.Type == nil {
		c.Type = proto.String("SELF_MANAGED")
	}
	if c.GetType() != "SELF_MANAGED" {
		return invalid("Invalid value for field 'resource.type': gcptest serves SELF_MANAGED certificates only, not '%s'", c.GetType())
	}
	pair, err := tls.X509KeyPair([]byte(c.GetCertificate()), []byte(c.GetPrivateKey()))
	if err != nil {
		return invalid("Invalid value for field 'resource.certificate': the certificate and private key do not form a pair: %v", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return invalid("Invalid value for field 'resource.certificate': %v", err)
	}
	c.ExpireTime = proto.String(leaf.NotAfter.UTC().Format(time.RFC3339))
	c.SubjectAlternativeNames = append([]string(nil), leaf.DNSNames...)
	return nil
}
