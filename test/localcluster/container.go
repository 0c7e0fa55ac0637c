package localcluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudgate-dev/cloudgate/test/netns"
)

// Restart back-off: a kubelet starts at 10 s and caps at 5 min; tests want a
// crashing backend back sooner, and the doubling still keeps a crash loop
// cheap.
const (
	initialBackoff = time.Second
	maxBackoff     = 30 * time.Second
	// A container that ran this long before exiting restarts without delay
	// history, as a kubelet resets its back-off.
	backoffReset = time.Minute
)

type containerConfig struct {
	spec          *corev1.Container
	imageID       string
	proc          process
	host          *netns.Host // nil for a hostNetwork Pod
	podIP         string
	logPath       string // the combined output of all runs (Cluster.LogPath)
	recordDir     string // each run's timestamped records, for the kubelet API
	restartPolicy corev1.RestartPolicy
	// killGrace is how long a container killed for failing its liveness
	// or startup probe may take to stop: the Pod's grace period.
	killGrace time.Duration
	// ignore are listening sockets, as /proc/net/tcp names them, that the
	// kubelet itself opened in the Pod's namespace.
	ignore map[string]bool
	notify func()
	log    func(format string, args ...any)
}

// container supervises one container's process: it starts it in the Pod's
// network namespace, restarts it per the restart policy and tracks readiness.
type container struct {
	containerConfig

	mu         sync.Mutex
	pid        int
	startedAt  time.Time // zero when not running
	started    bool      // the startup probe passed (or there is none)
	ready      bool
	restarts   int32
	waiting    *corev1.ContainerStateWaiting
	terminated *corev1.ContainerStateTerminated // the current state, when exited for good
	last       *corev1.ContainerStateTerminated // the previous run's end
	logs       []*containerLog                  // one per run that started, the current one last

	haltOnce sync.Once
	stop     chan struct{} // closed to stop the process and the supervision
	grace    time.Duration // set before stop closes
	done     chan struct{} // closed when supervision ended
}

func newContainer(cfg containerConfig) *container {
	return &container{
		containerConfig: cfg,
		waiting:         &corev1.ContainerStateWaiting{Reason: "ContainerCreating"},
		stop:            make(chan struct{}),
		done:            make(chan struct{}),
	}
}

// run supervises the container until halt or until its restart policy says
// it is finished.
func (c *container) run() {
	defer close(c.done)
	backoff := initialBackoff
	for {
		cmd, output, exited, err := c.start()
		if err != nil {
			c.update(func() {
				c.waiting = &corev1.ContainerStateWaiting{Reason: "RunContainerError", Message: err.Error()}
			})
			if !c.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		started := time.Now()
		stopProbe := make(chan struct{})
		startupDone := make(chan struct{})
		unhealthy := make(chan string, 1)
		go c.watchReadiness(cmd.Process.Pid, started, startupDone, stopProbe)
		go c.watchHealth(startupDone, unhealthy, stopProbe)

		var halted bool
		select {
		case <-exited:
		case <-c.stop:
			halted = true
			c.kill(cmd.Process.Pid, exited, c.grace)
		case why := <-unhealthy:
			// As a kubelet: kill it, and let the restart policy decide.
			c.log("container %s: %s, killing it", c.spec.Name, why)
			select {
			case <-c.stop:
				halted = true
				c.kill(cmd.Process.Pid, exited, c.grace)
			default:
				c.kill(cmd.Process.Pid, exited, c.killGrace)
			}
		}
		close(stopProbe)
		// Status must not say the container ended before all it wrote can
		// be read through the kubelet API.
		output.wait(2 * time.Second)
		term := terminatedState(cmd.ProcessState, started, cmd.Process.Pid)
		if halted || !c.shouldRestart(term.ExitCode) {
			c.update(func() { c.startedAt, c.started, c.ready, c.terminated = time.Time{}, false, false, term })
			return
		}
		if time.Since(started) > backoffReset {
			backoff = initialBackoff
		}
		c.update(func() {
			c.startedAt, c.started, c.ready, c.last = time.Time{}, false, false, term
			c.waiting = &corev1.ContainerStateWaiting{
				Reason:  "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off %s restarting failed container %s", backoff, c.spec.Name),
			}
		})
		if !c.sleep(backoff) {
			return
		}
		backoff = min(2*backoff, maxBackoff)
		c.update(func() { c.restarts++ })
	}
}

// shouldRestart applies the Pod's restart policy to an exit code.
func (c *container) shouldRestart(exitCode int32) bool {
	switch c.restartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	default:
		return true
	}
}

