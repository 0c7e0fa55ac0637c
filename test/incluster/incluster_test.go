package incluster_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/reconciler"
	"github.com/cloudgate-dev/cloudgate/test/controlplane"
	"github.com/cloudgate-dev/cloudgate/test/harness"
	"github.com/cloudgate-dev/cloudgate/test/localcluster"
)

const (
	// imageRepository is the chart's image; the process kubelet maps it to
	// the controller binary this test builds.
	imageRepository = "ghcr.io/cloudgate-dev/cloudgate"
	releaseName     = "cloudgate"
	releaseNS       = "cloudgate-system"
	// leaseName is the controller's leader-election Lease.
	leaseName = "cloudgate.dev"
	// leaseDuration is the chart's default; the failover bound below is
	// this plus the time a reconcile and a first request take.
	leaseDuration = 15 * time.Second
	failoverSlack = 10 * time.Second
)

func TestHelmInstall(t *testing.T) {
	// Pods of local clusters share /var/run/secrets with every other
	// package's clusters: one at a time.
	harness.LockHost(t, "pod-secrets")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := buildController(t, root)
	cloudURL, cloudAddr := startEmulatedCloud(t, bin)

	cluster, err := localcluster.Start(ctx, localcluster.Config{
		Root:         root,
		Progress:     testWriter{t},
		Images:       map[string]string{imageRepository: bin},
		HostForwards: []string{cloudAddr},
	})
	if err != nil {
		t.Fatalf("starting the local cluster: %v", err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })

	scheme, err := reconciler.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cluster.REST, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}

	helmCfg := helmConfig(t, cluster.Kubeconfig)
	values := map[string]any{
		"image":       map[string]any{"repository": imageRepository, "tag": "test", "pullPolicy": "Never"},
		"providers":   []any{"emulated"},
		"clusterName": "incluster-test",
		"emulated":    map[string]any{"endpoint": cloudURL},
		"logLevel":    "info",
	}
	install := action.NewInstall(helmCfg)
	install.ReleaseName, install.Namespace, install.CreateNamespace = releaseName, releaseNS, true
	install.Wait, install.Timeout = true, 3*time.Minute
	chrt, err := loader.Load(filepath.Join(root, "deploy", "helm", "cloudgate"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := install.RunWithContext(ctx, chrt, values); err != nil {
		dumpPods(t, c, cluster)
		t.Fatalf("helm install: %v", err)
	}
	t.Logf("helm install (waiting for the Deployment to be available): %v", time.Since(start).Round(time.Millisecond))

	pods := controllerPods(ctx, t, c)
	if len(pods) != 2 {
		t.Fatalf("the chart runs %d controller Pods, want 2", len(pods))
	}
	for _, p := range pods {
		checkInClusterIdentity(t, p)
	}

	// The dev sample: a GatewayClass, a Gateway, an echo Deployment and an
	// HTTPRoute, applied as a user would.
	applyFile(ctx, t, c, filepath.Join(root, "deploy", "examples", "dev.yaml"))
	gwKey := client.ObjectKey{Namespace: "default", Name: "demo"}
	addr := waitProgrammed(ctx, t, c, gwKey)
	waitServes(ctx, t, "http://"+addr+"/", http.StatusOK, 60*time.Second)
	// Events are written with the ServiceAccount's RBAC too.
	waitEvent(ctx, t, c, gwKey, "LoadBalancerCreated")

	leader, holder := waitLeader(ctx, t, c, pods)
	t.Logf("leader: Pod %s (Lease holder %s)", leader.Name, holder)
	// controller-runtime names the holder after the hostname, which the
	// kubelet sets to the Pod's name: the Lease and /metrics agree.
	if !strings.HasPrefix(holder, leader.Name+"_") {
		t.Errorf("the Lease holder %q is not the Pod %s that says it leads", holder, leader.Name)
	}

	t.Run("metrics", func(t *testing.T) {
		m := scrape(t, leader)
		checks := []struct {
			family string
			labels map[string]string
		}{
			{"controller_runtime_reconcile_total", map[string]string{"controller": "gateway"}},
			{"cloudgate_cloud_api_calls_total", map[string]string{"provider": "emulated", "outcome": "success"}},
			{"leader_election_master_status", map[string]string{"name": leaseName}},
		}
		for _, c := range checks {
			if v := sum(m, c.family, c.labels); v <= 0 {
				t.Errorf("/metrics of the leader %s: %s%v sums to %v, want > 0", leader.Name, c.family, c.labels, v)
			}
		}
		t.Logf("leader's /metrics: %v Gateway reconciles, %v emulated cloud API calls",
			sum(m, "controller_runtime_reconcile_total", map[string]string{"controller": "gateway"}),
			sum(m, "cloudgate_cloud_api_calls_total", map[string]string{"provider": "emulated"}))
	})

	t.Run("failover", func(t *testing.T) {
		before := listLoadBalancers(t, cloudURL)
		if len(before) != 1 {
			t.Fatalf("the emulated cloud holds %d load balancers before the kill, want 1: %v", len(before), before)
		}
		pid := containerPID(t, leader)
		killed := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("SIGKILL the leader's process %d: %v", pid, err)
		}
		// A route change after the kill: requests to /after-kill go to a
		// path the echo server reports back, through a URL rewrite the old
		// route did not have.
		changeRoute(ctx, t, c)
		served := waitServesPath(ctx, t, "http://"+addr+"/after-kill", "/rewritten", leaseDuration+failoverSlack+30*time.Second)
		took := served.Sub(killed)
		t.Logf("failover: the route changed after SIGKILL of the leader was served %v after the kill (lease duration %v)", took.Round(time.Millisecond), leaseDuration)
		if took > leaseDuration+failoverSlack {
			t.Errorf("failover took %v, more than the lease duration %v plus %v", took, leaseDuration, failoverSlack)
		}
		var lease coordinationv1.Lease
		if err := c.Get(ctx, client.ObjectKey{Namespace: releaseNS, Name: leaseName}, &lease); err != nil {
			t.Fatal(err)
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == holder {
			t.Errorf("the Lease is still held by the killed leader %s", holder)
		}
		after := listLoadBalancers(t, cloudURL)
		if len(after) != 1 || after[0] != before[0] {
			t.Errorf("load balancers after failover: %v, want exactly the one from before (%v)", after, before)
		}
	})

	t.Run("uninstall", func(t *testing.T) {
		gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: gwKey.Namespace, Name: gwKey.Name}}
		if err := c.Delete(ctx, gw); err != nil {
			t.Fatal(err)
		}
		waitGone(ctx, t, c, gw)
		if lbs := listLoadBalancers(t, cloudURL); len(lbs) != 0 {
			t.Errorf("load balancers after the Gateway was deleted: %v", lbs)
		}
		uninstall := action.NewUninstall(helmCfg)
		uninstall.Wait, uninstall.Timeout = true, 2*time.Minute
		if _, err := uninstall.Run(releaseName); err != nil {
			t.Fatalf("helm uninstall: %v", err)
		}
		var left corev1.PodList
		if err := c.List(ctx, &left, client.InNamespace(releaseNS)); err != nil {
			t.Fatal(err)
		}
		if n := len(left.Items); n != 0 {
			// Pods of a deleted Deployment go through graceful deletion;
			// helm's wait covers the Deployment, not its Pods.
			waitNoPods(ctx, t, c)
		}
	})
}

