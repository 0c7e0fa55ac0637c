package gcp

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

// writes are the calls of calls (the double's, by Discovery id) that
// change something: everything but reads and operation waits.
func writes(calls map[string]int) map[string]int {
	out := map[string]int{}
	for m, n := range calls {
		verb := m[strings.LastIndex(m, ".")+1:]
		switch verb {
		case "get", "list", "aggregatedList", "listNetworkEndpoints", "wait":
			continue
		}
		out[strings.TrimPrefix(m, "compute.")] = n
	}
	return out
}

func (e *testEnv) ensure(t *testing.T, m *lb.LoadBalancer) providers.Result {
	t.Helper()
	res, err := e.prov.Ensure(t.Context(), m)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return res
}

// TestEnsureChanges checks what each kind of change writes: nothing for a
// no-op, one URL-map update for a route edit, only endpoint calls for an
// endpoint change, setLabels for a label change.
func TestEnsureChanges(t *testing.T) {
	e := newTestEnv(t, gcptest.Config{})
	m := liveModel(t)
	res := e.ensure(t, m)
	if !res.Status.Ready || len(res.Status.Addresses) != 1 || res.Status.Addresses[0].Value == "" {
		t.Fatalf("status = %+v, want ready with one address", res.Status)
	}
	if len(gcptest.Objects[*computepb.UrlMap](e.d)) != 2 || len(gcptest.Objects[*computepb.ForwardingRule](e.d)) != 2 {
		t.Fatalf("want 2 URL maps and 2 forwarding rules, double holds %d and %d",
			len(gcptest.Objects[*computepb.UrlMap](e.d)), len(gcptest.Objects[*computepb.ForwardingRule](e.d)))
	}
	step := func(name string, change func(*lb.LoadBalancer), want map[string]int) {
		t.Helper()
		change(m)
		e.d.ResetCalls()
		res := e.ensure(t, m)
		if got := writes(e.d.Calls()); !maps.Equal(got, want) {
			t.Errorf("%s wrote %v, want %v\nplan:\n%s", name, got, want, res.Applied)
		}
	}
	step("a no-op", func(*lb.LoadBalancer) {}, map[string]int{})
	step("a route edit", func(m *lb.LoadBalancer) {
		vh := &m.Listeners[0].VirtualHosts[1]
		vh.Rules = append(vh.Rules, lb.Rule{Name: "default/r2/rule-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/new/"}}, Action: fwd("default/api:80")})
		vh.Rules[1].Match.Path.Value = "/x2"
	}, map[string]int{"regionUrlMaps.update": 1})
	step("an endpoint change", func(m *lb.LoadBalancer) {
		m.TargetGroups[0].Targets = []lb.Target{{IP: "10.0.0.2", Port: 8080, Node: "node-a"}, {IP: "10.0.0.9", Port: 8080, Node: "node-a"}}
	}, map[string]int{"networkEndpointGroups.attachNetworkEndpoints": 1, "networkEndpointGroups.detachNetworkEndpoints": 1})
	step("a label change", func(m *lb.LoadBalancer) { m.Tags = map[string]string{"team": "payments"} },
		map[string]int{"addresses.setLabels": 1, "forwardingRules.setLabels": 2})
	for _, f := range gcptest.Objects[*computepb.ForwardingRule](e.d) {
		if f.GetLabels()["team"] != "payments" {
			t.Errorf("forwarding rule %s labels = %v, want team=payments", f.GetName(), f.GetLabels())
		}
	}
	loc := e.prov.loc
	eps := e.d.NetworkEndpoints(loc.zonal("networkEndpointGroups", name(testOwner, tagNEG, "default/api:80", loc.Zone, loc.Network, loc.Subnetwork)))
	var got []string
	for _, ep := range eps {
		got = append(got, endpointKey(ep))
	}
	slices.Sort(got)
	if want := []string{"10.0.0.2:8080@node-a", "10.0.0.9:8080@node-a"}; !slices.Equal(got, want) {
		t.Errorf("NEG endpoints = %v, want %v", got, want)
	}
	if err := e.prov.Delete(t.Context(), m.Owner); err != nil {
		t.Fatal(err)
	}
	if n := e.d.Len(); n != 1 { // the seeded proxy-only subnet
		t.Errorf("after Delete the double holds %d objects, want only the seeded subnet: %v", n, e.d.Refs())
	}
}

