package gcpe2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

// What the double holds, read through its inspection API: the tests' only
// source of truth about the cloud.

// lbView is every object in the double whose description is the ownership
// record of one Gateway (providers/doc.go), in every collection the double
// has, each sorted by selfLink.
type lbView struct {
	Addresses    []*computepb.Address
	Rules        []*computepb.ForwardingRule
	HTTPProxies  []*computepb.TargetHttpProxy
	HTTPSProxies []*computepb.TargetHttpsProxy
	TCPProxies   []*computepb.TargetTcpProxy
	URLMaps      []*computepb.UrlMap
	Backends     []*computepb.BackendService
	HealthChecks []*computepb.HealthCheck
	Certificates []*computepb.SslCertificate
	NEGs         []*computepb.NetworkEndpointGroup
	Subnetworks  []*computepb.Subnetwork
	// Endpoints of each NEG, "ip:port" sorted, by the NEG's logical id.
	Endpoints map[string][]string
	// logical ids by resource name, for rendering references.
	logical map[string]string
}

// ownership reads a description as the record the provider writes, or nil.
func ownership(desc string) map[string]string {
	var rec map[string]string
	if json.Unmarshal([]byte(desc), &rec) != nil {
		return nil
	}
	return rec
}

func owned[T interface {
	proto.Message
	GetName() string
	GetDescription() string
}](v *lbView, uid string) []T {
	var out []T
	for _, o := range gcptest.Objects[T](suite.d) {
		if rec := ownership(o.GetDescription()); rec != nil && rec[lb.TagGatewayUID] == uid {
			v.logical[o.GetName()] = rec[lb.TagResource]
			out = append(out, o)
		}
	}
	return out
}

// viewOf reads everything the Gateway uid owns.
func viewOf(t testing.TB, uid string) *lbView {
	t.Helper()
	v := &lbView{Endpoints: map[string][]string{}, logical: map[string]string{}}
	v.Addresses = owned[*computepb.Address](v, uid)
	v.Rules = owned[*computepb.ForwardingRule](v, uid)
	v.HTTPProxies = owned[*computepb.TargetHttpProxy](v, uid)
	v.HTTPSProxies = owned[*computepb.TargetHttpsProxy](v, uid)
	v.TCPProxies = owned[*computepb.TargetTcpProxy](v, uid)
	v.URLMaps = owned[*computepb.UrlMap](v, uid)
	v.Backends = owned[*computepb.BackendService](v, uid)
	v.HealthChecks = owned[*computepb.HealthCheck](v, uid)
	v.Certificates = owned[*computepb.SslCertificate](v, uid)
	v.NEGs = owned[*computepb.NetworkEndpointGroup](v, uid)
	v.Subnetworks = owned[*computepb.Subnetwork](v, uid)
	for _, n := range v.NEGs {
		var eps []string
		for _, e := range suite.d.NetworkEndpoints(n.GetSelfLink()) {
			eps = append(eps, fmt.Sprintf("%s:%d", e.GetIpAddress(), e.GetPort()))
		}
		slices.Sort(eps)
		v.Endpoints[v.logical[n.GetName()]] = eps
	}
	return v
}

// count is how many objects the view holds.
func (v *lbView) count() int {
	return len(v.Addresses) + len(v.Rules) + len(v.HTTPProxies) + len(v.HTTPSProxies) + len(v.TCPProxies) + len(v.URLMaps) +
		len(v.Backends) + len(v.HealthChecks) + len(v.Certificates) + len(v.NEGs) + len(v.Subnetworks)
}

func (v *lbView) String() string {
	return fmt.Sprintf("%d addresses, %d forwarding rules, %d HTTP and %d HTTPS and %d TCP proxies, %d URL maps, %d backend services, %d health checks, %d certificates, %d NEGs, %d subnetworks",
		len(v.Addresses), len(v.Rules), len(v.HTTPProxies), len(v.HTTPSProxies), len(v.TCPProxies), len(v.URLMaps),
		len(v.Backends), len(v.HealthChecks), len(v.Certificates), len(v.NEGs), len(v.Subnetworks))
}

// leftovers says what the Gateway uid still owns, nil for nothing.
func leftovers(t testing.TB, uid string) error {
	t.Helper()
	if v := viewOf(t, uid); v.count() > 0 {
		return fmt.Errorf("left behind: %s", v)
	}
	return nil
}

// name is the last segment of a link.
func name(link string) string { return link[strings.LastIndex(link, "/")+1:] }

