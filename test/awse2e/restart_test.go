package awse2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// A restarted controller finds its 50 load balancers by their tags and
// writes nothing: everything it made is still what the Gateways ask for.
// The test logs the reads it costs, by operation.
func TestRestartWith50GatewaysWritesNothing(t *testing.T) {
	ns := namespace(t)
	service(t, ns, "app", 8080, "10.0.7.10")
	const n = 50
	for i := range n {
		name := fmt.Sprintf("gw-%02d", i)
		create(t, gateway(ns, name, listener("http", gwv1.HTTPProtocolType, 80)),
			route(ns, name, name, nil, rule(prefix("/"), backendRef("app", 8080, 1))))
	}
	began := time.Now()
	for i := range n {
		programmed(t, ns, fmt.Sprintf("gw-%02d", i))
	}
	created := suite.calls.take()
	t.Logf("%d Gateways programmed after %s: %s", n, time.Since(began).Round(100*time.Millisecond), formatCalls(created))

	// A long resync, so that the counts are the restart's alone.
	cfg := suite.harness
	cfg.ResyncPeriod = time.Hour
	must(t, suite.ctl.Restart(suite.ctx, cfg))
	t.Cleanup(func() { must(t, suite.ctl.Restart(suite.ctx, suite.harness)) })
	// Every Gateway is reconciled once after the start; wait until the
	// calls stop.
	var calls map[string]int
	last, quiet := -1, 0
	for quiet < 3 {
		time.Sleep(time.Second)
		now := suite.calls.take()
		if calls == nil {
			calls = map[string]int{}
		}
		for op, k := range now {
			calls[op] += k
		}
		total := 0
		for _, k := range now {
			total += k
		}
		if total == 0 && last == 0 {
			quiet++
		}
		last = total
	}
	if w := writesOf(calls); len(w) > 0 {
		t.Errorf("the restart wrote %v, want nothing", w)
	}
	reads := 0
	for op, k := range calls {
		if !strings.HasPrefix(op, "Describe") && !strings.HasPrefix(op, "List") {
			continue
		}
		reads += k
	}
	t.Logf("restart with %d Gateways: %d reads, %.1f per Gateway: %s", n, reads, float64(reads)/n, formatCalls(calls))

	for i := range n {
		must(t, suite.c.Delete(ctxFor(t), getGateway(t, ns, fmt.Sprintf("gw-%02d", i))))
	}
	for i := range n {
		eventually(t, 60*time.Second, func() error {
			err := suite.c.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("gw-%02d", i)}, &gwv1.Gateway{})
			if err == nil {
				return fmt.Errorf("Gateway gw-%02d still there", i)
			}
			return nil
		})
	}
}
