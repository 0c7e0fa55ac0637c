package dataplane

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"
)

// spinFor is how long a read of a target's answer polls the socket before
// it parks the goroutine in the network poller. Parking lets the thread go
// to sleep, and often its CPU idle; waking them when the answer comes is
// what a proxied request pays most for at low load (on a virtual machine,
// tens of microseconds), while a target on loopback or in the same network
// often answers within that time. Each poll yields the CPU (sched_yield),
// so that the target, when it is woken on this CPU, runs at once rather
// than behind the poll.
const spinFor = 50 * time.Microsecond

// spinner reads a TCP connection, polling before it parks (spinFor). Its
// fields carry one Read's arguments and results into poll, which the
// connection's RawConn calls, so that a Read allocates nothing.
type spinner struct {
	raw syscall.RawConn
	// local and peer name the connection in errors.
	local, peer net.Addr
	p           []byte
	n           int
	err         error
	start       time.Time
	// poll is the method value of s.read, made once.
	poll func(fd uintptr) bool
}

// newSpinner returns a spinner for conn, or nil when conn is not a TCP
// connection.
func newSpinner(conn net.Conn) *spinner {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	s := &spinner{raw: raw, local: tc.LocalAddr(), peer: tc.RemoteAddr()}
	s.poll = s.read
	return s
}

// Read reads into p as net.Conn's Read does, deadlines included (RawConn
// keeps them).
func (s *spinner) Read(p []byte) (int, error) {
	s.p, s.n, s.err, s.start = p, 0, nil, time.Time{}
	err := s.raw.Read(s.poll)
	s.p = nil
	if err != nil {
		return 0, err
	}
	return s.n, s.err
}

// read is called by RawConn.Read until it returns true; false parks the
// goroutine until the socket is readable.
func (s *spinner) read(fd uintptr) bool {
	for {
		n, err := syscall.Read(int(fd), s.p)
		switch {
		case err == nil && n == 0 && len(s.p) > 0:
			s.err = io.EOF
			return true
		case err == nil:
			s.n = n
			return true
		case errors.Is(err, syscall.EINTR):
			continue
		case !errors.Is(err, syscall.EAGAIN):
			// As net.Conn's Read reports it.
			s.err = &net.OpError{Op: "read", Net: "tcp", Source: s.local, Addr: s.peer, Err: os.NewSyscallError("read", err)}
			return true
		}
		// Only the one exchange in progress polls: with more, the CPU has
		// their work to do. Checked at each turn, so that a poll ends when
		// another exchange starts.
		if inFlight.Load() > 1 {
			return false
		}
		now := time.Now()
		if s.start.IsZero() {
			s.start = now
		} else if now.Sub(s.start) > spinFor {
			return false
		}
		// Other goroutines first, then other threads.
		runtime.Gosched()
		_, _, _ = syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
	}
}
