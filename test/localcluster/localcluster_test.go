package localcluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

const testNS = "localcluster-test"

// TestCluster runs one cluster through the life of a conformance backend:
// a Deployment of the echo server behind a Service, scaled down and deleted,
// plus the Pods that must not become Ready.
func TestCluster(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the local cluster needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("the local cluster needs the ip command")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	start := time.Now()
	c, err := Start(ctx, Config{
		Progress: testWriter{t},
		Log:      testWriter{t},
		Images:   map[string]string{"test.local/false": "/bin/false", "test.local/sh": "/bin/sh"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	t.Logf("cluster started in %s", time.Since(start).Round(time.Millisecond))
	client := kubernetes.NewForConfigOrDie(c.REST)
	// The kubeconfig and kubectl are what `make dev` users get.
	out, err := exec.CommandContext(ctx, c.cp.BinDir+"/kubectl", "--kubeconfig", c.Kubeconfig, "get", "nodes", "-o", "name").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "node/"+c.NodeName {
		t.Errorf("kubectl get nodes: %s, %v", out, err)
	}

	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM := selfSigned(t)
	if _, err := client.CoreV1().Secrets(testNS).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "echo-tls"},
		Data:       map[string][]byte{"crt": certPEM, "key": keyPEM},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.AppsV1().Deployments(testNS).Create(ctx, echoDeployment(2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Services(testNS).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "echo"},
			Ports:    []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(3000)}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	podStart := time.Now()
	pods := waitReadyPods(t, ctx, client, 2)
	t.Logf("2 Pods Ready in %s", time.Since(podStart).Round(time.Millisecond))
	waitEndpoints(t, ctx, client, pods)
	t.Logf("EndpointSlice has both Pods %s after creating the Deployment", time.Since(podStart).Round(time.Millisecond))

	for _, p := range pods {
		checkEcho(t, p)
		if p.Spec.NodeName != c.NodeName || p.Status.HostIP == "" || len(p.Status.ContainerStatuses) != 1 {
			t.Errorf("Pod %s: node %q, hostIP %q, %d container statuses", p.Name, p.Spec.NodeName, p.Status.HostIP, len(p.Status.ContainerStatuses))
		}
		cs := p.Status.ContainerStatuses[0]
		if cs.State.Running == nil || cs.ContainerID == "" || !strings.Contains(cs.ImageID, "sha256:") {
			t.Errorf("Pod %s container status %+v", p.Name, cs)
		}
	}
	if data, err := os.ReadFile(c.LogPath(testNS, pods[0].Name, "echo")); err != nil || len(data) == 0 {
		t.Errorf("container log of %s: %q, %v", pods[0].Name, data, err)
	}
	t.Run("Pod logs through the apiserver", func(t *testing.T) { testPodLogs(t, ctx, c, client, pods[0]) })
	t.Run("previous run's logs", func(t *testing.T) { testPreviousLogs(t, ctx, client) })

	t.Run("scale down removes processes and namespaces", func(t *testing.T) {
		before := runtimes(c)
		scale(t, ctx, client, 1)
		left := waitReadyPods(t, ctx, client, 1)
		waitGone(t, ctx, client, len(left))
		for name, r := range before {
			if name == left[0].Name {
				continue
			}
			checkRemoved(t, name, r)
		}
	})

	t.Run("the conformance coredns Pod becomes Ready", func(t *testing.T) {
		// As in the suite's base manifests: the Corefile comes from a
		// ConfigMap volume mounted at /root and named in args.
		if _, err := client.CoreV1().ConfigMaps(testNS).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "coredns"},
			Data:       map[string]string{"Corefile": ".:53 {\n    log\n    errors\n    whoami\n}\n"},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pod, err := client.CoreV1().Pods(testNS).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "coredns"},
			Spec: corev1.PodSpec{
				Containers: []corev1.Container{{
					Name:         "coredns",
					Image:        "registry.k8s.io/coredns/coredns:v1.12.2",
					Args:         []string{"-conf", "/root/Corefile"},
					VolumeMounts: []corev1.VolumeMount{{Name: "conf", MountPath: "/root"}},
				}},
				Volumes: []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "coredns"},
				}}}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := waitPod(t, ctx, client, pod.Name, isReady)
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "udp", net.JoinHostPort(got.Status.PodIP, "53"))
		}}
		// whoami answers any name, with the client's address in the
		// additional section, which Go's resolver reads as "no such host":
		// that is an answer; a timeout or refusal is not.
		var dnsErr *net.DNSError
		if _, err := r.LookupHost(ctx, "anything.example."); err != nil && (!errors.As(err, &dnsErr) || !dnsErr.IsNotFound) {
			t.Errorf("DNS query to the coredns Pod: %v", err)
		}
		deleteAndWait(t, ctx, client, pod.Name)
	})

	t.Run("unknown image stays not Ready with the reason", func(t *testing.T) {
		pod, err := client.CoreV1().Pods(testNS).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "unknown-image"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.com/no-such-image:v1"}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := waitPod(t, ctx, client, pod.Name, func(p *corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
				p.Status.ContainerStatuses[0].State.Waiting.Reason == "ImageNotRunnable"
		})
		if got.Status.Phase != corev1.PodPending || isReady(got) || got.Status.PodIP != "" {
			t.Errorf("phase %s, ready %v, podIP %q", got.Status.Phase, isReady(got), got.Status.PodIP)
		}
		if msg := got.Status.ContainerStatuses[0].State.Waiting.Message; !strings.Contains(msg, "example.com/no-such-image:v1") {
			t.Errorf("message %q does not name the image", msg)
		}
		deleteAndWait(t, ctx, client, pod.Name)
	})

	t.Run("crashing container restarts with back-off", func(t *testing.T) {
		pod, err := client.CoreV1().Pods(testNS).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "crasher"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "test.local/false"}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := waitPod(t, ctx, client, pod.Name, func(p *corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
		})
		cs := got.Status.ContainerStatuses[0]
		if last := cs.LastTerminationState.Terminated; last == nil || last.ExitCode != 1 {
			t.Errorf("last termination %+v, want exit code 1", cs.LastTerminationState)
		}
		if isReady(got) || got.Status.Phase != corev1.PodRunning {
			t.Errorf("phase %s, ready %v", got.Status.Phase, isReady(got))
		}
		deleteAndWait(t, ctx, client, pod.Name)
	})

	t.Run("deleting the Deployment removes everything", func(t *testing.T) {
		before := runtimes(c)
		if err := client.AppsV1().Deployments(testNS).Delete(ctx, "echo", metav1.DeleteOptions{PropagationPolicy: new(metav1.DeletePropagationForeground)}); err != nil {
			t.Fatal(err)
		}
		waitGone(t, ctx, client, 0)
		for name, r := range before {
			checkRemoved(t, name, r)
		}
	})

	if err := c.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	checkNothingLeft(t)
}