// ref renders a link to one of the Gateway's resources by its logical id.
func (v *lbView) ref(link string) string {
	if l, ok := v.logical[name(link)]; ok {
		return l
	}
	return "?" + name(link)
}

// urlMap returns the URL map of the listener with the model's logical id
// ("http-80").
func (v *lbView) urlMap(t testing.TB, listener string) *computepb.UrlMap {
	t.Helper()
	for _, u := range v.URLMaps {
		if v.logical[u.GetName()] == listener {
			return u
		}
	}
	t.Fatalf("no URL map of listener %s among %d", listener, len(v.URLMaps))
	return nil
}

// rendered is a URL map as lines: its default, then per host rule (by
// host) the path matcher's default and its route rules in priority order,
// each as "host: matches -> action".
func (v *lbView) rendered(u *computepb.UrlMap) []string {
	out := []string{"default -> " + v.action(u.GetDefaultRouteAction(), nil)}
	matchers := map[string]*computepb.PathMatcher{}
	for _, pm := range u.GetPathMatchers() {
		matchers[pm.GetName()] = pm
	}
	// GCP picks the most specific host rule whatever their order: render
	// them by host.
	hostRules := slices.Clone(u.GetHostRules())
	slices.SortFunc(hostRules, func(a, b *computepb.HostRule) int {
		return strings.Compare(strings.Join(a.GetHosts(), ","), strings.Join(b.GetHosts(), ","))
	})
	for _, hr := range hostRules {
		host := strings.Join(hr.GetHosts(), ",")
		pm := matchers[hr.GetPathMatcher()]
		if pm == nil {
			out = append(out, host+": missing path matcher "+hr.GetPathMatcher())
			continue
		}
		out = append(out, host+": default -> "+v.action(pm.GetDefaultRouteAction(), nil))
		rules := slices.Clone(pm.GetRouteRules())
		slices.SortFunc(rules, func(a, b *computepb.HttpRouteRule) int { return int(a.GetPriority()) - int(b.GetPriority()) })
		for _, rr := range rules {
			var ms []string
			for _, m := range rr.GetMatchRules() {
				ms = append(ms, match(m))
			}
			out = append(out, fmt.Sprintf("%s: %s -> %s", host, strings.Join(ms, " | "), v.action(rr.GetRouteAction(), rr.GetUrlRedirect())))
		}
	}
	return out
}

// priorities are a URL map's route-rule priorities by rule description
// (the model rule's name) and host rule.
func priorities(u *computepb.UrlMap) map[string]int32 {
	out := map[string]int32{}
	for _, pm := range u.GetPathMatchers() {
		for _, rr := range pm.GetRouteRules() {
			out[pm.GetName()+" "+rr.GetDescription()] = rr.GetPriority()
		}
	}
	return out
}

func match(m *computepb.HttpRouteRuleMatch) string {
	var parts []string
	switch {
	case m.FullPathMatch != nil:
		parts = append(parts, "full="+m.GetFullPathMatch())
	case m.PrefixMatch != nil:
		parts = append(parts, "prefix="+m.GetPrefixMatch())
	case m.RegexMatch != nil:
		parts = append(parts, "regex="+m.GetRegexMatch())
	}
	for _, h := range m.GetHeaderMatches() {
		parts = append(parts, "header:"+strings.ToLower(h.GetHeaderName())+"="+h.GetExactMatch()+h.GetRegexMatch())
	}
	for _, q := range m.GetQueryParameterMatches() {
		parts = append(parts, "query:"+q.GetName()+"="+q.GetExactMatch()+q.GetRegexMatch())
	}
	return strings.Join(parts, " ")
}

func (v *lbView) action(ra *computepb.HttpRouteAction, redirect *computepb.HttpRedirectAction) string {
	if redirect != nil {
		return fmt.Sprintf("redirect %s %s", redirect.GetRedirectResponseCode(), redirect.GetPathRedirect())
	}
	if a := ra.GetFaultInjectionPolicy().GetAbort(); a != nil && a.GetPercentage() == 100 {
		return fmt.Sprintf("answer %d", a.GetHttpStatus())
	}
	var fs []string
	for _, w := range ra.GetWeightedBackendServices() {
		fs = append(fs, fmt.Sprintf("%s*%d", v.ref(w.GetBackendService()), w.GetWeight()))
	}
	slices.Sort(fs)
	return "forward " + strings.Join(fs, " ")
}
