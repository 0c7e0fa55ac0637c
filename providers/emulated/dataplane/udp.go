package dataplane

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// maxUDPSessions bounds the sessions of one UDP listener. A new client
	// beyond it evicts the longest-silent session rather than being refused:
	// clients that send one datagram from a fresh port each time (DNS, the
	// conformance probes) must not lock out everyone for the idle timeout.
	maxUDPSessions = 1024
	// maxDatagram is the largest UDP payload over IPv4, rounded up.
	maxDatagram = 64 << 10
)

var datagrams = sync.Pool{New: func() any { b := make([]byte, maxDatagram); return &b }}

// udpPort is a UDP listener: each client address gets a session, a
// connected socket to the target chosen for its first datagram, so that the
// answers can be told apart and sent back from the listener's address.
type udpPort struct {
	s  *Server
	p  *port
	pc *net.UDPConn
	tr *tracker

	mu       sync.Mutex
	sessions map[netip.AddrPort]*session
}

type session struct {
	client netip.AddrPort
	up     *net.UDPConn
	link   *link
	idle   time.Duration
	last   atomic.Int64 // unix nanoseconds of the last datagram either way
}

func (ss *session) touch() { ss.last.Store(time.Now().UnixNano()) }

func (ss *session) quiet() time.Duration { return time.Since(time.Unix(0, ss.last.Load())) }

// openUDP binds a UDP listener and serves it until p.close.
func (s *Server) openUDP(p *port, t *table) error {
	addr, err := net.ResolveUDPAddr("udp", s.listenAddr(t))
	if err != nil {
		return err
	}
	pc, err := net.ListenUDP("udp", addr)
	if err != nil {
		return err
	}
	u := &udpPort{s: s, p: p, pc: pc, tr: newTracker(), sessions: map[netip.AddrPort]*session{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		u.serve()
	}()
	p.swapped = func(t *table) { u.tr.prune(t.streams) }
	// Answers leave through the listener's socket, so sessions cannot
	// outlive it: no grace period.
	p.close = func(wait bool) {
		_ = pc.Close()
		<-done
		u.tr.closeAll()
		if wait {
			u.tr.wg.Wait()
		}
	}
	return nil
}

// serve reads the clients' datagrams and sends each on its session.
func (u *udpPort) serve() {
	bp := datagrams.Get().(*[]byte)
	defer datagrams.Put(bp)
	buf := *bp
	for {
		n, from, err := u.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			u.s.logger.Debug("UDP read failed", "listener", u.p.table.Load().name, "error", err)
			continue
		}
		ss := u.session(from)
		if ss == nil {
			continue // no route: the datagram is dropped, as UDP allows
		}
		ss.touch()
		if _, err := ss.up.Write(buf[:n]); err != nil {
			u.s.logger.Debug("UDP send to target failed", "client", from.String(), "error", err)
		}
	}
}

// session returns from's session, starting one if needed; nil drops the
// datagram.
func (u *udpPort) session(from netip.AddrPort) *session {
	u.mu.Lock()
	defer u.mu.Unlock()
	if ss, ok := u.sessions[from]; ok {
		return ss
	}
	current := u.p.table.Load
	st := current().streams.first
	if st == nil {
		return nil
	}
	b := st.pick()
	if b == nil || b.group == nil {
		return nil
	}
	addr := b.group.nextAddr()
	if addr == "" {
		return nil
	}
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil
	}
	if len(u.sessions) >= maxUDPSessions {
		u.evictLocked()
	}
	// Connecting the socket makes the kernel drop datagrams from anyone but
	// the target, and report an unreachable target as an error on Read.
	up, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		u.s.logger.Debug("UDP target unreachable", "stream", st.name, "target", addr, "error", err)
		return nil
	}
	l, ok := u.tr.track(up)
	if !ok {
		return nil
	}
	if !u.tr.route(l, st.name, current) {
		u.tr.release(l)
		return nil
	}
	ss := &session{client: from, up: up, link: l, idle: current().streams.idle}
	ss.touch()
	u.sessions[from] = ss
	go u.pump(ss)
	return ss
}

// evictLocked ends the session that has been silent longest. The caller
// holds u.mu.
func (u *udpPort) evictLocked() {
	var oldest *session
	for _, ss := range u.sessions {
		if oldest == nil || ss.last.Load() < oldest.last.Load() {
			oldest = ss
		}
	}
	if oldest != nil {
		delete(u.sessions, oldest.client)
		oldest.link.close()
	}
}

// pump sends the target's datagrams back to the client until the session
// has been silent both ways for its idle time, or its socket fails (an
// unreachable target) or is closed (eviction, a lost route, shutdown). The
// next datagram from the client then starts a new session.
func (u *udpPort) pump(ss *session) {
	defer u.tr.release(ss.link)
	defer u.forget(ss)
	bp := datagrams.Get().(*[]byte)
	defer datagrams.Put(bp)
	buf := *bp
	for {
		_ = ss.up.SetReadDeadline(time.Unix(0, ss.last.Load()).Add(ss.idle))
		n, err := ss.up.Read(buf)
		if n > 0 {
			ss.touch()
			if _, werr := u.pc.WriteToUDPAddrPort(buf[:n], ss.client); werr != nil && errors.Is(werr, net.ErrClosed) {
				return
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && ss.quiet() < ss.idle {
				continue // the client spoke meanwhile
			}
			return
		}
	}
}

// forget removes ss from the session map unless a newer session already
// took its client's place.
func (u *udpPort) forget(ss *session) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.sessions[ss.client] == ss {
		delete(u.sessions, ss.client)
	}
}