// start starts the process inside the Pod's network namespace and a mount
// namespace of its own, its output going to a new containerLog; exited
// closes when it has been waited for.
func (c *container) start() (*exec.Cmd, *containerLog, <-chan struct{}, error) {
	argv, err := c.proc.wrapped()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := os.MkdirAll(c.recordDir, 0o755); err != nil {
		return nil, nil, nil, err
	}
	c.mu.Lock()
	run := len(c.logs)
	c.mu.Unlock()
	output, err := newContainerLog(filepath.Join(c.recordDir, fmt.Sprintf("%d.log", run)), c.logPath)
	if err != nil {
		return nil, nil, nil, err
	}
	var cmd *exec.Cmd
	if c.host != nil {
		cmd = c.host.Command(argv[0], argv[1:]...)
	} else {
		// A hostNetwork Pod still gets a mount namespace of its own, made
		// as `ip netns exec` makes one: every mount a slave of the host's.
		cmd = exec.Command("unshare", append([]string{"--mount", "--propagation", "slave", "--"}, argv...)...)
	}
	// The mount script changes to the working directory once the volumes
	// are mounted, since it may be one of them.
	cmd.Env, cmd.Dir = c.proc.Env, "/"
	cmd.Stdout, cmd.Stderr = output.stdout, output.stderr
	// Its own process group, so that halting reaches any children; and
	// Pdeathsig, so that no backend outlives a killed test process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	output.closeWriters() // the child has its own descriptors
	if err != nil {
		output.wait(time.Second)
		_ = os.Remove(output.path)
		return nil, nil, nil, err
	}
	c.update(func() {
		c.pid, c.startedAt, c.waiting, c.terminated = cmd.Process.Pid, time.Now(), nil, nil
		c.started = c.spec.StartupProbe == nil
		c.logs = append(c.logs, output)
	})
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status is read from ProcessState
		close(exited)
	}()
	return cmd, output, exited, nil
}

// output returns the current run's output, or the one before it
// (previous). Like a kubelet's, the current run is the last one that
// started, even when it has exited and waits to restart.
func (c *container) output(previous bool) *containerLog {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := len(c.logs) - 1
	if previous {
		i--
	}
	if i < 0 {
		return nil
	}
	return c.logs[i]
}

// kill sends SIGTERM to the process group, and SIGKILL after grace, and
// waits for the process.
func (c *container) kill(pid int, exited <-chan struct{}, grace time.Duration) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	}
	// Children that ignored SIGTERM after their leader exited.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// halt stops the container within grace and waits until it has stopped.
func (c *container) halt(grace time.Duration) {
	c.haltOnce.Do(func() {
		c.grace = grace
		close(c.stop)
	})
	<-c.done
}

// sleep waits d unless the container is halted first.
func (c *container) sleep(d time.Duration) bool {
	select {
	case <-c.stop:
		return false
	case <-time.After(d):
		return true
	}
}

// update changes the state under the lock and tells the kubelet.
func (c *container) update(f func()) {
	c.mu.Lock()
	f()
	c.mu.Unlock()
	c.notify()
}

func (c *container) setReady(ready bool) {
	c.mu.Lock()
	changed := c.ready != ready && !c.startedAt.IsZero()
	if changed {
		c.ready = ready
	}
	c.mu.Unlock()
	if changed {
		c.notify()
	}
}

func containerID(pid int) string { return fmt.Sprintf("process://%d", pid) }

func terminatedState(ps *os.ProcessState, started time.Time, pid int) *corev1.ContainerStateTerminated {
	t := &corev1.ContainerStateTerminated{
		StartedAt:   metav1.NewTime(started.Truncate(time.Second)),
		FinishedAt:  metav1.NewTime(time.Now().Truncate(time.Second)),
		ContainerID: containerID(pid),
		Reason:      "Completed",
	}
	if ps == nil {
		t.ExitCode, t.Reason = 128+int32(syscall.SIGKILL), "Error"
		return t
	}
	var ws syscall.WaitStatus
	if s, ok := ps.Sys().(syscall.WaitStatus); ok {
		ws = s
	}
	switch {
	case ws.Signaled():
		t.ExitCode, t.Signal = 128+int32(ws.Signal()), int32(ws.Signal())
	default:
		t.ExitCode = int32(ps.ExitCode())
	}
	if t.ExitCode != 0 {
		t.Reason = "Error"
	}
	return t
}