// runtime is what the test knows of a running Pod to check its removal.
type runtime struct {
	netns string
	pids  []int
}

func runtimes(c *Cluster) map[string]runtime {
	k := c.kubelet
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string]runtime{}
	for key, rt := range k.pods {
		rt.mu.Lock()
		var r runtime
		if rt.host != nil {
			r.netns = rt.host.Name
		}
		for _, ct := range rt.containers {
			ct.mu.Lock()
			r.pids = append(r.pids, ct.pid)
			ct.mu.Unlock()
		}
		rt.mu.Unlock()
		_, name, _ := strings.Cut(key, "/")
		out[name] = r
	}
	return out
}

func checkRemoved(t *testing.T, pod string, r runtime) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []string
		if _, err := os.Stat("/run/netns/" + r.netns); r.netns != "" && err == nil {
			left = append(left, "network namespace "+r.netns)
		}
		for _, pid := range r.pids {
			if syscall.Kill(pid, 0) != syscall.ESRCH && !zombie(pid) {
				left = append(left, fmt.Sprintf("process %d", pid))
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("Pod %s is gone but these are left: %s", pod, strings.Join(left, ", "))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func zombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && strings.Contains(string(data), ") Z ")
}

// checkNothingLeft looks for this process's namespaces, processes and
// directories after Stop.
func checkNothingLeft(t *testing.T) {
	t.Helper()
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), fmt.Sprintf("cgtest-%d-", os.Getpid())) {
			t.Errorf("network namespace %s left after Stop", e.Name())
		}
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		env, err := os.ReadFile("/proc/" + p.Name() + "/environ")
		if err != nil {
			continue
		}
		if owner, ok := ownerOf(env); ok && owner == os.Getpid() {
			if pid, err := strconv.Atoi(p.Name()); err == nil && !zombie(pid) {
				t.Errorf("process %s left after Stop", p.Name())
			}
		}
	}
	dirs, _ := os.ReadDir(os.TempDir())
	for _, d := range dirs {
		if strings.HasPrefix(d.Name(), fmt.Sprintf("%s%d-", stateDirPrefix, os.Getpid())) {
			t.Errorf("directory %s left after Stop", d.Name())
		}
	}
}

