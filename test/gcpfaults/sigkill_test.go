package gcpfaults

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
	"github.com/cloudgate-dev/cloudgate/test/controlplane"
)

// isWrite says whether a Compute Engine method (its Discovery id) changes
// the cloud: everything but reads and operation waits.
func isWrite(method string) bool {
	parts := strings.Split(method, ".")
	if len(parts) != 3 || strings.HasSuffix(parts[1], "Operations") {
		return false
	}
	switch parts[2] {
	case "get", "list", "aggregatedList", "listNetworkEndpoints":
		return false
	}
	return true
}

// buildController builds cmd/cloudgate into dir.
func buildController(t *testing.T, dir string) string {
	t.Helper()
	root, err := controlplane.RepoRoot()
	must(t, err)
	bin := filepath.Join(dir, "cloudgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/cloudgate")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/cloudgate: %v\n%s", err, out)
	}
	return bin
}

// process is the controller binary, run as a Deployment would run it.
type process struct {
	t    *testing.T
	bin  string
	args []string
	env  []string
	logs string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int // how many times it was started
}

func (p *process) start() {
	p.t.Helper()
	log, err := os.OpenFile(p.logs, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	must(p.t, err)
	defer log.Close()
	fmt.Fprintf(log, "--- start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = log, log
	// The controller dies with the test binary, cleanups or not.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	must(p.t, cmd.Start())
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.starts++
	p.mu.Unlock()
}

// started is how many times the process was started: killStart kills
// only the process of that start, not one started since.
func (p *process) started() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

func (p *process) killStart(n int) {
	if p.started() == n {
		p.kill()
	}
}

// kill sends SIGKILL and waits until the process is gone. It is safe to
// call from the proxy's hook and more than once.
func (p *process) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// running says whether the process has not exited.
func (p *process) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

func (p *process) tail(n int) string {
	b, _ := os.ReadFile(p.logs)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// killSwitch kills the controller from the double's hook once the k-th
// write of a trial was made: with no lag, before its answer reaches the
// controller (the write took effect and the controller never learns it);
// with a lag, that long after the answer, while the controller waits for
// the write's operation to be DONE (or has just moved on).
type killSwitch struct {
	mu     sync.Mutex
	proc   *process
	k      int // 0: disarmed
	lag    time.Duration
	writes int
	killed bool
	ops    []string
}

func (s *killSwitch) arm(k int, lag time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.k, s.lag, s.writes, s.killed, s.ops = k, lag, 0, false, nil
}

// disarm stops the switch and says whether it fired, after how many
// writes, and which.
func (s *killSwitch) disarm() (killed bool, writes int, ops []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.k = 0
	return s.killed, s.writes, s.ops
}

func (s *killSwitch) after(c gcptest.Call) {
	if !isWrite(c.Method) || c.Code != 200 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.k == 0 || s.killed {
		return
	}
	s.writes++
	s.ops = append(s.ops, strings.TrimPrefix(c.Method, "compute."))
	if s.writes == s.k {
		s.killed = true
		if s.lag == 0 {
			s.proc.kill()
			return
		}
		n, lag := s.proc.started(), s.lag
		go func() {
			time.Sleep(lag)
			s.proc.killStart(n)
		}()
	}
}

// gwState is the test's own account of one Gateway's spec.
type gwState struct {
	https  bool
	routes map[string][]routeRule
}

// backendOctets are the backends' Services and the third octet of their
// endpoints' addresses (service).
var backendOctets = map[string]int{"svc-a": 1, "svc-b": 2, "svc-c": 3}

// expectation is what one Gateway must hold in the double: how many
// objects of each kind, the endpoints of its NEGs, and the route rules
// of each URL map.
type expectation struct {
	kinds map[string]int
	// endpoints of each backend's NEG, "ip:port@instance", sorted
	endpoints map[string][]string
	rules     int
}

func (g *gwState) expectation() expectation {
	listeners := 1
	if g.https {
		listeners = 2
	}
	backends := map[string]bool{}
	rules := 0
	for _, rs := range g.routes {
		rules += len(rs)
		for _, r := range rs {
			backends[r.backend] = true
		}
	}
	e := expectation{rules: rules, endpoints: map[string][]string{}, kinds: map[string]int{
		kindAddress: 1, kindRule: listeners, kindURLMap: listeners, kindHTTPProxy: 1,
		// A health check, a NEG and a backend service per backend, and
		// the sink backend service that answers what no rule takes.
		kindHealthCheck: len(backends), kindNEG: len(backends), kindBackend: len(backends) + 1,
	}}
	if g.https {
		e.kinds[kindHTTPSProxy], e.kinds[kindCert] = 1, 1
	}
	for b := range backends {
		for i := range 2 {
			e.endpoints[b] = append(e.endpoints[b], fmt.Sprintf("10.0.%d.%d:%d@%s", backendOctets[b], 10+i, backendPort, nodeName(backendOctets[b], i)))
		}
	}
	return e
}

// check returns every way the double differs from want (by Gateway UID):
// an object without our record, a duplicate, a kind with more or fewer
// objects than the Gateway needs, a NEG without exactly its service's
// endpoints, a URL map without one route rule per route rule of the
// Gateway, and anything of a Gateway not in want.
func (c *cloud) check(cluster string, want map[string]expectation) error {
	objs, err := c.ours(cluster)
	errs := []error{err}
	if _, dups, err := c.graph(cluster); err == nil {
		for _, d := range dups {
			errs = append(errs, fmt.Errorf("duplicate %s", d))
		}
	}
	byUID := map[string]map[string][]object{}
	for _, o := range objs {
		uid := o.owner[lb.TagGatewayUID]
		if _, ok := want[uid]; !ok {
			errs = append(errs, fmt.Errorf("leaked: %s of a Gateway that is gone", o))
			continue
		}
		if byUID[uid] == nil {
			byUID[uid] = map[string][]object{}
		}
		byUID[uid][o.kind] = append(byUID[uid][o.kind], o)
	}
	for _, uid := range sortedKeys(want) {
		w := want[uid]
		for _, kind := range sortedKeys(w.kinds) {
			if have := byUID[uid][kind]; len(have) != w.kinds[kind] {
				errs = append(errs, fmt.Errorf("gateway %s: %d %s, want %d: %v", uid, len(have), kind, w.kinds[kind], have))
			}
		}
		for kind, have := range byUID[uid] {
			if _, ok := w.kinds[kind]; !ok {
				errs = append(errs, fmt.Errorf("gateway %s: %d %s, want none: %v", uid, len(have), kind, have))
			}
		}
		for _, n := range byUID[uid][kindNEG] {
			// The NEG's logical id is its target group's, which names
			// the Service.
			var want []string
			for b, eps := range w.endpoints {
				if strings.Contains(n.owner[lb.TagResource], b) {
					want = eps
				}
			}
			if strings.Join(n.endpoints, " ") != strings.Join(want, " ") {
				errs = append(errs, fmt.Errorf("gateway %s: %s has endpoints %v, want %v", uid, n, n.endpoints, want))
			}
		}
		for _, u := range byUID[uid][kindURLMap] {
			n := 0
			for _, pm := range u.msg.(*computepb.UrlMap).GetPathMatchers() {
				n += len(pm.GetRouteRules())
			}
			if n != w.rules {
				errs = append(errs, fmt.Errorf("gateway %s: %s has %d route rules, want %d", uid, u, n, w.rules))
			}
		}
	}
	return errors.Join(errs...)
}

// TestControllerKilledDuringApply: the controller binary, SIGKILLed at
// random points while it applies changes and started again, leaves no
// duplicate and no leaked resource. Every operation takes opDelay to be
// DONE in the double, as GCP's take seconds, so that the apply of one
// change spans many calls and waits; the double's hook kills the
// controller at the k-th write of a trial, either before the write's
// answer reaches it or at a random point of the operation it then waits
// for. The double runs in this process (gcptest.Start, what
// `cloudgate gcp-double --operation-delay` serves), so the hook is exact.
func TestControllerKilledDuringApply(t *testing.T) {
	const (
		trials   = 20
		seed     = 20261202
		cluster  = "faults-kill"
		class    = "gcp-faults-kill"
		converge = 40 * time.Second
		opDelay  = 100 * time.Millisecond
	)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(seed, seed))
	dir := t.TempDir()
	buildStart := time.Now()
	bin := buildController(t, dir)
	t.Logf("built the controller in %v", time.Since(buildStart).Round(time.Millisecond))

	srv, err := startDouble(ctx, gcptest.Config{OperationDelay: opDelay})
	must(t, err)
	d := srv.Double()
	sw := &killSwitch{}
	d.AddHook(gcptest.Hook{After: sw.after})

	ns := namespace(t, ctx, class)
	backends := sortedKeys(backendOctets)
	for _, name := range backends {
		service(t, ctx, ns, name, backendOctets[name])
	}
	certSecret(t, ctx, ns)

	proc := &process{t: t, bin: bin, logs: filepath.Join(dir, "controller.log"),
		args: []string{"run", "--providers=gcp", "--cluster-name=" + cluster, "--gcp-project=" + project, "--gcp-region=" + region,
			"--gcp-endpoint=" + srv.URL(), "--gcp-without-authentication",
			"--leader-elect=false", "--metrics-bind-address=0", "--health-probe-bind-address=0"},
		// Nothing on this machine may point the controller elsewhere.
		env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "KUBECONFIG=" + suite.kubeconfig}}
	sw.proc = proc
	t.Cleanup(proc.kill)
	defer func() {
		if t.Failed() {
			t.Logf("the controller's last log lines:\n%s", proc.tail(40))
		}
	}()

	gws := map[string]*gwState{}
	var gone []string
	next := 0
	randomRules := func() []routeRule {
		n := 1 + rng.IntN(3)
		var rs []routeRule
		for i := range n {
			rs = append(rs, routeRule{path: fmt.Sprintf("/p%d-%d", rng.IntN(100), i), backend: backends[rng.IntN(len(backends))]})
		}
		return rs
	}
	newGateway := func() string {
		name := fmt.Sprintf("gw-%d", next)
		next++
		g := &gwState{https: next%3 == 1, routes: map[string][]routeRule{}}
		gws[name] = g
		must(t, suite.c.Create(ctx, gateway(ns, name, class, g.https)))
		route := name + "-r0"
		g.routes[route] = randomRules()
		must(t, suite.c.Create(ctx, httpRoute(ns, route, name, g.routes[route])))
		return "create " + name
	}
	pick := func() (string, *gwState) {
		names := sortedKeys(gws)
		n := names[rng.IntN(len(names))]
		return n, gws[n]
	}
	// mutate makes one random change and says what it was.
	mutate := func() string {
		switch c := rng.IntN(10); {
		case len(gws) == 0 || (c < 2 && len(gws) < 3):
			return newGateway()
		case c < 4:
			name, g := pick()
			route := fmt.Sprintf("%s-r%d", name, rng.IntN(1000))
			if _, ok := g.routes[route]; ok {
				return "nothing"
			}
			g.routes[route] = randomRules()
			must(t, suite.c.Create(ctx, httpRoute(ns, route, name, g.routes[route])))
			return "add route " + route
		case c < 7:
			_, g := pick()
			routes := sortedKeys(g.routes)
			route := routes[rng.IntN(len(routes))]
			g.routes[route] = randomRules()
			must(t, updateRoute(ctx, ns, route, g.routes[route]))
			return "change route " + route
		case c < 9:
			_, g := pick()
			routes := sortedKeys(g.routes)
			if len(routes) < 2 {
				return "nothing"
			}
			route := routes[rng.IntN(len(routes))]
			delete(g.routes, route)
			must(t, deleteObject(ctx, &gwv1.HTTPRoute{ObjectMeta: objectMeta(ns, route)}))
			return "delete route " + route
		default:
			if len(gws) < 2 {
				return newGateway()
			}
			name, g := pick()
			for route := range g.routes {
				must(t, deleteObject(ctx, &gwv1.HTTPRoute{ObjectMeta: objectMeta(ns, route)}))
			}
			delete(gws, name)
			gone = append(gone, name)
			must(t, deleteObject(ctx, &gwv1.Gateway{ObjectMeta: objectMeta(ns, name)}))
			return "delete " + name
		}
	}
	// converged waits for the Gateways' statuses and the double to match
	// the test's account of the specs.
	converged := func() (time.Duration, error) {
		return eventually(converge, func() error {
			uids, err := k8sConverged(ctx, ns, gone)
			if err != nil {
				return err
			}
			want := map[string]expectation{}
			for name, g := range gws {
				uid, ok := uids[name]
				if !ok {
					return fmt.Errorf("gateway %s is not there", name)
				}
				want[uid] = g.expectation()
			}
			return readCloud(d).check(cluster, want)
		})
	}

	proc.start()
	newGateway()
	newGateway()
	if took, err := converged(); err != nil {
		t.Fatalf("before the first kill: %v", err)
	} else {
		t.Logf("two Gateways converged in %v", took.Round(time.Millisecond))
	}

	var lostKills, opKills, timerKills, timerInApply, totalWrites int
	var slowest, sum time.Duration
	for trial := range trials {
		// Half the kills come before the k-th write's answer, half
		// within the operation delay after it: the controller is then
		// waiting for the operation.
		k, lag := 1+rng.IntN(3), time.Duration(0)
		if trial%2 == 1 {
			lag = time.Millisecond + time.Duration(rng.Int64N(int64(opDelay-time.Millisecond)))
		}
		// The timer kills when the change needs fewer than k writes.
		delay := time.Duration(rng.Int64N(int64(1500 * time.Millisecond)))
		sw.arm(k, lag)
		what := "nothing"
		for what == "nothing" {
			what = mutate()
		}
		timer := time.NewTimer(delay)
		fired := false
		for !fired {
			select {
			case <-timer.C:
				fired = true
			case <-time.After(5 * time.Millisecond):
				fired = !proc.running()
			}
		}
		timer.Stop()
		proc.kill() // a no-op when the hook killed it
		killed, writes, ops := sw.disarm()
		totalWrites += writes
		how := fmt.Sprintf("by the timer after %v, %d writes made", delay.Round(time.Millisecond), writes)
		switch {
		case killed && lag == 0:
			lostKills++
			how = fmt.Sprintf("right after write %d (%s) took effect, before its answer", k, ops[len(ops)-1])
		case killed:
			opKills++
			how = fmt.Sprintf("%v after write %d's answer (%s), in its operation", lag.Round(time.Millisecond), k, ops[len(ops)-1])
		case writes > 0:
			timerKills++
			timerInApply++
		default:
			timerKills++
		}
		proc.start()
		took, err := converged()
		if err != nil {
			logEvents(t, ctx, ns)
			t.Fatalf("trial %d (%s, killed %s): no convergence after the restart: %v", trial, what, how, err)
		}
		sum += took
		slowest = max(slowest, took)
		t.Logf("trial %2d: %-22s killed %s; converged %v after the restart", trial, what, how, took.Round(time.Millisecond))
	}
	t.Logf("%d trials: %d killed right after a write took effect, before its answer; %d within its operation; %d by the timer (%d of them with writes of the trial done); %d writes made before the kills; convergence after a restart: mean %v, slowest %v",
		trials, lostKills, opKills, timerKills, timerInApply, totalWrites, (sum / trials).Round(time.Millisecond), slowest.Round(time.Millisecond))
	if lostKills+opKills+timerInApply < trials*3/4 || lostKills == 0 || opKills == 0 {
		t.Errorf("only %d of %d kills came in the middle of an apply (%d before an answer, %d in an operation): the test did not exercise what it is for",
			lostKills+opKills+timerInApply, trials, lostKills, opKills)
	}

	// The end: everything deleted, nothing of ours left.
	if err := deleteGateways(ctx, ns, converge); err != nil {
		t.Fatal(err)
	}
	c := readCloud(d)
	if err := c.check(cluster, nil); err != nil {
		t.Errorf("after the Gateways' deletion, the double holds %s:\n%v", c.summary(), err)
	}
	if refs := d.Refs(); len(refs) != 1 {
		t.Errorf("after the Gateways' deletion, the double holds %v, want the seeded subnetwork only", refs)
	}
	calls := d.Calls()
	var writes []string
	n := 0
	for _, m := range sortedKeys(calls) {
		n += calls[m]
		if isWrite(m) {
			writes = append(writes, fmt.Sprintf("%s=%d", strings.TrimPrefix(m, "compute."), calls[m]))
		}
	}
	t.Logf("calls to the double: %d, of which writes: %s", n, strings.Join(writes, " "))
	if bytes.Contains([]byte(proc.tail(200)), []byte("panic:")) {
		t.Errorf("the controller panicked:\n%s", proc.tail(60))
	}
}

func objectMeta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name}
}
