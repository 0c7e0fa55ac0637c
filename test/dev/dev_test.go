package dev

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/test/controlplane"
)

var curlLine = regexp.MustCompile(`^\s*curl (http://\S+)`)

func TestDevPrintsACurlThatAnswers(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "cloudgate-dev")
	build := exec.Command("go", "build", "-o", bin, "./cmd/cloudgate-dev")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building cloudgate-dev: %v\n%s", err, out)
	}

	// An address range of its own, so that a developer's running `make dev`
	// or another test's cloud is never in the way.
	rng := fmt.Sprintf("127.%d.0.0/16", 50+os.Getpid()%20)
	cmd := exec.Command(bin, "--emulated-address-range", rng)
	cmd.Dir = root
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	urls := make(chan string, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := curlLine.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	var url string
	select {
	case url = <-urls:
	case err := <-exited:
		t.Fatalf("cloudgate-dev exited before printing a curl command: %v\n%s", err, log.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("cloudgate-dev printed no curl command in time:\n%s", log.String())
	}
	if !strings.HasPrefix(url, "http://127.") {
		t.Errorf("curl target %s is outside loopback", url)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("the printed curl does not answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var echo struct{ Service, Pod, Namespace string }
	if err := json.Unmarshal(body, &echo); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("curl %s: %s %s (%v)", url, resp.Status, body, err)
	}
	// The sample's Deployment answered, through a Pod the local cluster runs.
	if echo.Service != "echo" || echo.Namespace != "default" || !strings.HasPrefix(echo.Pod, "echo-") {
		t.Fatalf("curl %s answered from %+v, want a Pod of the echo Deployment", url, echo)
	}

	// Ctrl-C: the process cleans up and exits, and the load balancer's port
	// closes with it.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("cloudgate-dev exited with %v after Ctrl-C:\n%s", err, log.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("cloudgate-dev did not stop after Ctrl-C:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "Deleting the sample Gateway") {
		t.Errorf("no cleanup step in the output:\n%s", log.String())
	}
	if _, err := (&http.Client{Timeout: time.Second}).Get(url); err == nil {
		t.Errorf("%s still answers after cloudgate-dev stopped", url)
	}
}