func echoDeployment(replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": "echo"}
	field := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: new(int64(5)),
					Containers: []corev1.Container{{
						Name:  "echo",
						Image: "cloudgate.dev/echo:latest",
						// As the conformance TLS backends: names from the
						// downward API, certificate paths under a Secret
						// volume's mountPath.
						Env: []corev1.EnvVar{
							{Name: "POD_NAME", ValueFrom: field("metadata.name")},
							{Name: "NAMESPACE", ValueFrom: field("metadata.namespace")},
							{Name: "TLS_SERVER_CERT", Value: "/etc/secret-volume/crt"},
							{Name: "TLS_SERVER_PRIVKEY", Value: "/etc/secret-volume/key"},
						},
						VolumeMounts: []corev1.VolumeMount{{Name: "tls", MountPath: "/etc/secret-volume"}},
					}},
					Volumes: []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "echo-tls"}}}},
				},
			},
		},
	}
}

func scale(t *testing.T, ctx context.Context, client kubernetes.Interface, n int32) {
	t.Helper()
	s, err := client.AppsV1().Deployments(testNS).GetScale(ctx, "echo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Spec.Replicas = n
	if _, err := client.AppsV1().Deployments(testNS).UpdateScale(ctx, "echo", s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitReadyPods waits until exactly n echo Pods exist, all Ready with an IP.
func waitReadyPods(t *testing.T, ctx context.Context, client kubernetes.Interface, n int) []corev1.Pod {
	t.Helper()
	var last string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		list, err := client.CoreV1().Pods(testNS).List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
		if err != nil {
			t.Fatal(err)
		}
		var ready []corev1.Pod
		for _, p := range list.Items {
			if isReady(&p) && p.Status.PodIP != "" && len(p.Status.PodIPs) == 1 && p.DeletionTimestamp == nil {
				ready = append(ready, p)
			}
		}
		if len(ready) == n && len(list.Items) == n {
			return ready
		}
		last = fmt.Sprintf("%d Pods, %d Ready", len(list.Items), len(ready))
	}
	t.Fatalf("waiting for %d Ready echo Pods: %s", n, last)
	return nil
}

func waitGone(t *testing.T, ctx context.Context, client kubernetes.Interface, n int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		list, err := client.CoreV1().Pods(testNS).List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) == n {
			return
		}
	}
	t.Fatalf("echo Pods did not go down to %d", n)
}

func waitEndpoints(t *testing.T, ctx context.Context, client kubernetes.Interface, pods []corev1.Pod) {
	t.Helper()
	var want []string
	for _, p := range pods {
		want = append(want, p.Status.PodIP)
	}
	slices.Sort(want)
	var got []string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		slicesList, err := client.DiscoveryV1().EndpointSlices(testNS).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=echo"})
		if err != nil {
			t.Fatal(err)
		}
		got = nil
		for _, s := range slicesList.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					got = append(got, e.Addresses...)
				}
			}
		}
		slices.Sort(got)
		if slices.Equal(got, want) {
			return
		}
	}
	t.Fatalf("EndpointSlice addresses %v, want %v", got, want)
}

// checkEcho asks the Pod's echo server over plain HTTP and over TLS with the
// certificate from the Secret volume.
func checkEcho(t *testing.T, p corev1.Pod) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, url := range []string{"http://" + p.Status.PodIP + ":3000/hello", "https://" + p.Status.PodIP + ":8443/hello"} {
		resp, err := client.Get(url)
		if err != nil {
			t.Errorf("GET %s: %v", url, err)
			continue
		}
		var body struct{ Path, Namespace, Pod string }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || body.Pod != p.Name || body.Namespace != testNS || body.Path != "/hello" {
			t.Errorf("GET %s: %+v, %v; want pod %s in %s", url, body, err, p.Name, testNS)
		}
	}
}

func waitPod(t *testing.T, ctx context.Context, client kubernetes.Interface, name string, ok func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var p *corev1.Pod
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var err error
		p, err = client.CoreV1().Pods(testNS).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ok(p) {
			return p
		}
	}
	t.Fatalf("Pod %s never got there; status %+v", name, p.Status)
	return nil
}

func deleteAndWait(t *testing.T, ctx context.Context, client kubernetes.Interface, name string) {
	t.Helper()
	if err := client.CoreV1().Pods(testNS).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := client.CoreV1().Pods(testNS).Get(ctx, name, metav1.GetOptions{}); err != nil {
			return
		}
	}
	t.Fatalf("Pod %s was not deleted", name)
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "echo.localcluster.test"},
		DNSNames:     []string{"echo.localcluster.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