// TestCertificateRotation checks that a rotated certificate is created and
// switched to before the old one goes.
func TestCertificateRotation(t *testing.T) {
	e := newTestEnv(t, gcptest.Config{})
	m := liveModel(t)
	e.ensure(t, m)
	old := gcptest.Objects[*computepb.SslCertificate](e.d)
	c := &m.Listeners[1].VirtualHosts[0].Certificates[0]
	c.CertPEM, c.KeyPEM = selfSigned(t, "example.com")
	res := e.ensure(t, m)
	var order []string
	for _, s := range res.Applied.Steps {
		if s.Action != providers.ActionNothing {
			order = append(order, string(s.Action)+" "+string(s.Kind))
		}
	}
	want := []string{"Create certificate", "Update target HTTPS proxy", "Delete certificate"}
	if !slices.Equal(order, want) {
		t.Errorf("rotation applied %v, want %v", order, want)
	}
	now := gcptest.Objects[*computepb.SslCertificate](e.d)
	if len(old) != 1 || len(now) != 1 || old[0].GetName() == now[0].GetName() {
		t.Fatalf("certificates before %d, after %d; want one each, renamed", len(old), len(now))
	}
	proxies := gcptest.Objects[*computepb.TargetHttpsProxy](e.d)
	if len(proxies) != 1 || len(proxies[0].GetSslCertificates()) != 1 || !strings.HasSuffix(proxies[0].GetSslCertificates()[0], "/"+now[0].GetName()) {
		t.Errorf("proxy serves %v, want %s", proxies[0].GetSslCertificates(), now[0].GetName())
	}
}

