package localcluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/cloudgate-dev/cloudgate/test/harness"
)

// inclusterReport mirrors testdata/incluster's Report.
type inclusterReport struct {
	ConfigErr     string
	Host          string
	Namespace     string
	User          string
	BoundPod      []string
	ListConfigMap string
	ListSecrets   string
	SecretsDenied bool
	UID, GID      int
	Status        map[string]string
	WriteRoot     string
	WriteScratch  string
	WriteToken    string
	HostService   string
}

// saMountPath is where client-go's rest.InClusterConfig and
// controller-runtime look, whatever the Pod says.
const saMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// TestInCluster runs a program in a Pod the way a controller runs in a real
// cluster: its ServiceAccount's token and the cluster CA at the fixed paths,
// kube-apiserver at KUBERNETES_SERVICE_HOST:PORT with its real certificate,
// RBAC deciding what it may do, and its securityContext applied.
func TestInCluster(t *testing.T) {
	// Pods of local clusters share /var/run/secrets with every other
	// package's clusters: one at a time.
	harness.LockHost(t, "pod-secrets")
	if os.Geteuid() != 0 {
		t.Skip("the local cluster needs root for network namespaces")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// The program, built where any user may run it (runAsUser below).
	binDir, err := os.MkdirTemp("", "cloudgate-incluster-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(binDir) })
	if err := os.Chmod(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(binDir, "incluster")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./testdata/incluster").CombinedOutput(); err != nil {
		t.Fatalf("building testdata/incluster: %v\n%s", err, out)
	}

	// A service on the host's loopback that the Pod reaches through
	// Config.HostForwards at the same URL.
	hostL, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hostSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "from the host") })}
	go func() { _ = hostSrv.Serve(hostL) }()
	t.Cleanup(func() { _ = hostSrv.Close() })

	_, secretsBefore := os.Stat("/var/run/secrets")
	const customMount = "/cloudgate-localcluster-test/data"
	if _, err := os.Stat(filepath.Dir(customMount)); err == nil {
		t.Fatalf("%s exists before the test; the test checks that the cluster creates and removes it", filepath.Dir(customMount))
	}

	c, err := Start(ctx, Config{
		Progress:     testWriter{t},
		Log:          testWriter{t},
		Images:       map[string]string{"test.local/incluster": bin, "test.local/sh": "/bin/sh"},
		HostForwards: []string{hostL.Addr().String()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	client := kubernetes.NewForConfigOrDie(c.REST)

	const ns = "incluster-test"
	mustCreate(t, func() error {
		_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "configmap-reader"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"}}},
		}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "reader"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "configmap-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "reader", Namespace: ns}},
		}, metav1.CreateOptions{})
		return err
	})
	// The default ServiceAccount of the new namespace comes from
	// kube-controller-manager; Pods that use it wait for it.
	waitFor(t, ctx, "the default ServiceAccount in "+ns, func() bool {
		_, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})

	t.Run("a Pod runs with its ServiceAccount, RBAC and securityContext", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "reader"},
			Spec: corev1.PodSpec{
				ServiceAccountName: "reader",
				RestartPolicy:      corev1.RestartPolicyNever,
				SecurityContext: &corev1.PodSecurityContext{
					RunAsUser: new(int64(65532)), RunAsGroup: new(int64(65533)), RunAsNonRoot: new(true),
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
				Containers: []corev1.Container{{
					Name:  "c",
					Image: "test.local/incluster:v1",
					Env:   []corev1.EnvVar{{Name: "HOST_SERVICE", Value: "http://" + hostL.Addr().String() + "/"}},
					SecurityContext: &corev1.SecurityContext{
						ReadOnlyRootFilesystem:   new(true),
						AllowPrivilegeEscalation: new(false),
						Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					},
					VolumeMounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}},
				}},
				Volumes: []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			},
		}
		created, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !hasAPIAccessVolume(created) {
			t.Fatalf("the ServiceAccount admission plugin added no kube-api-access volume: %+v", created.Spec.Volumes)
		}
		waitPodIn(t, ctx, client, ns, pod.Name, func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
		})
		r := readReport(t, c.LogPath(ns, pod.Name, "c"))
		if r.ConfigErr != "" {
			t.Fatalf("rest.InClusterConfig: %s", r.ConfigErr)
		}
		checks := []struct {
			ok   bool
			what string
		}{
			{r.Namespace == ns, "the namespace file says " + r.Namespace},
			{r.User == "system:serviceaccount:"+ns+":reader", "authenticated as " + r.User},
			{len(r.BoundPod) == 1 && r.BoundPod[0] == pod.Name, fmt.Sprintf("the token is bound to Pod %q, not to this Pod", r.BoundPod)},
			{r.ListConfigMap == "", "listing ConfigMaps, which the Role allows: " + r.ListConfigMap},
			{r.SecretsDenied, "listing Secrets, which no Role allows, was not refused with 403: " + r.ListSecrets},
			{r.UID == 65532 && r.GID == 65533, "uid and gid are not runAsUser and runAsGroup"},
			{r.Status["NoNewPrivs"] == "1", "NoNewPrivs is " + r.Status["NoNewPrivs"]},
			{strings.Trim(r.Status["CapBnd"], "0") == "", "the capability bounding set is " + r.Status["CapBnd"]},
			{strings.Contains(r.WriteRoot, "read-only file system"), "a write outside the volumes was not refused as read-only: " + r.WriteRoot},
			{r.WriteScratch == "", "a write to the emptyDir failed: " + r.WriteScratch},
			{strings.Contains(r.WriteToken, "read-only file system"), "a write to the kube-api-access volume was not refused as read-only: " + r.WriteToken},
			{r.HostService == "from the host", "the host service forwarded into the Pod answered " + r.HostService},
		}
		for _, c := range checks {
			if !c.ok {
				t.Error(c.what)
			}
		}
		t.Logf("the Pod reached kube-apiserver at %s", r.Host)
	})

	t.Run("a hostNetwork Pod reaches the apiserver and the host directly", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "host-network"},
			Spec: corev1.PodSpec{
				HostNetwork:        true,
				ServiceAccountName: "reader",
				RestartPolicy:      corev1.RestartPolicyNever,
				SecurityContext:    &corev1.PodSecurityContext{RunAsUser: new(int64(65532))},
				Containers: []corev1.Container{{
					Name: "c", Image: "test.local/incluster:v1",
					Env: []corev1.EnvVar{{Name: "HOST_SERVICE", Value: "http://" + hostL.Addr().String() + "/"}},
				}},
			},
		}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		got := waitPodIn(t, ctx, client, ns, pod.Name, func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
		})
		if got.Status.PodIP != hostIP {
			t.Errorf("a hostNetwork Pod's IP is %q, want the Node's %s", got.Status.PodIP, hostIP)
		}
		r := readReport(t, c.LogPath(ns, pod.Name, "c"))
		if r.User != "system:serviceaccount:"+ns+":reader" || r.ListConfigMap != "" || !r.SecretsDenied || r.HostService != "from the host" || r.UID != 65532 {
			t.Errorf("report %+v", r)
		}
	})

	t.Run("automountServiceAccountToken false mounts no token", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "no-token"},
			Spec: corev1.PodSpec{
				AutomountServiceAccountToken: new(false),
				RestartPolicy:                corev1.RestartPolicyNever,
				Containers: []corev1.Container{{
					Name: "c", Image: "test.local/sh",
					Args: []string{"-c", "test ! -e " + saMountPath + "/token && test -n \"$KUBERNETES_SERVICE_HOST\""},
				}},
			},
		}
		created, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if hasAPIAccessVolume(created) {
			t.Errorf("a Pod with automountServiceAccountToken false got a kube-api-access volume")
		}
		got := waitPodIn(t, ctx, client, ns, pod.Name, func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
		})
		if got.Status.Phase != corev1.PodSucceeded {
			t.Errorf("the container saw a token, or no KUBERNETES_SERVICE_HOST: phase %s", got.Status.Phase)
		}
	})

	t.Run("runAsNonRoot without a user is refused", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "nonroot"},
			Spec: corev1.PodSpec{
				SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: new(true)},
				Containers:      []corev1.Container{{Name: "c", Image: "test.local/sh", Args: []string{"-c", "sleep 600"}}},
			},
		}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		got := waitPodIn(t, ctx, client, ns, pod.Name, func(p *corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
				p.Status.ContainerStatuses[0].State.Waiting.Reason == "CreateContainerConfigError"
		})
		if msg := got.Status.ContainerStatuses[0].State.Waiting.Message; !strings.Contains(msg, "runAsNonRoot") {
			t.Errorf("message %q does not say why", msg)
		}
	})

	t.Run("a failing liveness probe restarts the container", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "unhealthy"},
			Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: new(int64(2)),
				Containers: []corev1.Container{{
					Name: "c", Image: "test.local/sh",
					// It serves nothing, so the tcpSocket probe fails; the
					// mount keeps a directory of the host busy meanwhile.
					Args: []string{"-c", "sleep 600"},
					LivenessProbe: &corev1.Probe{
						ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9)}},
						PeriodSeconds:    1,
						FailureThreshold: 2,
					},
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: customMount}},
				}},
				Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			},
		}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		got := waitPodIn(t, ctx, client, ns, pod.Name, func(p *corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
		})
		if last := got.Status.ContainerStatuses[0].LastTerminationState.Terminated; last == nil || last.ExitCode != 128+15 {
			t.Errorf("last termination %+v, want SIGTERM's exit code 143", got.Status.ContainerStatuses[0].LastTerminationState)
		}
		for _, p := range []string{customMount, saMountPath} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("mount point %s of a running Pod: %v", p, err)
			}
		}
	})

	t.Run("an exec probe runs inside the container's mounts, as its user", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "exec-probe"},
			Spec: corev1.PodSpec{
				SecurityContext: &corev1.PodSecurityContext{RunAsUser: new(int64(65532))},
				Containers: []corev1.Container{{
					Name: "c", Image: "test.local/sh",
					Args: []string{"-c", "sleep 1; id -u > /data/ready; sleep 600"},
					// /data/ready exists only under the container's mount of
					// the volume, and names the user that wrote it.
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", "test \"$(cat /data/ready)\" = \"$(id -u)\""}}},
						PeriodSeconds: 1,
					},
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
				}},
				Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			},
		}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitPodIn(t, ctx, client, ns, pod.Name, isReady)
	})

	t.Run("a failing startup probe restarts the container, which never starts", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "never-starts"},
			Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: new(int64(2)),
				Containers: []corev1.Container{{
					Name: "c", Image: "test.local/sh", Args: []string{"-c", "sleep 600"},
					StartupProbe: &corev1.Probe{
						ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9)}},
						PeriodSeconds:    1,
						FailureThreshold: 2,
					},
				}},
			},
		}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		got := waitPodIn(t, ctx, client, ns, pod.Name, func(p *corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
		})
		cs := got.Status.ContainerStatuses[0]
		if cs.Started == nil || *cs.Started || cs.Ready {
			t.Errorf("a container whose startup probe never passed: started %v, ready %v", cs.Started, cs.Ready)
		}
	})

	if err := c.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	checkNothingLeft(t)
	if _, err := os.Stat(filepath.Dir(customMount)); !os.IsNotExist(err) {
		t.Errorf("the mount point %s the cluster created is left after Stop (%v)", filepath.Dir(customMount), err)
	}
	if _, err := os.Stat("/var/run/secrets"); os.IsNotExist(secretsBefore) && !os.IsNotExist(err) {
		t.Errorf("/var/run/secrets, created for the Pods, is left after Stop (%v)", err)
	}
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{customMount, saMountPath, stateDirPrefix} {
		if strings.Contains(string(mountinfo), p) {
			t.Errorf("the host's mount table names %s", p)
		}
	}
}

