package albplane

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// An NLB listener forwards connections (TCP, TLS terminated at the
// listener) and datagram flows (UDP) to a target of its default action's
// groups. "Listeners for your Network Load Balancers",
// https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-listeners.html.

type streamServer struct {
	p     *Plane
	key   sockKey
	l     net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func (p *Plane) serveNLB(k sockKey, l net.Listener) *streamServer {
	s := &streamServer{p: p, key: k, l: l, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.track(c, true)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer s.track(c, false)
				s.serve(c)
			}()
		}
	}()
	return s
}

func (s *streamServer) track(c net.Conn, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
		c.Close()
	}
}

func (s *streamServer) close() error {
	err := s.l.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *streamServer) listener() *listener {
	if b := s.p.table.Load().byARN[s.key.lb]; b != nil {
		return b.Listeners[s.key.port]
	}
	return nil
}

func (s *streamServer) serve(c net.Conn) {
	li := s.listener()
	if li == nil || li.Default == nil || li.Default.Type != "forward" {
		return
	}
	if li.Protocol == "TLS" {
		tc := tls.Server(c, &tls.Config{GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			// "TLS listeners for your Network Load Balancer": the same
			// SNI choice among the listener's certificates as ALB's.
			return chooseCert(li.Certs, hello)
		}})
		if err := tc.Handshake(); err != nil {
			return
		}
		s.mu.Lock()
		s.conns[tc] = struct{}{}
		s.mu.Unlock()
		defer s.track(tc, false)
		c = tc
	}
	g := li.Default.pickGroup()
	if g == nil {
		return
	}
	target, ok := g.pick()
	if !ok {
		// No target to send it to: the connection is closed.
		return
	}
	up, err := s.p.dialTarget(s.p.ctx(), "tcp", target)
	if err != nil {
		return
	}
	if g.Protocol == "TLS" {
		up = tls.Client(up, insecureTLS())
	}
	s.track(up, true)
	defer s.track(up, false)
	pipe(c, up)
}

// pipe copies both ways until both directions end, passing half-closes on.
func pipe(a, b net.Conn) {
	var wg sync.WaitGroup
	half := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		type closeWriter interface{ CloseWrite() error }
		if cw, ok := dst.(closeWriter); ok {
			_ = cw.CloseWrite()
		} else {
			dst.Close()
		}
	}
	wg.Add(2)
	go half(a, b)
	go half(b, a)
	wg.Wait()
}

// udpIdle is NLB's idle timeout for UDP flows: 120 seconds
// ("Connection idle timeout" on the NLB listeners page).
const udpIdle = 120 * time.Second

type udpServer struct {
	p     *Plane
	key   sockKey
	pc    net.PacketConn
	mu    sync.Mutex
	flows map[string]net.Conn // by client address
	wg    sync.WaitGroup
}

func (p *Plane) serveUDP(k sockKey, pc net.PacketConn) *udpServer {
	u := &udpServer{p: p, key: k, pc: pc, flows: map[string]net.Conn{}}
	u.wg.Add(1)
	go u.run()
	return u
}

func (u *udpServer) run() {
	defer u.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := u.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		up := u.flow(from)
		if up == nil {
			continue
		}
		_, _ = up.Write(buf[:n])
	}
}

// flow returns the target connection of a client's flow, opening it (and
// its reply loop) on the flow's first datagram.
func (u *udpServer) flow(from net.Addr) net.Conn {
	u.mu.Lock()
	defer u.mu.Unlock()
	if c, ok := u.flows[from.String()]; ok {
		return c
	}
	b := u.p.table.Load().byARN[u.key.lb]
	if b == nil {
		return nil
	}
	li := b.Listeners[u.key.port]
	if li == nil || li.Default == nil || li.Default.Type != "forward" {
		return nil
	}
	g := li.Default.pickGroup()
	if g == nil {
		return nil
	}
	target, ok := g.pick()
	if !ok {
		return nil
	}
	up, err := u.p.dialTarget(u.p.ctx(), "udp", target)
	if err != nil {
		return nil
	}
	u.flows[from.String()] = up
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		defer func() {
			u.mu.Lock()
			delete(u.flows, from.String())
			u.mu.Unlock()
			up.Close()
		}()
		buf := make([]byte, 64<<10)
		for {
			_ = up.SetReadDeadline(time.Now().Add(udpIdle))
			n, err := up.Read(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					return
				}
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue // an ICMP error for one datagram: the flow stays
			}
			_, _ = u.pc.WriteTo(buf[:n], from)
		}
	}()
	return up
}

func (u *udpServer) close() error {
	err := u.pc.Close()
	u.mu.Lock()
	for _, c := range u.flows {
		c.Close()
	}
	u.mu.Unlock()
	u.wg.Wait()
	return err
}
