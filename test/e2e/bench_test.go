package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// BenchmarkGatewayCreateToFirst200 measures the time from creating a Gateway
// and its route to the first 200 through the new load balancer, through the
// whole path: API server, controller, mapping, emulated cloud, data plane.
func BenchmarkGatewayCreateToFirst200(b *testing.B) {
	ns := namespace(b)
	backend(b, ns, "app")
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("gw-%d", i)
		gw := gateway(ns, name, httpListener("http", 80))
		start := time.Now()
		create(b, gw, route(ns, name, name, nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("app", 1))))
		addr := programmedAddressFast(b, ns, name)
		waitStatus(b, "http://"+addr+"/", http.StatusOK)
		total += time.Since(start)
		b.StopTimer()
		deleteAndWait(b, gw)
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-to-200")
}

// programmedAddressFast polls the Gateway's address without the 100ms pause
// of eventually, so the benchmark measures the controller, not the poll.
func programmedAddressFast(b *testing.B, ns, name string) string {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var gw gwv1.Gateway
		if err := suite.c.Get(ctxFor(b), client.ObjectKey{Namespace: ns, Name: name}, &gw); err == nil && len(gw.Status.Addresses) > 0 {
			return gw.Status.Addresses[0].Value
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.Fatalf("gateway %s/%s got no address", ns, name)
	return ""
}

func waitStatus(b testing.TB, url string, want int) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := send("GET", url, "", nil); err == nil && r.status == want {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.Fatalf("%s never answered %d", url, want)
}
