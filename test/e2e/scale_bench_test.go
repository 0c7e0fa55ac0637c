package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/providers/emulated"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
	"github.com/cloudgate-dev/cloudgate/reconciler"
	"github.com/cloudgate-dev/cloudgate/test/controlplane"
)

// scaleRoutesPerGateway is the shape: 1,000 Gateways with 5 routes
// each, 5,000 routes in all.
const scaleRoutesPerGateway = 5

// BenchmarkThousandGateways runs the controller binary (cmd/cloudgate, as a
// Deployment runs it) as a process of its own, so that its memory is its
// own, against a control plane and an emulated cloud of this benchmark
// only (the suite's in-process controller would reconcile the same
// Gateways otherwise). It reports:
//   - programmed-s: from the first create until every Gateway is Programmed
//     and every route Accepted, at their generations;
//   - rss-MiB and hwm-MiB: the controller's VmRSS once everything is
//     Programmed and the controller has gone quiet, and its peak (VmHWM);
//   - restart-cloud-writes, restart-status-writes: what a restarted
//     controller writes once it has reconciled every Gateway again: cloud
//     API writes counted by the emulated cloud, and changes to Gateways and
//     routes seen by a watch (any write that changes an object shows up
//     there); restart-api-writes counts every write request the new process
//     sent the API server (client-go's rest_client_requests_total), which
//     also catches writes that changed nothing.
//
// CLOUDGATE_SCALE_GATEWAYS sets the number of Gateways (default 1000);
// CLOUDGATE_SCALE_PROFILE, a file name, receives the controller's heap
// profile once it has settled.
func BenchmarkThousandGateways(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("CLOUDGATE_SCALE_GATEWAYS")); err == nil && v > 0 {
		n = v
	}
	// One measurement per call, b.N or not: a run takes far longer than any
	// -benchtime, so the framework never asks for a second iteration.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startScale(ctx, b)

	w := newScaleWatch(n, n*scaleRoutesPerGateway)
	var watches sync.WaitGroup
	watches.Go(func() { w.run(ctx, b, s.c, &gwv1.GatewayList{}) })
	watches.Go(func() { w.run(ctx, b, s.c, &gwv1.HTTPRouteList{}) })
	// The watches end before the benchmark does: they report through b.
	defer watches.Wait()
	defer cancel()
	w.waitStarted(b)

	start := time.Now()
	s.createAll(b, n)
	created := time.Since(start)
	if !w.waitReady(ctx, 15*time.Minute) {
		g, r := w.counts()
		b.Fatalf("after 15m %d of %d Gateways Programmed, %d of %d routes Accepted\n%s", g, n, r, n*scaleRoutesPerGateway, s.ctl.tail(30))
	}
	programmed := w.readyAt().Sub(start)
	b.Logf("%d Gateways, %d routes: created in %s, all Programmed and Accepted after %s",
		n, n*scaleRoutesPerGateway, created.Round(time.Millisecond), programmed.Round(time.Millisecond))

	s.ctl.waitQuiet(b, nil)
	rss, hwm := s.ctl.memory(b)
	heap := s.ctl.gauge(b, "go_memstats_heap_inuse_bytes")
	b.Logf("controller memory after settling: VmRSS %.1f MiB, VmHWM %.1f MiB, Go heap in use %.1f MiB", rss, hwm, heap/(1<<20))
	if path := os.Getenv("CLOUDGATE_SCALE_PROFILE"); path != "" {
		s.ctl.heapProfile(b, path)
	}

	// The restart: a new process against the same cluster and cloud.
	before := s.cloud.Cloud().Stats()
	s.ctl.stop()
	w.resetChanges()
	s.ctl.start(b)
	s.ctl.waitQuiet(b, func(m families) error {
		if got := sumMetric(m, "controller_runtime_reconcile_total", map[string]string{"controller": "gateway"}); got < float64(n) {
			return fmt.Errorf("%v of %d Gateways reconciled", got, n)
		}
		return nil
	})
	time.Sleep(time.Second) // a write still on its way shows in the counts
	after := s.cloud.Cloud().Stats()
	cloudWrites := after.Writes() - before.Writes()
	statusWrites, changed := w.changes()
	apiWrites := s.ctl.writeRequests(b)
	b.Logf("restart: %d cloud reads, %d cloud writes (%v), %d Gateway and route changes %v, %d API write requests",
		after.Reads()-before.Reads(), cloudWrites, after.Requests, statusWrites, changed, apiWrites)

	b.ReportMetric(programmed.Seconds(), "programmed-s")
	b.ReportMetric(rss, "rss-MiB")
	b.ReportMetric(hwm, "hwm-MiB")
	b.ReportMetric(float64(cloudWrites), "restart-cloud-writes")
	b.ReportMetric(float64(statusWrites), "restart-status-writes")
	b.ReportMetric(float64(apiWrites), "restart-api-writes")
	// The framework's ns/op would be the whole setup's: meaningless here.
	b.ReportMetric(0, "ns/op")
}