func hasAPIAccessVolume(p *corev1.Pod) bool {
	for _, v := range p.Spec.Volumes {
		if strings.HasPrefix(v.Name, "kube-api-access-") && v.Projected != nil {
			return true
		}
	}
	return false
}

func readReport(t *testing.T, logPath string) inclusterReport {
	t.Helper()
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var all strings.Builder
	s := bufio.NewScanner(f)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		all.WriteString(s.Text() + "\n")
		_, data, ok := strings.Cut(s.Text(), "REPORT ")
		if !ok {
			continue
		}
		var r inclusterReport
		if err := json.Unmarshal([]byte(data), &r); err != nil {
			t.Fatalf("report %q: %v", data, err)
		}
		return r
	}
	t.Fatalf("no report in the container's output:\n%s", all.String())
	return inclusterReport{}
}

func mustCreate(t *testing.T, create func() error) {
	t.Helper()
	if err := create(); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, ctx context.Context, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(100 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("waiting for %s", what)
}

func waitPodIn(t *testing.T, ctx context.Context, client kubernetes.Interface, ns, name string, ok func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var p *corev1.Pod
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var err error
		p, err = client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ok(p) {
			return p
		}
	}
	t.Fatalf("Pod %s/%s never got there; status %+v", ns, name, p.Status)
	return nil
}