// TestConcurrentURLMapEdit checks that a URL map changed between the
// provider's read and its write is not overwritten unseen: the write
// carries the fingerprint it read and fails with 412, and Ensure reads
// again and applies the model on what it then sees.
func TestConcurrentURLMapEdit(t *testing.T) {
	e := newTestEnv(t, gcptest.Config{})
	m := liveModel(t)
	e.ensure(t, m)
	m.Listeners[0].VirtualHosts[1].Rules[1].Match.Path.Value = "/edited"
	cs, have, err := e.prov.plan(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	loc := e.prov.loc
	web := loc.regional("backendServices", name(testOwner, tagBackend, "default/web:80"))
	link := loc.regional("urlMaps", name(testOwner, tagURLMap, "http-80"))
	if err := e.d.Edit(link, func(msg proto.Message) {
		msg.(*computepb.UrlMap).Description = proto.String(msg.(*computepb.UrlMap).GetDescription())
		msg.(*computepb.UrlMap).DefaultService = proto.String(web)
	}); err != nil {
		t.Fatal(err)
	}
	a := &applier{p: e.prov, owner: m.Owner, negs: negsOf(have, cs)}
	if _, err := a.run(t.Context(), cs); !errors.Is(err, errConflict) {
		t.Fatalf("a write on a stale fingerprint: error %v, want errConflict", err)
	}
	if e.d.Calls()["compute.regionUrlMaps.update"] != 1 {
		t.Errorf("calls %v, want one refused regionUrlMaps.update", e.d.Calls())
	}
	e.d.ResetCalls()
	e.ensure(t, m)
	if got := writes(e.d.Calls()); got["regionUrlMaps.update"] != 1 {
		t.Errorf("Ensure after the edit wrote %v, want one URL-map update", got)
	}
	um, _ := gcptest.Get[*computepb.UrlMap](e.d, link)
	if relative(um.GetDefaultService()) == web {
		t.Errorf("the model's default service was not restored: %s", um.GetDefaultService())
	}
}

// TestLostInsertAnswer checks that an insert whose answer was lost (a 503
// after the change took effect, then retried into a 409) keeps the
// resource it made.
func TestLostInsertAnswer(t *testing.T) {
	e := newTestEnv(t, gcptest.Config{})
	m := liveModel(t)
	if err := e.d.InjectFault(gcptest.Fault{Code: 503, Method: "compute.regionUrlMaps.insert", Count: 1, AfterApply: true}); err != nil {
		t.Fatal(err)
	}
	e.ensure(t, m)
	if n := len(gcptest.Objects[*computepb.UrlMap](e.d)); n != 2 {
		t.Errorf("%d URL maps, want 2", n)
	}
	if e.d.Calls()["compute.regionUrlMaps.insert"] != 3 { // two maps, one retried
		t.Errorf("regionUrlMaps.insert calls = %d, want 3", e.d.Calls()["compute.regionUrlMaps.insert"])
	}
	e.d.ResetCalls()
	e.ensure(t, m)
	if got := writes(e.d.Calls()); len(got) != 0 {
		t.Errorf("second Ensure wrote %v", got)
	}
}

// TestNoProxyOnlySubnet checks the refusal of a region without the
// proxy-only subnet regional load balancers need: before any write.
func TestNoProxyOnlySubnet(t *testing.T) {
	e := newTestEnv(t, gcptest.Config{Subnetworks: []*computepb.Subnetwork{}})
	_, err := e.prov.Ensure(t.Context(), liveModel(t))
	if !errors.Is(err, providers.ErrInvalid) || !strings.Contains(err.Error(), "REGIONAL_MANAGED_PROXY") {
		t.Errorf("Ensure without a proxy-only subnet: %v, want a refusal naming REGIONAL_MANAGED_PROXY", err)
	}
	if got := writes(e.d.Calls()); len(got) != 0 {
		t.Errorf("it wrote %v", got)
	}
}

// TestTCPListener checks a TCP listener: a target TCP proxy in front of a
// TCP backend service of CONNECTION-balanced NEGs, on the Gateway's
// address; and the refusal of a stream a TCP proxy cannot carry.
func TestTCPListener(t *testing.T) {
	e := newTestEnv(t, gcptest.Config{})
	m := &lb.LoadBalancer{Owner: testOwner,
		Listeners: []lb.Listener{{Name: "tcp-5432", Port: 5432, Protocol: lb.ProtocolTCP,
			Streams: []lb.Stream{{Name: "db/pg/rule-0", Backends: []lb.WeightedBackend{{TargetGroup: "db/pg:5432", Weight: 1}}}}}},
		TargetGroups: []lb.TargetGroup{{Name: "db/pg:5432", Protocol: lb.ProtocolTCP, Targets: []lb.Target{{IP: "10.0.0.5", Port: 5432, Node: "node-a"}}}},
	}
	res := e.ensure(t, m)
	if !res.Status.Ready || !res.Status.Listeners["tcp-5432"].Ready {
		t.Errorf("status = %+v, want ready", res.Status)
	}
	proxies := gcptest.Objects[*computepb.TargetTcpProxy](e.d)
	services := gcptest.Objects[*computepb.BackendService](e.d)
	if len(proxies) != 1 || len(services) != 1 || !strings.HasSuffix(proxies[0].GetService(), "/"+services[0].GetName()) {
		t.Fatalf("proxies %v, backend services %v: want one proxy on the one service", proxies, services)
	}
	if bs := services[0]; bs.GetProtocol() != "TCP" || bs.GetBackends()[0].GetBalancingMode() != "CONNECTION" {
		t.Errorf("backend service protocol %s, balancing %s; want TCP, CONNECTION", bs.GetProtocol(), bs.GetBackends()[0].GetBalancingMode())
	}
	rules := gcptest.Objects[*computepb.ForwardingRule](e.d)
	if len(rules) != 1 || rules[0].GetPortRange() != "5432-5432" || !strings.Contains(rules[0].GetTarget(), "/targetTcpProxies/") {
		t.Errorf("forwarding rules %v, want one on 5432 to the TCP proxy", rules)
	}
	e.d.ResetCalls()
	e.ensure(t, m)
	if got := writes(e.d.Calls()); len(got) != 0 {
		t.Errorf("a no-op wrote %v", got)
	}
	m.Listeners[0].Streams[0].Backends = append(m.Listeners[0].Streams[0].Backends, lb.WeightedBackend{Weight: 1})
	_, err := e.prov.Ensure(t.Context(), m)
	var inv *providers.InvalidError
	if !errors.As(err, &inv) || !slices.Equal(inv.Elements, []string{"db/pg/rule-0"}) {
		t.Errorf("a TCP stream with two backends: error %v, want a refusal naming the stream", err)
	}
	// A stream whose only backend is invalid closes its connections (as
	// the Gateway API asks of a TCPRoute without a valid backend): the
	// proxy forwards to an empty TCP backend service, and the listener is
	// served.
	m.Listeners[0].Streams[0].Backends = []lb.WeightedBackend{{Weight: 1}}
	res = e.ensure(t, m)
	if !res.Status.Listeners["tcp-5432"].Ready {
		t.Errorf("status = %+v, want the listener ready", res.Status)
	}
	proxies = gcptest.Objects[*computepb.TargetTcpProxy](e.d)
	if len(proxies) != 1 {
		t.Fatalf("proxies %v, want one", proxies)
	}
	sink, ok := gcptest.Get[*computepb.BackendService](e.d, proxies[0].GetService())
	if !ok || sink.GetProtocol() != "TCP" || len(sink.GetBackends()) != 0 {
		t.Errorf("the proxy forwards to %v (stored: %v), want an empty TCP backend service", sink, ok)
	}
}

// TestZonalNEGs checks that endpoints go to a NEG in the zone their
// EndpointSlice reports (the default zone when it reports none), each NEG
// a backend of the group's backend service; and that a zone outside the
// region, or one the project lacks, and an endpoint without a node (GCP's
// endpoints name their VM instance) are refused naming the group.
func TestZonalNEGs(t *testing.T) {
	e := newTestEnv(t, gcptest.Config{})
	m := liveModel(t)
	m.TargetGroups[0].Targets = []lb.Target{
		{IP: "10.0.0.1", Port: 8080, Zone: testRegion + "-c", Node: "node-a"},
		{IP: "10.0.0.2", Port: 8080, Zone: testRegion + "-d", Node: "node-a"},
		{IP: "10.0.0.3", Port: 8080, Node: "node-a"},
	}
	e.ensure(t, m)
	bsName := name(testOwner, tagBackend, "default/api:80")
	var bs *computepb.BackendService
	for _, b := range gcptest.Objects[*computepb.BackendService](e.d) {
		if b.GetName() == bsName {
			bs = b
		}
	}
	if bs == nil || len(bs.GetBackends()) != 3 {
		t.Fatalf("backend service %s: %v, want 3 backends (one NEG per zone)", bsName, bs)
	}
	for _, b := range bs.GetBackends() {
		neg, ok := gcptest.Get[*computepb.NetworkEndpointGroup](e.d, b.GetGroup())
		if !ok {
			t.Fatalf("backend %s: no such NEG", b.GetGroup())
		}
		eps := e.d.NetworkEndpoints(b.GetGroup())
		zone := lastSegment(neg.GetZone())
		want := map[string]string{testRegion + "-c": "10.0.0.1", testRegion + "-d": "10.0.0.2", testZone: "10.0.0.3"}[zone]
		if len(eps) != 1 || eps[0].GetIpAddress() != want {
			t.Errorf("NEG in %s holds %v, want %s", zone, eps, want)
		}
	}
	e.d.ResetCalls()
	e.ensure(t, m)
	if got := writes(e.d.Calls()); len(got) != 0 {
		t.Errorf("a no-op wrote %v", got)
	}
	for _, c := range []struct{ zone, node, want string }{
		{"us-east1-b", "node-a", "us-east1-b"},
		{testRegion + "-z", "node-a", testRegion + "-z"},
		{testZone, "", "without a node name"},
	} {
		bad := liveModel(t)
		bad.TargetGroups[0].Targets = []lb.Target{{IP: "10.0.0.1", Port: 8080, Zone: c.zone, Node: c.node}}
		_, err := e.prov.Ensure(t.Context(), bad)
		var inv *providers.InvalidError
		if !errors.As(err, &inv) || !slices.Contains(inv.Elements, "default/api:80") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("an endpoint in zone %q on node %q: error %v, want a refusal naming default/api:80 and %q", c.zone, c.node, err, c.want)
		}
	}
}

