package localcluster

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// testPodLogs reads an echo Pod's logs through kube-apiserver, which calls
// the process kubelet's API, with the options the conformance suite's
// mirror tests and `kubectl logs` use.
func testPodLogs(t *testing.T, ctx context.Context, c *Cluster, client kubernetes.Interface, pod corev1.Pod) {
	nonce := fmt.Sprint(time.Now().UnixNano())
	before, after := "/logs-before-"+nonce, "/logs-after-"+nonce
	echoed := func(path string) string { return "Echoing back request made to " + path + " to client" }
	get := func(opts *corev1.PodLogOptions) (string, error) {
		data, err := client.CoreV1().Pods(testNS).GetLogs(pod.Name, opts).DoRaw(ctx)
		return string(data), err
	}
	// The kubelet copies output asynchronously: wait until it is there.
	waitFor := func(opts *corev1.PodLogOptions, want string) string {
		t.Helper()
		var logs string
		var err error
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if logs, err = get(opts); err == nil && strings.Contains(logs, want) {
				return logs
			}
		}
		t.Fatalf("logs %+v never had %q: %q, %v", opts, want, logs, err)
		return ""
	}

	request(t, pod, before)
	// No container name: the apiserver fills in the only one.
	logs := waitFor(&corev1.PodLogOptions{}, echoed(before))
	data, err := os.ReadFile(c.LogPath(testNS, pod.Name, "echo"))
	if err != nil || !strings.HasPrefix(string(data), logs) {
		t.Errorf("logs through the API %q are not how %s starts: %q, %v", logs, c.LogPath(testNS, pod.Name, "echo"), data, err)
	}

	// sinceTime goes to the kubelet in whole seconds: leave a second
	// boundary between the two requests.
	time.Sleep(2500 * time.Millisecond)
	since := metav1.NewTime(time.Now().Truncate(time.Second))
	request(t, pod, after)
	logs = waitFor(&corev1.PodLogOptions{Container: "echo", SinceTime: &since}, echoed(after))
	if strings.Contains(logs, echoed(before)) {
		t.Errorf("logs since %s have the earlier request: %q", since, logs)
	}
	logs, err = get(&corev1.PodLogOptions{SinceSeconds: new(int64(2))})
	if err != nil || !strings.Contains(logs, echoed(after)) || strings.Contains(logs, echoed(before)) {
		t.Errorf("logs of the last 2s: %q, %v; want only the later request", logs, err)
	}
	logs, err = get(&corev1.PodLogOptions{TailLines: new(int64(1))})
	if err != nil || strings.Count(logs, "\n") != 1 || !strings.HasPrefix(logs, echoed(after)) {
		t.Errorf("last line: %q, %v", logs, err)
	}
	logs, err = get(&corev1.PodLogOptions{TailLines: new(int64(1)), Timestamps: true})
	if stamp, line, _ := strings.Cut(logs, " "); err != nil || !strings.HasPrefix(line, echoed(after)) {
		t.Errorf("last line with its timestamp: %q, %v", logs, err)
	} else if ts, err := time.Parse(time.RFC3339Nano, stamp); err != nil || ts.Before(since.Time) || time.Since(ts) > time.Minute {
		t.Errorf("timestamp %q: %v, %v", stamp, ts, err)
	}
	logs, err = get(&corev1.PodLogOptions{TailLines: new(int64(1)), LimitBytes: new(int64(12))})
	if err != nil || logs != echoed(after)[:12] {
		t.Errorf("12 bytes of the last line: %q, %v", logs, err)
	}
	// Stream, as kubectl and the conformance suite read logs: DoRaw's
	// clientset decodes errors as protobuf and loses the message.
	_, err = client.CoreV1().Pods(testNS).GetLogs(pod.Name, &corev1.PodLogOptions{Previous: true}).Stream(ctx)
	if want := `previous terminated container "echo" in pod "` + pod.Name + `" not found`; err == nil || err.Error() != want {
		t.Errorf("previous logs of a container that never restarted: %v; want %s", err, want)
	}

	// Follow: new lines come as they are written, until the client goes.
	followCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.CoreV1().Pods(testNS).GetLogs(pod.Name, &corev1.PodLogOptions{Follow: true, TailLines: new(int64(0))}).Stream(followCtx)
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		defer stream.Close()
		s := bufio.NewScanner(stream)
		for s.Scan() {
			lines <- s.Text()
		}
	}()
	followed := "/logs-followed-" + nonce
	request(t, pod, followed)
	select {
	case line := <-lines:
		if !strings.HasPrefix(line, echoed(followed)) {
			t.Errorf("followed %q, want the request after the follow began", line)
		}
	case <-time.After(30 * time.Second):
		t.Error("no line while following")
	}
	cancel()
	for range lines { // ends when the stream does
	}

	out, err := exec.CommandContext(ctx, c.cp.BinDir+"/kubectl", "--kubeconfig", c.Kubeconfig,
		"logs", "-n", testNS, pod.Name, "--tail=2").CombinedOutput()
	if err != nil || !strings.Contains(string(out), echoed(followed)) {
		t.Errorf("kubectl logs: %s, %v", out, err)
	}
}

// testPreviousLogs runs a container that counts its runs and crashes, and
// reads its current and previous runs' output, stdout and stderr.
func testPreviousLogs(t *testing.T, ctx context.Context, client kubernetes.Interface) {
	// The working directory, the Pod's, outlives the runs. Backquotes, as
	// $(...) is the API's variable syntax.
	script := "n=`cat runs 2>/dev/null || echo 0`; n=`expr $n + 1`; echo $n >runs; echo run $n; echo oops >&2; exit 1"
	pod, err := client.CoreV1().Pods(testNS).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "counter"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "test.local/sh", Args: []string{"-c", script},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitPod(t, ctx, client, pod.Name, func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	runOf := func(previous bool) int {
		t.Helper()
		data, err := client.CoreV1().Pods(testNS).GetLogs(pod.Name, &corev1.PodLogOptions{Previous: previous}).DoRaw(ctx)
		// stdout and stderr are separate pipes: either line may come first.
		m := regexp.MustCompile(`(?m)^run (\d+)$`).FindSubmatch(data)
		if err != nil || m == nil || !strings.Contains(string(data), "oops\n") || len(data) != len(m[0])+len("\noops\n") {
			t.Fatalf("logs (previous %v): %q, %v", previous, data, err)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	// A restart may come between the two reads.
	prev, cur := runOf(true), runOf(false)
	if prev < 1 || cur <= prev || cur > prev+2 {
		t.Errorf("previous run %d, current run %d", prev, cur)
	}
	deleteAndWait(t, ctx, client, pod.Name)
	if _, err := client.CoreV1().Pods(testNS).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx); err == nil {
		t.Error("logs of a deleted Pod")
	}
}

// request sends one request to an echo Pod, which logs it.
func request(t *testing.T, pod corev1.Pod, path string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + pod.Status.PodIP + ":3000" + path)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