// buildController builds the controller binary the image holds, into a
// directory the image's non-root user can read.
func buildController(t *testing.T, root string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cloudgate-incluster-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "cloudgate")
	// Default flags, as go test compiles the packages, so that the build
	// reuses them; the image's static build (deploy/image) is the same code
	// compiled once more, which its own test checks.
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/cloudgate")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/cloudgate: %v\n%s", err, out)
	}
	return bin
}

// startEmulatedCloud runs `cloudgate emulated-cloud` on a free loopback
// port and returns its URL and host:port.
func startEmulatedCloud(t *testing.T, bin string) (url, addr string) {
	t.Helper()
	rng := fmt.Sprintf("127.%d.0.0/16", 140+os.Getpid()%20)
	cmd := exec.Command(bin, "emulated-cloud", "--listen", "127.0.0.1:0", "--address-range", rng)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testWriter{t}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		// "Emulated cloud API on http://127.0.0.1:PORT, ..."
		if _, rest, ok := strings.Cut(lines.Text(), "API on "); ok {
			url, _, _ = strings.Cut(rest, ",")
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return url, strings.TrimPrefix(url, "http://")
		}
	}
	t.Fatalf("cloudgate emulated-cloud printed no URL: %v", lines.Err())
	return "", ""
}

func helmConfig(t *testing.T, kubeconfig string) *action.Configuration {
	t.Helper()
	ns := releaseNS
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = &kubeconfig, &ns
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, releaseNS, "secret", func(format string, v ...any) { t.Logf("helm: "+format, v...) }); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func controllerPods(ctx context.Context, t *testing.T, c client.Client) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(releaseNS), client.MatchingLabels{"app.kubernetes.io/name": "cloudgate"}); err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

