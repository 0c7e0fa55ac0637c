package gcpe2e

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The calls a load balancer of 2 listeners, 20 rules and 10 backends costs:
// to create, to reconcile when nothing changed (after a restart, and at a
// drift resync), and to follow an endpoint change. The figures are logged;
// what is asserted is what must hold: creation only creates, a no-op
// reconcile writes nothing, an endpoint change writes NEG endpoints only.
func TestCallCounts(t *testing.T) {
	ns := namespace(t)
	const backends = 10
	for i := range backends {
		service(t, ns, fmt.Sprintf("svc-%d", i), 8080, fmt.Sprintf("10.0.9.%d", 2*i+1), fmt.Sprintf("10.0.9.%d", 2*i+2))
	}
	create(t, certSecret(t, ns, "big-tls", "big.example.com", 1))
	// Two routes of 10 rules each (a route holds at most 16), on both
	// listeners, every backend twice.
	routeOf := func(name string) *gwv1.HTTPRoute {
		var rules []gwv1.HTTPRouteRule
		for i := range backends {
			rules = append(rules, rule(prefix(fmt.Sprintf("/%s-%d", name, i)), backendRef(fmt.Sprintf("svc-%d", i), 8080, 1)))
		}
		return route(ns, name, "big", "", []string{"big.example.com"}, rules...)
	}
	// The routes first, so that the controller sees the whole load
	// balancer when the Gateway comes: what is counted is one creation,
	// not a creation and the changes of routes arriving later.
	create(t, routeOf("a"), routeOf("b"))
	quiesce(t)
	began := time.Now()
	create(t, gateway(ns, "big", listener("http", gwv1.HTTPProtocolType, 80), httpsListener("https", 443, "big-tls")))
	programmed(t, ns, "big")
	took := time.Since(began)
	uid := string(getGateway(t, ns, "big").UID)
	created := callsUntilQuiet(t, always)
	v := viewOf(t, uid)
	for _, l := range []string{"http-80", "https-443"} {
		n := 0
		for _, pm := range v.urlMap(t, l).GetPathMatchers() {
			n += len(pm.GetRouteRules())
		}
		if n != 2*backends {
			t.Errorf("URL map %s has %d route rules, want %d", l, n, 2*backends)
		}
	}
	if len(v.Backends) != backends+1 || len(v.NEGs) != backends {
		t.Errorf("want %d backend services (and the sink) and %d NEGs: %s", backends, backends, v)
	}
	inserts := 0
	for m, n := range writesOf(created) {
		switch {
		case strings.HasSuffix(m, ".insert"):
			inserts += n
		case m != "networkEndpointGroups.attachNetworkEndpoints":
			t.Errorf("creating the load balancer called %s %d times: creation only creates", m, n)
		}
	}
	if inserts != v.count() {
		t.Errorf("%d inserts for %d resources: each is created once", inserts, v.count())
	}
	t.Logf("create (2 listeners, 20 rules, %d backends; Programmed after %s): %s", backends, took.Round(10*time.Millisecond), formatCalls(created))

	// A restarted controller reconciles every Gateway once, reading the
	// cloud afresh.
	ensures := suite.ctl.Ensures()
	must(t, suite.ctl.Restart(suite.ctx, suite.harness))
	restarted := callsUntilQuiet(t, func() bool { return suite.ctl.Ensures() > ensures })
	if w := writesOf(restarted); len(w) > 0 {
		t.Errorf("a no-op reconcile after a restart wrote %v, want nothing", w)
	}
	t.Logf("no-op reconcile after a restart (%d Ensure): %s", suite.ctl.Ensures()-ensures, formatCalls(restarted))

	// A drift resync: the same controller, its Gateway due to be read
	// again.
	cfg := suite.harness
	cfg.ResyncPeriod = 3 * time.Second
	must(t, suite.ctl.Restart(suite.ctx, cfg))
	restored := false
	t.Cleanup(func() {
		if !restored {
			must(t, suite.ctl.Restart(suite.ctx, suite.harness))
		}
	})
	ensures = suite.ctl.Ensures()
	callsUntilQuiet(t, func() bool { return suite.ctl.Ensures() > ensures }) // the restart's own reconcile
	ensures = suite.ctl.Ensures()
	resynced := callsUntilQuiet(t, func() bool { return suite.ctl.Ensures() > ensures })
	if w := writesOf(resynced); len(w) > 0 {
		t.Errorf("a no-op resync wrote %v, want nothing", w)
	}
	t.Logf("no-op resync (%d Ensure): %s", suite.ctl.Ensures()-ensures, formatCalls(resynced))
	must(t, suite.ctl.Restart(suite.ctx, suite.harness))
	restored = true
	ensures = suite.ctl.Ensures()
	callsUntilQuiet(t, func() bool { return suite.ctl.Ensures() > ensures })

	// One endpoint of one backend replaced.
	scale(t, ns, "svc-0", "10.0.9.2", "10.0.9.99")
	eventually(t, 30*time.Second, func() error {
		if got := viewOf(t, uid).Endpoints[ns+"/svc-0:8080"]; strings.Join(got, " ") != "10.0.9.2:8080 10.0.9.99:8080" {
			return fmt.Errorf("svc-0 endpoints %v", got)
		}
		return nil
	})
	changed := callsUntilQuiet(t, always)
	if w := writesOf(changed); !maps.Equal(w, map[string]int{"networkEndpointGroups.attachNetworkEndpoints": 1, "networkEndpointGroups.detachNetworkEndpoints": 1}) {
		t.Errorf("an endpoint change wrote %v, want one attachNetworkEndpoints and one detachNetworkEndpoints", w)
	}
	t.Logf("endpoint change: %s", formatCalls(changed))

	deleteGateway(t, ns, "big")
	must(t, leftovers(t, uid))
}
