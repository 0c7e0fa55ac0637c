package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/reconciler"
)

// BenchmarkRouteChangeToTraffic measures, on a Gateway that already has N
// HTTPRoutes (one Exact path each), the time from creating one more route
// to the first 200 on its path, through the whole path: API server,
// controller, mapping, emulated cloud, data plane. The target is a
// cost that does not grow with the routes a change does not touch.
func BenchmarkRouteChangeToTraffic(b *testing.B) {
	for _, n := range []int{10, 3000} {
		// The routes are made once per size, outside b.Run: the framework
		// calls the function below again for each b.N it tries.
		ns, base := gatewayWithRoutes(b, n)
		next := 0
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			defer profileOps(b)()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				next++
				name, path := fmt.Sprintf("new-%d", next), fmt.Sprintf("/new-%d", next)
				start := time.Now()
				create(b, route(ns, name, "gw", nil, rule(pathMatch(gwv1.PathMatchExact, path), backendRef("app", 1))))
				pollStatus(b, base+path, http.StatusOK)
				lat = append(lat, time.Since(start))
				// The controller writes the route's status after it serves
				// it. A change made before that waits for the end of the
				// reconcile before it: it would time two changes, not one.
				b.StopTimer()
				waitRouteStatus(b, types.NamespacedName{Namespace: ns, Name: name})
				b.StartTimer()
			}
			reportLatencies(b, lat)
		})
	}
}

// BenchmarkEndpointChange measures, on a Gateway with 3,000 routes, the time
// from a new endpoint (a new backend process, published in an EndpointSlice
// of its own, as a new Pod's address would be) to the first request that
// reaches it.
func BenchmarkEndpointChange(b *testing.B) {
	const n = 3000
	ns, base := gatewayWithRoutes(b, n)
	// The Service whose endpoints change, behind a route of its own.
	create(b, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ep"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}}},
	}, route(ns, "ep", "gw", nil, rule(pathMatch(gwv1.PathMatchExact, "/ep"), backendRef("ep", 1))))
	prev := endpointBackend(b, ns, "ep", 0)
	pollBackend(b, base+"/ep", prev.name)
	next := 0
	b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		defer profileOps(b)()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			next++
			// The new process listens before its endpoint is published, as
			// a Pod is ready before its address is.
			ep := startEndpoint(b, fmt.Sprintf("ep-%d", next))
			b.StartTimer()
			start := time.Now()
			publishEndpoint(b, ns, "ep", ep)
			pollBackend(b, base+"/ep", ep.name)
			lat = append(lat, time.Since(start))
			b.StopTimer()
			// The old endpoint goes, so that the Service has one or two
			// endpoints at each measurement; wait until it is out of the
			// data plane, so that its removal is not measured next.
			must(b, suite.c.Delete(ctxFor(b), &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: prev.name}}))
			onlyBackend(b, base+"/ep", ep.name)
			prev.close()
			prev = ep
			b.StartTimer()
		}
		reportLatencies(b, lat)
	})
	prev.close()
}

