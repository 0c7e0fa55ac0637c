package gcpfaults

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/gcp"
	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
	"github.com/cloudgate-dev/cloudgate/test/harness"
)

// callCounts counts by key ("method outcome"), safely across goroutines.
type callCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func newCallCounts() *callCounts { return &callCounts{n: map[string]int{}} }

func (c *callCounts) record(op, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[op+" "+outcome]++
}

func (c *callCounts) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// failed is what the provider saw fail after its retries.
func (c *callCounts) failed() map[string]int {
	out := map[string]int{}
	for k, v := range c.snapshot() {
		if !strings.HasSuffix(k, " "+gcp.OutcomeSuccess) {
			out[k] = v
		}
	}
	return out
}

// startController runs the controller in this process (test/harness)
// with the GCP provider built as cmd/cloudgate builds it (its default
// retries), against srv. stop stops it; the test's end stops it too.
func startController(t *testing.T, srv *gcptest.Server, cluster string, calls *callCounts) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ctl, err := harness.Start(ctx, suite.rest, harness.Config{ClusterName: cluster, NewProvider: func() (providers.Provider, error) {
		return gcp.New(ctx, gcp.Config{Project: project, Region: region, Endpoint: srv.URL(), WithoutAuthentication: true, CountCall: calls.record})
	}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctl.Stop()
			cancel()
		})
	}
	t.Cleanup(stop)
	return stop
}

// lossyMethods are the writes whose answers the double loses: the insert
// and delete of every kind the provider writes, and the endpoint attach
// and detach (the retried call finds its change made).
var lossyMethods = []string{"compute.networkEndpointGroups.attachNetworkEndpoints", "compute.networkEndpointGroups.detachNetworkEndpoints"}

func init() {
	for _, r := range []string{"regionHealthChecks", "networkEndpointGroups", "regionBackendServices", "regionUrlMaps", "regionSslCertificates",
		"regionTargetHttpProxies", "regionTargetHttpsProxies", "addresses", "forwardingRules"} {
		lossyMethods = append(lossyMethods, "compute."+r+".insert", "compute."+r+".delete")
	}
}

// faultTally counts, from a hook, the calls the double answered with a
// fault: 500s are the lost answers (the change was made), 429s and 503s
// were refused before being served.
type faultTally struct {
	mu      sync.Mutex
	calls   int
	lost    map[string]int
	refused map[string]int
}

func (f *faultTally) after(c gcptest.Call) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	switch c.Code {
	case http.StatusInternalServerError:
		f.lost[strings.TrimPrefix(c.Method, "compute.")]++
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		f.refused[fmt.Sprintf("%s(%d)", strings.TrimPrefix(c.Method, "compute."), c.Code)]++
	}
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// gcpRun is one run of the test's Gateways against a double: it creates
// them, waits until they converge, and returns the double's graph then.
type gcpRun struct {
	name  string
	srv   *gcptest.Server
	calls *callCounts
	took  time.Duration
}

