package netns

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

const prefix = "cgtest-"

var counter atomic.Int32

// Host is a network namespace reachable from this one at Addr.
type Host struct {
	Name string
	// Addr is the namespace's address; HostAddr is this side's end of the veth.
	Addr, HostAddr netip.Addr
	hostLink       string
	closeOnce      sync.Once
}

// New creates a namespace with a veth pair and a /30 from 198.18.0.0/16.
func New() (*Host, error) {
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("the ip command (iproute2) is needed to create test network namespaces: %w", err)
	}
	removeStale()
	n := counter.Add(1)
	name := fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), n)
	// Interface names are at most 15 bytes, and the peer adds "p": "cg", up
	// to 6 hex digits of pid (pid_max is at most 2^22), "-", and 5 of the
	// counter. Truncating the counter's bits would make a long-lived process
	// (the local cluster makes one namespace per Pod) reuse a live name.
	link := fmt.Sprintf("cg%x-%x", os.Getpid(), n&0xfffff)
	h := &Host{Name: name, hostLink: link}
	for try := 0; ; try++ {
		base := randomSubnet()
		if try > 20 {
			return nil, fmt.Errorf("no free /30 in 198.18.0.0/16")
		}
		if addressInUse(base.Next()) || addressInUse(base.Next().Next()) {
			continue
		}
		h.HostAddr, h.Addr = base.Next(), base.Next().Next()
		break
	}
	steps := [][]string{
		{"netns", "add", name},
		{"link", "add", link, "type", "veth", "peer", "name", link + "p"},
		{"link", "set", link + "p", "netns", name},
		{"addr", "add", h.HostAddr.String() + "/30", "dev", link},
		{"link", "set", link, "up"},
		{"-n", name, "addr", "add", h.Addr.String() + "/30", "dev", link + "p"},
		{"-n", name, "link", "set", link + "p", "up"},
		{"-n", name, "link", "set", "lo", "up"},
	}
	for _, args := range steps {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			h.Close()
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return h, nil
}

func randomSubnet() netip.Addr {
	var b [2]byte
	_, _ = rand.Read(b[:])
	i := binary.BigEndian.Uint16(b[:]) &^ 3 // align to /30
	return netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
}

func addressInUse(a netip.Addr) bool {
	out, err := exec.Command("ip", "-o", "-4", "addr", "show").Output()
	return err == nil && strings.Contains(string(out), " "+a.String()+"/")
}

// Listen opens a TCP listener inside the namespace on port (0 picks one).
func (h *Host) Listen(port int) (net.Listener, error) {
	var l net.Listener
	err := h.do(func() error {
		var err error
		l, err = net.Listen("tcp4", net.JoinHostPort(h.Addr.String(), strconv.Itoa(port)))
		return err
	})
	return l, err
}

// ListenAt opens a TCP listener inside the namespace at addr (host:port).
// The namespace's loopback (127.0.0.0/8) is up, so a listener there is what
// only the namespace's own processes reach: a stand-in inside the namespace
// for a service on this side's loopback.
func (h *Host) ListenAt(addr string) (net.Listener, error) {
	var l net.Listener
	err := h.do(func() error {
		var err error
		l, err = net.Listen("tcp", addr)
		return err
	})
	return l, err
}

// do runs fn on an OS thread switched into the namespace. Sockets fn creates
// stay in the namespace after the thread switches back.
func (h *Host) do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return err
	}
	defer orig.Close()
	target, err := os.Open(filepath.Join("/run/netns", h.Name))
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("entering namespace %s: %w", h.Name, err)
	}
	ferr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread is stuck in the wrong namespace: never hand it back to
		// the scheduler (LockOSThread without Unlock makes the thread exit).
		runtime.LockOSThread()
		return fmt.Errorf("leaving namespace %s: %w", h.Name, err)
	}
	return ferr
}

// Command returns a command that runs name inside the namespace (through
// `ip netns exec`, which execs it, so the process's pid is the program's).
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.Name, name}, args...)...)
}

// Close deletes the namespace; the veth pair goes with it. `ip netns del`
// can fail for a moment (the namespace's file is busy while another
// process's mount namespace is being made from the host's), so it is tried
// again until the file is gone, for a few seconds.
func (h *Host) Close() {
	h.closeOnce.Do(func() {
		path := filepath.Join("/run/netns", h.Name)
		for wait := 10 * time.Millisecond; ; wait *= 2 {
			_ = exec.Command("ip", "netns", "del", h.Name).Run()
			if _, err := os.Stat(path); os.IsNotExist(err) || wait > 2*time.Second {
				break
			}
			time.Sleep(wait)
		}
		_ = exec.Command("ip", "link", "del", h.hostLink).Run()
	})
}

// removeStale deletes namespaces that an earlier, killed process of ours left.
func removeStale() {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if unix.Kill(pid, 0) == unix.ESRCH {
			_ = exec.Command("ip", "netns", "del", e.Name()).Run()
		}
	}
}
