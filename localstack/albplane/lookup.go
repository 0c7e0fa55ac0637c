package albplane

import (
	"net/netip"
	"strings"
)

// LookupIP returns the loopback address that serves the load balancer with
// DNS name dnsName, once a Sync has given it a listening port: what a test
// resolver answers for that name, so that clients which dial by name (and
// take no custom dialer) reach the plane at the listener's own port.
func (p *Plane) LookupIP(dnsName string) (netip.Addr, bool) {
	b := p.table.Load().byDNS[strings.ToLower(strings.TrimSuffix(dnsName, "."))]
	if b == nil {
		return netip.Addr{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ip, ok := p.ips[b.ARN]
	return ip, ok
}
