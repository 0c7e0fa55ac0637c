package localcluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// settleTime is how long a container without a readiness probe must run
// before it counts as ready when it opens no listening socket. A kubelet
// calls such a container ready at once; waiting for the socket instead keeps
// the first requests of a test from racing the server's start.
const settleTime = 2 * time.Second

// watchReadiness tracks one run of the container until stop closes. The
// readiness probe starts once the startup probe, if any, has passed.
func (c *container) watchReadiness(pid int, started time.Time, startupDone, stop <-chan struct{}) {
	select {
	case <-startupDone:
	case <-stop:
		return
	}
	probe := c.spec.ReadinessProbe
	if probe == nil {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if listening(pid, c.host == nil, c.ignore) || time.Since(started) >= settleTime {
				c.setReady(true)
				return
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}
	c.runProbe(probe, stop, func(ok bool) bool {
		c.setReady(ok)
		return true
	})
}

// watchHealth runs the startup probe, then the liveness probe, for one run of
// the container: it closes startupDone when the container has started, and
// sends on unhealthy (once) when either probe has failed failureThreshold
// times in a row, as a kubelet then kills the container.
func (c *container) watchHealth(startupDone chan<- struct{}, unhealthy chan<- string, stop <-chan struct{}) {
	if probe := c.spec.StartupProbe; probe != nil {
		var passed bool
		c.runProbe(probe, stop, func(ok bool) bool {
			passed = ok
			return false // the startup probe's verdict is final
		})
		if !passed {
			select {
			case <-stop:
			default:
				unhealthy <- "startup probe failed"
			}
			return
		}
		c.update(func() { c.started = true })
	}
	close(startupDone)
	if probe := c.spec.LivenessProbe; probe != nil {
		c.runProbe(probe, stop, func(ok bool) bool {
			if !ok {
				unhealthy <- "liveness probe failed"
			}
			return ok
		})
	}
}

// runProbe probes every period until stop closes, after the initial delay.
// verdict hears each time the probe's state turns (successThreshold
// successes or failureThreshold failures in a row) and says whether to go
// on probing.
func (c *container) runProbe(probe *corev1.Probe, stop <-chan struct{}, verdict func(ok bool) bool) {
	period := seconds(probe.PeriodSeconds, 10)
	timeout := seconds(probe.TimeoutSeconds, 1)
	successes, failures := 0, 0
	wait := time.Duration(probe.InitialDelaySeconds) * time.Second
	for {
		select {
		case <-stop:
			return
		case <-time.After(wait):
		}
		wait = period
		err := c.probeOnce(probe, timeout)
		if err == nil {
			successes, failures = successes+1, 0
			if successes >= int(max(probe.SuccessThreshold, 1)) && !verdict(true) {
				return
			}
			continue
		}
		successes, failures = 0, failures+1
		if failures >= int(max(probe.FailureThreshold, 1)) && !verdict(false) {
			return
		}
	}
}

func seconds(n, def int32) time.Duration {
	if n <= 0 {
		n = def
	}
	return time.Duration(n) * time.Second
}

// probeExec runs the command inside the container's namespaces (network and
// mount, so its volumes are there) as the container's user.
func (c *container) probeExec(ctx context.Context, command []string) error {
	c.mu.Lock()
	pid := c.pid
	c.mu.Unlock()
	args := []string{"--target", strconv.Itoa(pid), "--mount", "--net"}
	if sec := c.proc.Security; sec.uid != nil {
		args = append(args, "--setuid", strconv.FormatInt(*sec.uid, 10), "--setgid", strconv.FormatInt(*sec.gid, 10))
	}
	args = append(append(args, "--wdns="+c.proc.Dir, "--"), command...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.Env = c.proc.Env
	return cmd.Run()
}

// probeOnce runs one check against the Pod's address. The probes
// run in this process, which reaches the Pod over its veth like a kubelet.
func (c *container) probeOnce(p *corev1.Probe, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	switch {
	case p.HTTPGet != nil:
		return c.probeHTTP(ctx, p.HTTPGet)
	case p.TCPSocket != nil:
		port, err := c.port(p.TCPSocket.Port)
		if err != nil {
			return err
		}
		host := p.TCPSocket.Host
		if host == "" {
			host = c.podIP
		}
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			conn.Close()
		}
		return err
	case p.Exec != nil && len(p.Exec.Command) > 0:
		return c.probeExec(ctx, p.Exec.Command)
	default:
		return fmt.Errorf("this readiness probe type is not supported by the local cluster")
	}
}

func (c *container) probeHTTP(ctx context.Context, g *corev1.HTTPGetAction) error {
	port, err := c.port(g.Port)
	if err != nil {
		return err
	}
	host := g.Host
	if host == "" {
		host = c.podIP
	}
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(port))+path, nil)
	if err != nil {
		return err
	}
	for _, h := range g.HTTPHeaders {
		req.Header.Add(h.Name, h.Value)
	}
	// A kubelet does not verify probe certificates either.
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP probe returned %d", resp.StatusCode)
	}
	return nil
}

// port resolves a probe's port, which may name a container port.
func (c *container) port(p intstr.IntOrString) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.spec.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("no container port named %q", p.StrVal)
}

// listening reports whether the container listens on a TCP port. In a Pod's
// own network namespace that is any listening socket other than those in
// ignore: /proc/<pid>/net shows the namespace of that process, and the
// namespace holds only the Pod's processes and the kubelet's forwarders. On
// the host's network (hostNetwork) it must be a socket the process itself
// holds.
func listening(pid int, hostNetwork bool, ignore map[string]bool) bool {
	var held map[string]bool
	if hostNetwork {
		held = socketInodes(pid)
		if len(held) == 0 {
			return false
		}
	}
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		s := bufio.NewScanner(f)
		s.Scan() // header
		for s.Scan() {
			fields := strings.Fields(s.Text())
			if len(fields) <= 9 || fields[3] != "0A" || ignore[fields[1]] { // 0A: TCP_LISTEN
				continue
			}
			if !hostNetwork || held[fields[9]] {
				f.Close()
				return true
			}
		}
		f.Close()
	}
	return false
}

// socketInodes lists the inodes of the sockets a process holds open.
func socketInodes(pid int) map[string]bool {
	out := map[string]bool{}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		target, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue
		}
		if inode, ok := strings.CutPrefix(target, "socket:["); ok {
			out[strings.TrimSuffix(inode, "]")] = true
		}
	}
	return out
}