// checkInClusterIdentity checks that the Pod runs as the chart's
// ServiceAccount, whose token the process kubelet projected.
func checkInClusterIdentity(t *testing.T, p corev1.Pod) {
	t.Helper()
	if p.Spec.ServiceAccountName != releaseName {
		t.Errorf("Pod %s runs as ServiceAccount %q, want %q", p.Name, p.Spec.ServiceAccountName, releaseName)
	}
	projected := false
	for _, v := range p.Spec.Volumes {
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				projected = projected || s.ServiceAccountToken != nil
			}
		}
	}
	if !projected {
		t.Errorf("Pod %s has no projected ServiceAccount token volume", p.Name)
	}
}

func waitLeader(ctx context.Context, t *testing.T, c client.Client, pods []corev1.Pod) (corev1.Pod, string) {
	t.Helper()
	deadline := time.Now().Add(leaseDuration + failoverSlack)
	for time.Now().Before(deadline) {
		var lease coordinationv1.Lease
		if err := c.Get(ctx, client.ObjectKey{Namespace: releaseNS, Name: leaseName}, &lease); err == nil && lease.Spec.HolderIdentity != nil {
			var leaders []corev1.Pod
			for _, p := range pods {
				if sum(scrape(t, p), "leader_election_master_status", map[string]string{"name": leaseName}) > 0 {
					leaders = append(leaders, p)
				}
			}
			if len(leaders) > 1 {
				t.Fatalf("%d replicas say they lead", len(leaders))
			}
			if len(leaders) == 1 {
				return leaders[0], *lease.Spec.HolderIdentity
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("no replica leads")
	return corev1.Pod{}, ""
}

// scrape reads a Pod's /metrics (the chart's metrics port); a Pod that does
// not answer has no metrics.
func scrape(t *testing.T, p corev1.Pod) map[string]*dto.MetricFamily {
	t.Helper()
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + p.Status.PodIP + ":8080/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Errorf("parsing /metrics of %s: %v", p.Name, err)
	}
	return families
}

// sum adds the values of family's counters and gauges whose labels include
// labels.
func sum(families map[string]*dto.MetricFamily, family string, labels map[string]string) float64 {
	f, ok := families[family]
	if !ok {
		return 0
	}
	total := 0.0
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range labels {
			match = match && have[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		}
	}
	return total
}

// containerPID is the host pid of the Pod's controller process: the process
// kubelet's container ids are process://PID.
func containerPID(t *testing.T, p corev1.Pod) int {
	t.Helper()
	for _, cs := range p.Status.ContainerStatuses {
		if pid, ok := strings.CutPrefix(cs.ContainerID, "process://"); ok {
			n, err := strconv.Atoi(pid)
			if err == nil {
				return n
			}
		}
	}
	t.Fatalf("Pod %s has no process container id: %+v", p.Name, p.Status.ContainerStatuses)
	return 0
}

func listLoadBalancers(t *testing.T, cloudURL string) []string {
	t.Helper()
	resp, err := http.Get(cloudURL + "/v1/loadbalancers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatalf("decoding the emulated cloud's load balancer list: %v", err)
	}
	var ids []string
	for _, lb := range list.Items {
		ids = append(ids, lb.ID)
	}
	return ids
}

func waitProgrammed(ctx context.Context, t *testing.T, c client.Client, key client.ObjectKey) string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		var gw gwv1.Gateway
		if err := c.Get(ctx, key, &gw); err == nil && meta.IsStatusConditionTrue(gw.Status.Conditions, string(gwv1.GatewayConditionProgrammed)) && len(gw.Status.Addresses) > 0 {
			return gw.Status.Addresses[0].Value
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("Gateway %s is not Programmed", key)
	return ""
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// changeRoute adds a rule to the sample's HTTPRoute: /after-kill is
// rewritten to /rewritten, which the echo server reports back.
func changeRoute(ctx context.Context, t *testing.T, c client.Client) {
	t.Helper()
	var route gwv1.HTTPRoute
	if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "echo"}, &route); err != nil {
		t.Fatal(err)
	}
	prefix := gwv1.PathMatchPathPrefix
	value := "/after-kill"
	rewritten := "/rewritten"
	rule := route.Spec.Rules[0].DeepCopy()
	rule.Matches = []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: &prefix, Value: &value}}}
	rule.Filters = []gwv1.HTTPRouteFilter{{
		Type: gwv1.HTTPRouteFilterURLRewrite,
		URLRewrite: &gwv1.HTTPURLRewriteFilter{Path: &gwv1.HTTPPathModifier{
			Type: gwv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: &rewritten,
		}},
	}}
	route.Spec.Rules = append(route.Spec.Rules, *rule)
	if err := c.Update(ctx, &route); err != nil {
		t.Fatalf("changing the route: %v", err)
	}
}

