package localcluster

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"

	"github.com/cloudgate-dev/cloudgate/test/netns"
)

// forwarder makes addresses on this machine's loopback reachable from inside
// a Pod's network namespace at the same address: it listens on the
// namespace's loopback and copies each connection to the host's. Bytes pass
// through untouched, so TLS is end to end and a client inside checks
// kube-apiserver's real certificate, which names only 127.0.0.1 and
// localhost.
type forwarder struct {
	listeners []net.Listener
	log       func(format string, args ...any)

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// forward starts one listener per address in the namespace.
func forward(host *netns.Host, addrs []string, log func(format string, args ...any)) (*forwarder, error) {
	f := &forwarder{log: log, conns: map[net.Conn]struct{}{}}
	for _, addr := range addrs {
		l, err := host.ListenAt(addr)
		if err != nil {
			f.close()
			return nil, fmt.Errorf("forwarding %s into the Pod's network namespace: %w", addr, err)
		}
		f.listeners = append(f.listeners, l)
		f.wg.Go(func() { f.serve(l, addr) })
	}
	return f, nil
}

func (f *forwarder) serve(l net.Listener, target string) {
	for {
		in, err := l.Accept()
		if err != nil {
			return
		}
		if !f.track(in) {
			in.Close()
			return
		}
		f.wg.Go(func() {
			defer f.untrack(in)
			// This goroutine's thread is in the host's namespace: only
			// netns.Host.do switches one, and it switches back.
			out, err := net.Dial("tcp", target)
			if err != nil {
				f.log("forwarding a Pod's connection to %s: %v", target, err)
				return
			}
			if !f.track(out) {
				out.Close()
				return
			}
			defer f.untrack(out)
			var wg sync.WaitGroup
			wg.Go(func() { pipe(out, in) })
			pipe(in, out)
			wg.Wait()
		})
	}
}

// pipe copies src to dst and then half-closes dst, so that each side sees
// the other's end of stream while it may still answer.
func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

func (f *forwarder) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *forwarder) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

// close stops listening, cuts open connections and waits for the
// goroutines.
func (f *forwarder) close() {
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	for _, l := range f.listeners {
		l.Close()
	}
	f.wg.Wait()
}

// procNetAddr formats a listening address as /proc/net/tcp shows it (the
// IPv4 address as a little-endian hex word, then the port), so that
// readiness can tell the forwarder's sockets from the container's own.
func procNetAddr(addr string) (string, bool) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return "", false
	}
	b := ap.Addr().As4()
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", b[3], b[2], b[1], b[0], ap.Port()), true
}