// TestGatewaysConvergeUnderThrottlingAndServerErrors: with about 20% of
// the calls answered with 429, 500 or 503 (8% of the inserts, deletes,
// endpoint attaches and detaches after they took effect), every Gateway is Programmed with all its
// routes accepted, and the double then holds exactly what a fault-free
// run of the same Gateways left in another double: the same resources
// under the same names (up to the Gateways' UIDs), the same URL maps, the
// same endpoints, no duplicate; after the Gateways are deleted, nothing
// of theirs is left.
func TestGatewaysConvergeUnderThrottlingAndServerErrors(t *testing.T) {
	const (
		gateways = 6
		seed     = 20261202
		cluster  = "faults-throttle"
		deadline = 90 * time.Second
	)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// converge creates the Gateways in a new namespace with the class of
	// run, starts a controller on srv once they all exist (so that every
	// Gateway's first plan sees all its routes, and a URL map's rule
	// priorities do not depend on when the routes came), and waits for
	// them. It returns the namespace and the controller's stop.
	converge := func(r *gcpRun, class string) (string, func()) {
		ns := namespace(t, ctx, class)
		for i, name := range []string{"svc-a", "svc-b", "svc-c"} {
			service(t, ctx, ns, name, i+1)
		}
		certSecret(t, ctx, ns)
		for i := range gateways {
			gw := fmt.Sprintf("gw-%d", i)
			must(t, suite.c.Create(ctx, gateway(ns, gw, class, true)))
			must(t, suite.c.Create(ctx, httpRoute(ns, gw+"-ab", gw, []routeRule{{"/a", "svc-a"}, {"/b", "svc-b"}})))
			must(t, suite.c.Create(ctx, httpRoute(ns, gw+"-c", gw, []routeRule{{"/c", "svc-c"}})))
		}
		start := time.Now()
		stop := startController(t, r.srv, cluster, r.calls)
		_, err := eventually(deadline, func() error {
			uids, err := k8sConverged(ctx, ns, nil)
			if err != nil {
				return err
			}
			if len(uids) != gateways {
				return fmt.Errorf("%d Gateways, want %d", len(uids), gateways)
			}
			return nil
		})
		if err != nil {
			logEvents(t, ctx, ns)
			t.Fatalf("%s: the Gateways did not converge: %v", r.name, err)
		}
		r.took = time.Since(start)
		return ns, stop
	}
	// graph reads the double's graph and fails on duplicates and on
	// objects without our record.
	graph := func(r *gcpRun) map[string]string {
		g, dups, err := readCloud(r.srv.Double()).graph(cluster)
		must(t, err)
		for _, d := range dups {
			t.Errorf("%s: duplicate %s", r.name, d)
		}
		return g
	}
	// gone deletes the Gateways and checks that the double holds nothing
	// but its seeded subnetwork.
	gone := func(r *gcpRun, ns string) time.Duration {
		start := time.Now()
		if err := deleteGateways(ctx, ns, deadline); err != nil {
			logEvents(t, ctx, ns)
			t.Fatalf("%s: %v", r.name, err)
		}
		took := time.Since(start)
		c := readCloud(r.srv.Double())
		if objs, err := c.ours(cluster); err != nil || len(objs) > 0 {
			t.Errorf("%s: after the Gateways' deletion, the double holds %s: %v %v", r.name, c.summary(), objs, err)
		}
		if refs := r.srv.Double().Refs(); len(refs) != 1 {
			t.Errorf("%s: after the Gateways' deletion, the double holds %v, want the seeded subnetwork only", r.name, refs)
		}
		return took
	}

	dctx, dcancel := context.WithCancel(ctx)
	defer dcancel()
	refSrv, err := startDouble(dctx, gcptest.Config{})
	must(t, err)
	ref := &gcpRun{name: "fault-free run", srv: refSrv, calls: newCallCounts()}
	refNS, stop := converge(ref, "gcp-faults-reference")
	want := graph(ref)
	refSummary := readCloudSummary(ref)
	refGone := gone(ref, refNS)
	stop() // the next run's controller must be the only one
	t.Logf("fault-free run: %d Gateways Programmed in %v (%s), deleted in %v, %d calls",
		gateways, ref.took.Round(time.Millisecond), refSummary, refGone.Round(time.Millisecond), total(ref.calls.snapshot()))

	srv, err := startDouble(dctx, gcptest.Config{Seed: seed})
	must(t, err)
	d := srv.Double()
	tally := &faultTally{lost: map[string]int{}, refused: map[string]int{}}
	d.AddHook(gcptest.Hook{After: tally.after})
	// Lost answers first: the first fault that matches a call answers it.
	for _, m := range lossyMethods {
		must(t, d.InjectFault(gcptest.Fault{Code: http.StatusInternalServerError, Method: m, Fraction: 0.08, AfterApply: true}))
	}
	must(t, d.InjectFault(gcptest.Fault{Code: http.StatusTooManyRequests, Fraction: 0.08}))
	must(t, d.InjectFault(gcptest.Fault{Code: http.StatusServiceUnavailable, Fraction: 0.08}))
	faulted := &gcpRun{name: "run under faults", srv: srv, calls: newCallCounts()}
	ns, _ := converge(faulted, "gcp-faults-throttle")
	t.Logf("run under faults: %d Gateways Programmed, all routes accepted, in %v", gateways, faulted.took.Round(time.Millisecond))
	// The status is written after the apply that made it true: the
	// double must match already, not eventually.
	got := graph(faulted)
	if err := diffGraphs(want, got); err != nil {
		t.Errorf("after convergence under faults, the double differs from the fault-free run's:\n%v", err)
	}
	t.Logf("double after convergence: %s", readCloudSummary(faulted))
	took := gone(faulted, ns)
	t.Logf("all deleted in %v under faults", took.Round(time.Millisecond))

	tally.mu.Lock()
	defer tally.mu.Unlock()
	lost, refused := total(tally.lost), total(tally.refused)
	t.Logf("double: %d calls, %d answered with a fault (%.1f%%): %d refused before being served, %d lost answers after the change",
		tally.calls, lost+refused, 100*float64(lost+refused)/float64(tally.calls), refused, lost)
	t.Logf("lost answers by method: %s", formatCounts(tally.lost))
	t.Logf("refused by method: %s", formatCounts(tally.refused))
	t.Logf("calls that failed for the provider after its retries: %s", formatCounts(faulted.calls.failed()))
	lostInserts := 0
	for m, n := range tally.lost {
		if strings.HasSuffix(m, ".insert") {
			lostInserts += n
		}
	}
	if refused == 0 || lostInserts == 0 {
		t.Errorf("the double refused %d calls and lost %d answers (%v): the test proved nothing", refused, lost, tally.lost)
	}
}

func readCloudSummary(r *gcpRun) string { return readCloud(r.srv.Double()).summary() }

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