// scale is one benchmark's own cluster, cloud and controller process.
type scale struct {
	c     client.WithWatch
	cloud *cloud.Server
	ctl   *controllerProcess
	class string
}

func startScale(ctx context.Context, b *testing.B) *scale {
	cp, err := controlplane.Start(ctx, controlplane.Config{})
	if err != nil {
		b.Fatalf("starting a control plane: %v", err)
	}
	b.Cleanup(func() { _ = cp.Stop() })
	scheme, err := reconciler.NewScheme()
	must(b, err)
	// No client-side rate limit: the benchmark creates thousands of objects.
	cfg := rest.CopyConfig(cp.REST)
	cfg.QPS, cfg.Burst = -1, 0
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	must(b, err)

	// A range no other test package uses (see main_test.go and the others).
	rng := netip.MustParsePrefix(fmt.Sprintf("127.%d.0.0/16", 90+os.Getpid()%10))
	srv, err := cloud.Start(ctx, cloud.Config{AddressRange: rng}, "127.0.0.1:0")
	if err != nil {
		b.Fatalf("starting the emulated cloud: %v", err)
	}
	b.Cleanup(func() { _ = srv.Close() })

	dir := b.TempDir()
	ctl := &controllerProcess{bin: buildCloudgate(b, dir), logs: filepath.Join(dir, "controller.log"),
		env: append(os.Environ(), "KUBECONFIG="+cp.Kubeconfig),
		args: []string{"--cluster-name=scale", "--providers=emulated", "--emulated-endpoint=" + srv.URL(),
			"--health-probe-bind-address=0", "--resync-period=1h", "--zap-log-level=error"}}
	s := &scale{c: c, cloud: srv, ctl: ctl, class: "cloudgate-scale"}
	gc := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: s.class}}
	gc.Spec.ControllerName = emulated.ControllerName
	must(b, c.Create(ctx, gc))
	ctl.start(b)
	b.Cleanup(ctl.stop)
	return s
}

// buildCloudgate builds cmd/cloudgate into dir.
func buildCloudgate(b *testing.B, dir string) string {
	root, err := controlplane.RepoRoot()
	must(b, err)
	bin := filepath.Join(dir, "cloudgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/cloudgate")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/cloudgate: %v\n%s", err, out)
	}
	return bin
}

// createAll creates n Gateways with their routes, 100 Gateways to a
// namespace, each namespace with one backend Service.
func (s *scale) createAll(b *testing.B, n int) {
	ctx := context.Background()
	nsOf := func(i int) string { return fmt.Sprintf("scale-%03d", i/100) }
	for i := 0; i < n; i += 100 {
		ns := nsOf(i)
		must(b, s.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
		portName, proto, ready, port := "http", corev1.ProtocolTCP, true, int32(8080)
		must(b, s.c.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: portName, Port: port, Protocol: proto}}}}))
		must(b, s.c.Create(ctx, &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: "app-1", Labels: map[string]string{discoveryv1.LabelServiceName: "app"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.10"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
			Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port, Protocol: &proto}},
		}))
	}
	work := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				ns, name := nsOf(i), fmt.Sprintf("gw-%04d", i)
				gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
					Spec: gwv1.GatewaySpec{GatewayClassName: gwv1.ObjectName(s.class), Listeners: []gwv1.Listener{httpListener("http", 80)}}}
				objs := []client.Object{gw}
				for j := range scaleRoutesPerGateway {
					objs = append(objs, route(ns, fmt.Sprintf("%s-r%d", name, j), name, nil,
						rule(pathMatch(gwv1.PathMatchPathPrefix, fmt.Sprintf("/r%d", j)), backendRef("app", 1))))
				}
				for _, o := range objs {
					if err := s.c.Create(ctx, o); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case work <- i:
		case err = <-errs:
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err == nil && len(errs) > 0 {
		err = <-errs
	}
	must(b, err)
}

