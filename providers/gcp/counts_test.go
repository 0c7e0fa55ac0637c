package gcp

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

// bigModel has 2 listeners (HTTP and HTTPS), 20 rules (10 a listener) and
// 10 backends of 3 endpoints each.
func bigModel(t *testing.T) *lb.LoadBalancer {
	certPEM, keyPEM := selfSigned(t, "example.com")
	m := &lb.LoadBalancer{Owner: testOwner}
	for i := range 10 {
		tg := fmt.Sprintf("default/svc-%d:80", i)
		g := lb.TargetGroup{Name: tg, Protocol: lb.ProtocolHTTP}
		for j := range 3 {
			g.Targets = append(g.Targets, lb.Target{IP: fmt.Sprintf("10.0.%d.%d", i, j+1), Port: 8080, Node: "node-a"})
		}
		m.TargetGroups = append(m.TargetGroups, g)
	}
	for _, l := range []lb.Listener{{Name: "http-80", Port: 80, Protocol: lb.ProtocolHTTP}, {Name: "https-443", Port: 443, Protocol: lb.ProtocolHTTPS}} {
		vh := lb.VirtualHost{}
		if l.Protocol == lb.ProtocolHTTPS {
			vh.Certificates = []lb.Certificate{{Name: "default/tls", CertPEM: certPEM, KeyPEM: keyPEM}}
		}
		for i := range 10 {
			vh.Rules = append(vh.Rules, lb.Rule{Name: fmt.Sprintf("default/%s/rule-%d", l.Name, i),
				Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: fmt.Sprintf("/svc-%d/", i)}}, Action: fwd(fmt.Sprintf("default/svc-%d:80", i))})
		}
		l.VirtualHosts = []lb.VirtualHost{vh}
		m.Listeners = append(m.Listeners, l)
	}
	return m
}

// TestCallCounts measures the Compute Engine calls of creating a load
// balancer with 2 listeners, 20 rules and 10 backends, of a no-op and of
// an endpoint change, as the double counts them (every call, reads and
// operation waits included), and logs them (go test -v -run
// TestCallCounts). It asserts what must hold: a no-op writes nothing, an
// endpoint change writes one attach, and nothing is read more than once a
// reconcile beyond the NEG endpoint lists.
func TestCallCounts(t *testing.T) {
	e := newTestEnv(t, gcptest.Config{})
	m := bigModel(t)
	measure := func(what string, change func()) map[string]int {
		change()
		e.d.ResetCalls()
		e.ensure(t, m)
		calls := e.d.Calls()
		total := 0
		var lines []string
		for _, k := range slices.Sorted(maps.Keys(calls)) {
			total += calls[k]
			lines = append(lines, fmt.Sprintf("%s=%d", strings.TrimPrefix(k, "compute."), calls[k]))
		}
		t.Logf("%s: %d calls (%d writes): %s", what, total, sum(writes(calls)), strings.Join(lines, " "))
		return calls
	}
	created := measure("create (2 listeners, 20 rules, 10 backends)", func() {})
	if w := writes(created); w["regionUrlMaps.insert"] != 2 || w["networkEndpointGroups.attachNetworkEndpoints"] != 10 || w["regionBackendServices.insert"] != 11 {
		t.Errorf("create wrote %v; want 2 URL maps, 10 attaches (one per NEG), 11 backend services (with the sink)", w)
	}
	noop := measure("no-op", func() {})
	if w := writes(noop); len(w) != 0 {
		t.Errorf("a no-op wrote %v", w)
	}
	ep := measure("endpoint change (one Pod added)", func() {
		m.TargetGroups[3].Targets = append(m.TargetGroups[3].Targets, lb.Target{IP: "10.0.3.9", Port: 8080, Node: "node-a"})
	})
	if w := writes(ep); !maps.Equal(w, map[string]int{"networkEndpointGroups.attachNetworkEndpoints": 1}) {
		t.Errorf("an endpoint change wrote %v, want one attach", w)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
