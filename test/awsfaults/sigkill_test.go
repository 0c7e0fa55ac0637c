package awsfaults

import (
	"bytes"
	"context"
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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/localstack"
	"github.com/cloudgate-dev/cloudgate/test/controlplane"
)

// isWrite says whether an AWS operation changes the cloud.
func isWrite(op string) bool {
	for _, p := range []string{"Create", "Delete", "Modify", "Set", "Add", "Remove", "Register", "Deregister", "Import"} {
		if strings.HasPrefix(op, p) {
			return true
		}
	}
	return false
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
	p.mu.Unlock()
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

// killSwitch kills the controller from the proxy's hook once the k-th
// write of a trial was answered by moto, before the answer reaches the
// controller: the write took effect and the controller never learns it.
type killSwitch struct {
	mu     sync.Mutex
	proc   *process
	k      int // 0: disarmed
	writes int
	killed bool
	ops    []string
}

func (s *killSwitch) arm(k int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.k, s.writes, s.killed, s.ops = k, 0, false, nil
}

// disarm stops the switch and says whether it fired, after how many
// writes, and which.
func (s *killSwitch) disarm() (killed bool, writes int, ops []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.k = 0
	return s.killed, s.writes, s.ops
}

func (s *killSwitch) answered(op string) {
	if !isWrite(op) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.k == 0 || s.killed {
		return
	}
	s.writes++
	s.ops = append(s.ops, op)
	if s.writes == s.k {
		s.proc.kill()
		s.killed = true
	}
}

// gwState is the test's own account of one Gateway's spec.
type gwState struct {
	https  bool
	routes map[string][]routeRule
}

func (g *gwState) expectation() expectation {
	e := expectation{listeners: 1}
	if g.https {
		e.listeners, e.certs = 2, 1
	}
	backends := map[string]bool{}
	for _, rs := range g.routes {
		e.rules += len(rs)
		for _, r := range rs {
			backends[r.backend] = true
		}
	}
	e.groups = len(backends)
	return e
}

// TestControllerKilledDuringApply: the controller binary, SIGKILLed at
// random points while it applies changes and started again, leaves no
// duplicate and no leaked resource.
func TestControllerKilledDuringApply(t *testing.T) {
	const (
		trials   = 24
		seed     = 424242
		cluster  = "faults-kill"
		class    = "aws-faults-kill"
		converge = 40 * time.Second
	)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(seed, seed))
	dir := t.TempDir()
	buildStart := time.Now()
	bin := buildController(t, dir)
	t.Logf("built the controller in %v", time.Since(buildStart).Round(time.Millisecond))

	env := localstack.Start(t, localstack.Options{Engine: localstack.EngineMoto, Cluster: cluster})
	direct, err := env.AWSConfig(ctx)
	must(t, err)
	sw := &killSwitch{}
	proxy, err := localstack.StartFaultProxy(localstack.FaultConfig{Target: env.Endpoint, Answered: sw.answered})
	must(t, err)
	t.Cleanup(func() { must(t, proxy.Close()) })

	ns := namespace(t, ctx, class)
	backends := []string{"svc-a", "svc-b", "svc-c"}
	for i, name := range backends {
		service(t, ctx, ns, name, i+1)
	}
	certSecret(t, ctx, ns)

	proc := &process{t: t, bin: bin, logs: filepath.Join(dir, "controller.log"),
		args: []string{"run", "--providers=aws", "--cluster-name=" + cluster, "--aws-region=" + env.Region,
			"--aws-vpc-id=" + env.VPCID, "--aws-subnets=" + strings.Join(env.PublicSubnetIDs, ","),
			"--leader-elect=false", "--metrics-bind-address=0", "--health-probe-bind-address=0"},
		env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "KUBECONFIG=" + suite.kubeconfig,
			"AWS_ENDPOINT_URL=" + proxy.URL, "AWS_REGION=" + env.Region,
			"AWS_ACCESS_KEY_ID=" + env.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + env.SecretAccessKey,
			// Nothing on this machine may point the controller elsewhere.
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true"}}
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
		g := &gwState{https: next == 1, routes: map[string][]routeRule{}}
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
	// converged waits for the Gateways' statuses and the cloud to match
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
			c, err := readCloud(ctx, direct)
			if err != nil {
				return err
			}
			return c.check(cluster, want)
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

	var hookKills, timerKills, writesInFlight, totalWrites int
	var slowest, sum time.Duration
	for trial := range trials {
		k, delay := 1+rng.IntN(4), time.Duration(rng.Int64N(int64(1500*time.Millisecond)))
		sw.arm(k)
		what := mutate()
		timer := time.NewTimer(delay)
		fired := false
		for !fired {
			select {
			case <-timer.C:
				fired = true
			case <-time.After(10 * time.Millisecond):
				fired = !proc.running()
			}
		}
		timer.Stop()
		proc.kill() // a no-op when the hook killed it
		killed, writes, ops := sw.disarm()
		totalWrites += writes
		how := fmt.Sprintf("after %v, %d writes answered", delay.Round(time.Millisecond), writes)
		switch {
		case killed:
			hookKills++
			writesInFlight++
			how = fmt.Sprintf("right after write %d (%s) took effect, before its answer", k, ops[len(ops)-1])
		case writes > 0:
			timerKills++
			writesInFlight++
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
	t.Logf("%d trials: %d killed by the hook right after a write took effect, %d by the timer (%d of them with writes of the trial done); %d writes answered before the kills; convergence after a restart: mean %v, slowest %v",
		trials, hookKills, timerKills, writesInFlight-hookKills, totalWrites, (sum / trials).Round(time.Millisecond), slowest.Round(time.Millisecond))
	if hookKills < trials/4 {
		t.Errorf("only %d of %d kills came in the middle of an apply: the test did not exercise what it is for", hookKills, trials)
	}

	// The end: everything deleted, nothing with our tags left.
	if err := deleteGateways(ctx, ns, converge); err != nil {
		t.Fatal(err)
	}
	c, err := readCloud(ctx, direct)
	must(t, err)
	if err := c.check(cluster, nil); err != nil {
		t.Errorf("after the Gateways' deletion, the cloud holds %s:\n%v", c.summary(), err)
	}
	counts := proxy.Counts()
	var writes []string
	for _, op := range sortedKeys(counts.Requests) {
		if isWrite(op) {
			writes = append(writes, fmt.Sprintf("%s=%d", op, counts.Requests[op]))
		}
	}
	t.Logf("calls through the proxy: %d, of which writes: %s", localstack.Total(counts.Requests), strings.Join(writes, " "))
	if bytes.Contains([]byte(proc.tail(200)), []byte("panic:")) {
		t.Errorf("the controller panicked:\n%s", proc.tail(60))
	}
}

func objectMeta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name}
}