// scaleWatch follows Gateways and HTTPRoutes through watches: which are
// ready (Programmed, Accepted) and how many changes it saw since the last
// reset.
type scaleWatch struct {
	wantGateways, wantRoutes int

	mu       sync.Mutex
	started  int
	gateways map[string]bool
	routes   map[string]bool
	ready    time.Time
	readyCh  chan struct{}
	changed  map[string]int
	counting bool
}

func newScaleWatch(gateways, routes int) *scaleWatch {
	return &scaleWatch{wantGateways: gateways, wantRoutes: routes, gateways: map[string]bool{}, routes: map[string]bool{},
		readyCh: make(chan struct{}), changed: map[string]int{}}
}

// run watches one kind from now on, again from the last version seen when
// the API server ends the watch.
func (w *scaleWatch) run(ctx context.Context, b *testing.B, c client.WithWatch, list client.ObjectList) {
	if err := c.List(ctx, list); err != nil {
		b.Errorf("listing %T: %v", list, err)
		return
	}
	rv := list.(metav1.ListInterface).GetResourceVersion()
	w.mu.Lock()
	w.started++
	w.mu.Unlock()
	for ctx.Err() == nil {
		wi, err := c.Watch(ctx, list, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}})
		if err != nil {
			if ctx.Err() == nil {
				b.Errorf("watching %T: %v", list, err)
			}
			return
		}
		for ev := range wi.ResultChan() {
			if ctx.Err() != nil {
				break
			}
			if ev.Type == watch.Error {
				// Expired: what was missed is not counted, so say so.
				b.Errorf("watching %T: %v", list, ev.Object)
				wi.Stop()
				return
			}
			obj, ok := ev.Object.(client.Object)
			if !ok {
				continue
			}
			rv = obj.GetResourceVersion()
			if ev.Type != watch.Bookmark {
				w.seen(ev.Type, obj)
			}
		}
	}
}

func (w *scaleWatch) waitStarted(b *testing.B) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		w.mu.Lock()
		started := w.started
		w.mu.Unlock()
		if started == 2 {
			return
		}
	}
	b.Fatal("the watches did not start")
}

func (w *scaleWatch) seen(typ watch.EventType, obj client.Object) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := obj.GetNamespace() + "/" + obj.GetName()
	switch o := obj.(type) {
	case *gwv1.Gateway:
		c := meta.FindStatusCondition(o.Status.Conditions, string(gwv1.GatewayConditionProgrammed))
		w.gateways[key] = typ != watch.Deleted && c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == o.Generation
		key = "Gateway " + key
	case *gwv1.HTTPRoute:
		accepted := len(o.Status.Parents) > 0
		for _, p := range o.Status.Parents {
			c := meta.FindStatusCondition(p.Conditions, string(gwv1.RouteConditionAccepted))
			accepted = accepted && c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == o.Generation
		}
		w.routes[key] = typ != watch.Deleted && accepted
		key = "HTTPRoute " + key
	}
	if w.counting {
		w.changed[key]++
	}
	if w.ready.IsZero() && countTrue(w.gateways) == w.wantGateways && countTrue(w.routes) == w.wantRoutes {
		w.ready = time.Now()
		close(w.readyCh)
	}
}

func countTrue(m map[string]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

func (w *scaleWatch) waitReady(ctx context.Context, timeout time.Duration) bool {
	select {
	case <-w.readyCh:
		return true
	case <-time.After(timeout):
		return false
	case <-ctx.Done():
		return false
	}
}

func (w *scaleWatch) readyAt() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ready
}

func (w *scaleWatch) counts() (gateways, routes int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return countTrue(w.gateways), countTrue(w.routes)
}

// resetChanges starts counting changes from zero.
func (w *scaleWatch) resetChanges() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counting, w.changed = true, map[string]int{}
}

