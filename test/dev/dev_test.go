package dev

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/test/controlplane"
)

var (
	curlLine     = regexp.MustCompile(`^\s*curl (.+)$`)
	awsEndpoint  = regexp.MustCompile(`AWS_ENDPOINT_URL=(http://\S+)`)
	gcpEndpoint  = regexp.MustCompile(`--gcp-endpoint (http://\S+)`)
	localAddress = regexp.MustCompile(`^127\.\d+\.\d+\.\d+:\d+$`)
)

// TestDevPrintsACurlThatAnswers runs cloudgate-dev with each provider, as
// `make dev PROVIDER=...` does: the curl command it prints must get the
// sample's echo Pods' answer through the provider's load balancer (the
// emulated cloud's proxy, albplane's ALB, urlmapplane's URL map), and
// Ctrl-C must stop everything it started.
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
	// Address ranges of their own, so that a developer's running `make
	// dev` or another test's cloud is never in the way.
	pid := os.Getpid()
	t.Run("emulated", func(t *testing.T) {
		run(t, root, bin, "--emulated-address-range", fmt.Sprintf("127.%d.0.0/16", 50+pid%20))
	})
	t.Run("aws", func(t *testing.T) {
		target, log := run(t, root, bin, "--provider", "aws")
		if !strings.HasSuffix(target.Hostname(), ".elb.amazonaws.com") {
			t.Errorf("curl target %s is no ALB DNS name", target)
		}
		// moto is a process of its own: it must be gone too.
		m := awsEndpoint.FindStringSubmatch(log)
		if m == nil {
			t.Fatalf("no AWS_ENDPOINT_URL in the describe command:\n%s", log)
		}
		u, _ := url.Parse(m[1])
		if c, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
			c.Close()
			t.Errorf("moto still answers at %s after cloudgate-dev stopped", u.Host)
		}
	})
	t.Run("gcp", func(t *testing.T) {
		rng := fmt.Sprintf("127.%d.0.0/16", 140+pid%20)
		target, log := run(t, root, bin, "--provider", "gcp", "--gcp-address-range", rng)
		// The forwarding rule's address, from the double's external range.
		prefix := strings.TrimSuffix(rng, "0.0/16")
		if !strings.HasPrefix(target.Host, prefix) {
			t.Errorf("curl target %s is outside the GCP double's external range %s", target, rng)
		}
		if !gcpEndpoint.MatchString(log) {
			t.Errorf("no --gcp-endpoint in the describe command:\n%s", log)
		}
	})
}

// run starts cloudgate-dev with args, requests what its printed curl
// command requests, checks that the sample's echo Deployment answered,
// interrupts it and checks that it cleaned up. It returns the curl's URL
// and the output.
func run(t *testing.T, root, bin string, args ...string) (*url.URL, string) {
	// A temporary directory of its own: whatever the run makes there (moto's
	// state, the cluster's) must be gone when it exits.
	tmp := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	curls := make(chan string, 1)
	var log output
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			log.add(sc.Text())
			if m := curlLine.FindStringSubmatch(sc.Text()); m != nil {
				curls <- m[1]
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	var line string
	select {
	case line = <-curls:
	case err := <-exited:
		t.Fatalf("cloudgate-dev exited before printing a curl command: %v\n%s", err, log.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("cloudgate-dev printed no curl command in time:\n%s", log.String())
	}
	target, connectTo := parseCurl(t, line)
	for from, to := range connectTo {
		// The mapped address is a data plane's, on this machine.
		if !localAddress.MatchString(to) {
			t.Errorf("curl --connect-to %s:%s leaves loopback", from, to)
		}
	}
	if connectTo == nil && !strings.HasPrefix(target.Host, "127.") {
		t.Errorf("curl target %s is outside loopback and not mapped to it", target)
	}
	// The request curl makes: the URL's host in the Host header, the
	// connection to where --connect-to maps it.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if to, ok := connectTo[addr]; ok {
				addr = to
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}}
	resp, err := hc.Get(target.String())
	if err != nil {
		t.Fatalf("the printed curl (%s) does not answer: %v", line, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var echo struct{ Service, Pod, Namespace string }
	if err := json.Unmarshal(body, &echo); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("curl %s: %s %s (%v)", line, resp.Status, body, err)
	}
	// The sample's Deployment answered, through a Pod the local cluster runs.
	if echo.Service != "echo" || echo.Namespace != "default" || !strings.HasPrefix(echo.Pod, "echo-") {
		t.Fatalf("curl %s answered from %+v, want a Pod of the echo Deployment", line, echo)
	}
	// The command itself, as a user pastes it, where curl is installed.
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, append([]string{"-sS", "--fail", "--max-time", "10", "--noproxy", "*"}, strings.Fields(line)...)...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"echo-`) {
			t.Errorf("curl %s: %v\n%s", line, err, out)
		}
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
	if _, err := hc.Get(target.String()); err == nil {
		t.Errorf("%s still answers after cloudgate-dev stopped", line)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Errorf("cloudgate-dev left %v in its TMPDIR", names)
	}
	// The Pods' network namespaces (test/netns names them by pid).
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		if prefix := fmt.Sprintf("cgtest-%d-", cmd.Process.Pid); strings.Contains(string(out), prefix) {
			t.Errorf("cloudgate-dev left network namespaces %s*:\n%s", prefix, out)
		}
	}
	t.Logf("cloudgate-dev %s:\n%s", strings.Join(args, " "), log.String())
	return target, log.String()
}

// parseCurl reads the printed command's options ("curl" cut off): the URL
// and the --connect-to mappings, "host:port" to "host:port". An option it
// does not know fails the test, so that the request made here stays the
// one curl makes.
func parseCurl(t *testing.T, line string) (*url.URL, map[string]string) {
	t.Helper()
	var target *url.URL
	var connectTo map[string]string
	fields := strings.Fields(line)
	for i := 0; i < len(fields); i++ {
		switch f := fields[i]; {
		case f == "--connect-to" && i+1 < len(fields):
			i++
			// HOST1:PORT1:HOST2:PORT2
			parts := strings.Split(fields[i], ":")
			if len(parts) != 4 {
				t.Fatalf("curl --connect-to %s: want HOST1:PORT1:HOST2:PORT2", fields[i])
			}
			if connectTo == nil {
				connectTo = map[string]string{}
			}
			connectTo[parts[0]+":"+parts[1]] = parts[2] + ":" + parts[3]
		case strings.HasPrefix(f, "http://") && target == nil:
			u, err := url.Parse(f)
			if err != nil {
				t.Fatalf("curl %s: %v", line, err)
			}
			target = u
		default:
			t.Fatalf("curl %s: option %q unknown to this test", line, f)
		}
	}
	if target == nil {
		t.Fatalf("curl %s: no URL", line)
	}
	// A URL without a port is port 80, as curl dials it.
	if target.Port() == "" {
		if _, ok := connectTo[target.Host+":80"]; !ok && connectTo != nil {
			t.Fatalf("curl %s: --connect-to does not name %s:80", line, target.Host)
		}
	}
	return target, connectTo
}

// output is the process's output, written by the goroutine that reads it
// and read by the test.
type output struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *output) add(line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.b.WriteString(line + "\n")
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}