// TestListenerChangesProtocol checks a listener that turns from HTTP to
// HTTPS on its port: GCP refuses a second forwarding rule on the same IP
// and port, so the old rule goes before the new one is made.
func TestListenerChangesProtocol(t *testing.T) {
	e := newTestEnv(t, gcptest.Config{})
	m := liveModel(t)
	m.Listeners = m.Listeners[:1]
	e.ensure(t, m)
	certPEM, keyPEM := selfSigned(t, "example.com")
	m.Listeners[0].Protocol = lb.ProtocolHTTPS
	for i := range m.Listeners[0].VirtualHosts {
		m.Listeners[0].VirtualHosts[i].Certificates = []lb.Certificate{{Name: "default/tls", CertPEM: certPEM, KeyPEM: keyPEM}}
	}
	e.ensure(t, m)
	rules := gcptest.Objects[*computepb.ForwardingRule](e.d)
	if len(rules) != 1 || !strings.Contains(rules[0].GetTarget(), "/targetHttpsProxies/") {
		t.Fatalf("forwarding rules %v, want one to an HTTPS proxy", rules)
	}
	if n := len(gcptest.Objects[*computepb.TargetHttpProxy](e.d)); n != 0 {
		t.Errorf("%d target HTTP proxies left", n)
	}
}