// changes is the number of changes since resetChanges, and a few of the
// objects changed.
func (w *scaleWatch) changes() (int, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	total := 0
	var keys []string
	for k, v := range w.changed {
		total += v
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 5 {
		keys = keys[:5]
	}
	return total, keys
}

// controllerProcess is the controller binary, run as a Deployment runs it,
// with metrics and pprof on free loopback ports.
type controllerProcess struct {
	bin  string
	args []string
	env  []string
	logs string

	cmd         *exec.Cmd
	exited      chan struct{}
	metricsAddr string
	pprofAddr   string
}

func (p *controllerProcess) start(b *testing.B) {
	p.metricsAddr, p.pprofAddr = freeAddr(b), freeAddr(b)
	log, err := os.OpenFile(p.logs, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	must(b, err)
	defer log.Close()
	cmd := exec.Command(p.bin, append(p.args, "--metrics-bind-address="+p.metricsAddr, "--pprof-bind-address="+p.pprofAddr)...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = log, log
	// The controller dies with the benchmark, cleanups or not.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	must(b, cmd.Start())
	p.cmd, p.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(p.exited)
}

// stop ends the process as a rolling update would: SIGTERM, then SIGKILL
// if it lingers.
func (p *controllerProcess) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

func freeAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(b, err)
	defer l.Close()
	return l.Addr().String()
}

func (p *controllerProcess) tail(n int) string {
	data, _ := os.ReadFile(p.logs)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

type families = map[string]*dto.MetricFamily

func (p *controllerProcess) metrics() (families, error) {
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + p.metricsAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

func sumMetric(m families, family string, labels map[string]string) float64 {
	f, ok := m[family]
	if !ok {
		return 0
	}
	total := 0.0
metrics:
	for _, mt := range f.Metric {
		for k, v := range labels {
			found := false
			for _, l := range mt.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue metrics
			}
		}
		switch {
		case mt.Counter != nil:
			total += mt.Counter.GetValue()
		case mt.Gauge != nil:
			total += mt.Gauge.GetValue()
		}
	}
	return total
}

func (p *controllerProcess) gauge(b *testing.B, family string) float64 {
	m, err := p.metrics()
	must(b, err)
	return sumMetric(m, family, nil)
}

// waitQuiet waits until ready (if not nil) holds and the controller has
// nothing queued and reconciled nothing for 3 seconds, then gives it 5
// more to return what it freed.
func (p *controllerProcess) waitQuiet(b *testing.B, ready func(families) error) {
	var last float64 = -1
	quietSince := time.Now()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		m, err := p.metrics()
		if err == nil && ready != nil {
			err = ready(m)
		}
		if err == nil {
			depth := sumMetric(m, "workqueue_depth", nil)
			reconciles := sumMetric(m, "controller_runtime_reconcile_total", nil)
			if depth != 0 || reconciles != last {
				last, quietSince = reconciles, time.Now()
			} else if time.Since(quietSince) >= 3*time.Second {
				time.Sleep(5 * time.Second)
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("the controller did not settle: %v\n%s", err, p.tail(30))
		}
		select {
		case <-p.exited:
			b.Fatalf("the controller exited\n%s", p.tail(30))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// memory is the process's VmRSS and VmHWM in MiB.
func (p *controllerProcess) memory(b *testing.B) (rss, hwm float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	must(b, err)
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		key, val, ok := strings.Cut(lines.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 64)
		must(b, err)
		if key == "VmRSS" {
			rss = kb / 1024
		} else {
			hwm = kb / 1024
		}
	}
	if rss == 0 || hwm == 0 {
		b.Fatalf("no VmRSS or VmHWM in /proc/%d/status", p.cmd.Process.Pid)
	}
	return rss, hwm
}

// heapProfile writes the controller's heap profile (after a GC) to path.
func (p *controllerProcess) heapProfile(b *testing.B, path string) {
	resp, err := (&http.Client{Timeout: time.Minute}).Get("http://" + p.pprofAddr + "/debug/pprof/heap?gc=1")
	must(b, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("heap profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	must(b, err)
	_, err = f.ReadFrom(resp.Body)
	must(b, errors.Join(err, f.Close()))
	b.Logf("heap profile of the settled controller: %s (go tool pprof -sample_index=inuse_space -top %s)", path, path)
}

// writeRequests is how many write requests (POST, PUT, PATCH, DELETE) the
// process sent the API server.
func (p *controllerProcess) writeRequests(b *testing.B) int {
	m, err := p.metrics()
	must(b, err)
	// Without the family (or any request in it) a zero would say nothing.
	if sumMetric(m, "rest_client_requests_total", nil) == 0 {
		b.Fatal("the controller's /metrics has no rest_client_requests_total")
	}
	total := 0.0
	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		total += sumMetric(m, "rest_client_requests_total", map[string]string{"method": method})
	}
	return int(total)
}