// waitServes waits until url answers status.
func waitServes(ctx context.Context, t *testing.T, url string, status int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		code, body, err := get(ctx, url)
		if err == nil && code == status {
			return
		}
		last = fmt.Sprintf("%d %s %v", code, body, err)
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s does not answer %d: last answer %s", url, status, last)
}

// waitServesPath waits until url reaches the echo backend with the path
// wantPath, and returns when it first did.
func waitServesPath(ctx context.Context, t *testing.T, url, wantPath string, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		code, body, err := get(ctx, url)
		if err == nil && code == http.StatusOK {
			var echo struct {
				Path string `json:"path"`
			}
			if json.Unmarshal(body, &echo) == nil && echo.Path == wantPath {
				return time.Now()
			}
		}
		last = fmt.Sprintf("%d %s %v", code, body, err)
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never reached the backend as %s: last answer %s", url, wantPath, last)
	return time.Time{}
}

func get(ctx context.Context, url string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// waitEvent waits for an Event of reason about the Gateway.
func waitEvent(ctx context.Context, t *testing.T, c client.Client, gw client.ObjectKey, reason string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var list eventsv1.EventList
		if err := c.List(ctx, &list, client.InNamespace(gw.Namespace)); err == nil {
			for _, e := range list.Items {
				if e.Regarding.Kind == "Gateway" && e.Regarding.Name == gw.Name && e.Reason == reason {
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("no %s Event on Gateway %s: the controller could not write Events", reason, gw)
}

func waitGone(ctx context.Context, t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s %s is still there: its finalizer was not removed", obj.GetObjectKind().GroupVersionKind().Kind, client.ObjectKeyFromObject(obj))
}

func waitNoPods(ctx context.Context, t *testing.T, c client.Client) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(releaseNS)); err == nil && len(pods.Items) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("the controller's Pods are still there after helm uninstall")
}

// dumpPods logs the controller Pods' states and logs, to say why an install
// did not become ready.
func dumpPods(t *testing.T, c client.Client, cluster *localcluster.Cluster) {
	t.Helper()
	var pods corev1.PodList
	if err := c.List(context.Background(), &pods, client.InNamespace(releaseNS)); err != nil {
		t.Logf("listing Pods: %v", err)
		return
	}
	for _, p := range pods.Items {
		t.Logf("Pod %s: phase %s, conditions %+v, containers %+v", p.Name, p.Status.Phase, p.Status.Conditions, p.Status.ContainerStatuses)
		for _, ctr := range p.Spec.Containers {
			if b, err := os.ReadFile(cluster.LogPath(p.Namespace, p.Name, ctr.Name)); err == nil {
				t.Logf("logs of %s/%s:\n%s", p.Name, ctr.Name, tail(string(b), 40))
			}
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func applyFile(ctx context.Context, t *testing.T, c client.Client, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			t.Fatalf("%s: %v", path, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if err := c.Create(ctx, &u); err != nil {
			t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}