// gatewayWithRoutes creates, in a namespace of its own, a backend "app", a
// Gateway "gw" with one HTTP listener and n HTTPRoutes on it, route i with
// the Exact path /r-i; it returns once every path answers 200, with the
// namespace and the Gateway's base URL.
func gatewayWithRoutes(b *testing.B, n int) (ns, base string) {
	b.Helper()
	ns = namespace(b)
	backend(b, ns, "app")
	create(b, gateway(ns, "gw", httpListener("http", 80)))
	base = "http://" + programmedAddress(b, ns, "gw")
	// Routes made concurrently by a client without a rate limit: one at a
	// time, 3,000 would take minutes.
	cfg := rest.CopyConfig(suite.rest)
	cfg.QPS, cfg.Burst = -1, 0
	scheme, err := reconciler.NewScheme()
	must(b, err)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	must(b, err)
	start := time.Now()
	work := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range work {
				r := route(ns, fmt.Sprintf("r-%d", i), "gw", nil, rule(pathMatch(gwv1.PathMatchExact, fmt.Sprintf("/r-%d", i)), backendRef("app", 1)))
				if err := c.Create(context.Background(), r); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	// Routes outlive the namespace's deletion in envtest (no namespace
	// controller): delete them too, so that later benchmarks do not carry
	// them in the controller's cache.
	b.Cleanup(func() {
		_ = c.DeleteAllOf(context.Background(), &gwv1.HTTPRoute{}, client.InNamespace(ns))
	})
	// Once: the last route created, then every path, each of which is then
	// served already.
	for i := range n {
		pollStatus(b, fmt.Sprintf("%s/r-%d", base, i), http.StatusOK)
	}
	// The controller writes each route's status after serving it: a
	// change made while thousands of those writes are still queued would
	// time them, not the change.
	waitRouteStatuses(b, c, ns, n)
	b.Logf("%d routes created and served, with their status, in %s", n, time.Since(start).Round(time.Millisecond))
	return ns, base
}

// waitRouteStatus waits until the HTTPRoute key has a parent status.
func waitRouteStatus(b testing.TB, key types.NamespacedName) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var r gwv1.HTTPRoute
		must(b, suite.c.Get(context.Background(), key, &r))
		if len(r.Status.Parents) > 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("route %s has no status after 30s", key)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitRouteStatuses waits until n HTTPRoutes of ns have a parent status.
func waitRouteStatuses(b testing.TB, c client.Client, ns string, n int) {
	b.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var routes gwv1.HTTPRouteList
		must(b, c.List(context.Background(), &routes, client.InNamespace(ns)))
		done := 0
		for _, r := range routes.Items {
			if len(r.Status.Parents) > 0 {
				done++
			}
		}
		if done >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d routes have a status", done, n)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// pollStatus requests url until it answers want, pausing at most a
// millisecond between tries so that the poll adds little to what it
// measures.
func pollStatus(b testing.TB, url string, want int) {
	b.Helper()
	pollUntil(b, url, fmt.Sprintf("status %d", want), func(r response) bool { return r.status == want })
}

// pollBackend requests url until backend answers it.
func pollBackend(b testing.TB, url, backend string) {
	b.Helper()
	pollUntil(b, url, "backend "+backend, func(r response) bool { return r.status == http.StatusOK && r.backend == backend })
}

// onlyBackend waits until 20 requests in a row reach backend alone.
func onlyBackend(b testing.TB, url, backend string) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for row := 0; row < 20; {
		if time.Now().After(deadline) {
			b.Fatalf("%s: still answered by other backends than %s", url, backend)
		}
		if r, err := send("GET", url, "", nil); err == nil && r.status == http.StatusOK && r.backend == backend {
			row++
		} else {
			row = 0
			time.Sleep(time.Millisecond)
		}
	}
}

func pollUntil(b testing.TB, url, what string, ok func(response) bool) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := send("GET", url, "", nil); err == nil && ok(r) {
			return
		}
		time.Sleep(500 * time.Microsecond)
	}
	b.Fatalf("%s never answered with %s", url, what)
}

// endpoint is one backend process of a Service that changes its endpoints.
type endpoint struct {
	name  string
	port  int32
	close func()
}

// startEndpoint starts a backend server in the backend namespace that
// answers with name in X-Backend.
func startEndpoint(b testing.TB, name string) endpoint {
	b.Helper()
	l, err := suite.host.Listen(0)
	must(b, err)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Backend", name)
	})}
	go func() { _ = srv.Serve(l) }()
	var once sync.Once
	stop := func() { once.Do(func() { _ = srv.Close() }) }
	b.Cleanup(stop)
	return endpoint{name: name, port: int32(l.Addr().(*net.TCPAddr).Port), close: stop}
}

// endpointBackend starts a backend and publishes it for service.
func endpointBackend(b testing.TB, ns, service string, i int) endpoint {
	b.Helper()
	ep := startEndpoint(b, fmt.Sprintf("%s-%d", service, i))
	publishEndpoint(b, ns, service, ep)
	return ep
}

// publishEndpoint adds ep to service's endpoints, in an EndpointSlice named
// after ep (its port is its own, and ports are per slice).
func publishEndpoint(b testing.TB, ns, service string, ep endpoint) {
	b.Helper()
	portName, proto, ready := "http", corev1.ProtocolTCP, true
	create(b, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: ep.name, Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{suite.host.Addr.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: &portName, Port: &ep.port, Protocol: &proto}},
	})
}

// profileOps writes a CPU profile of the measured operations alone (the
// controller runs in this process), without the thousands of routes made
// before them, to the directory CLOUDGATE_BENCH_PROFILE_DIR names, one file
// per benchmark: go test -cpuprofile would profile the setup too. It
// returns the function that stops it.
func profileOps(b *testing.B) func() {
	dir := os.Getenv("CLOUDGATE_BENCH_PROFILE_DIR")
	if dir == "" {
		return func() {}
	}
	name := strings.NewReplacer("/", "_", "=", "").Replace(b.Name())
	f, err := os.Create(filepath.Join(dir, name+".prof"))
	must(b, err)
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		must(b, f.Close())
	}
}

// reportLatencies reports the median and the 99th percentile of lat, in
// milliseconds; ns/op, the mean, says less about a tail.
func reportLatencies(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(q float64) float64 {
		return float64(lat[int(q*float64(len(lat)-1)+0.5)].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
