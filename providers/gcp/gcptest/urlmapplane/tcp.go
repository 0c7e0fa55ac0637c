package urlmapplane

import (
	"fmt"
	"io"
	"net"
	"sync"
)

// Target TCP proxies (a regional external proxy Network Load Balancer)
// forward each connection to an endpoint of their backend service, round
// robin, with proxyHeader PROXY_V1 prepending a PROXY protocol v1 line
// ("Target proxies", targetTcpProxies reference:
// https://cloud.google.com/compute/docs/reference/rest/v1/regionTargetTcpProxies).
// A connection that finds no endpoint, or cannot reach the one it drew,
// is closed.

func (p *Plane) serveTCP(l *listener) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		if !l.track(c) {
			_ = c.Close()
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			return
		}
		p.wg.Add(1)
		p.mu.Unlock()
		go func() {
			defer p.wg.Done()
			defer l.untrack(c)
			p.forwardTCP(l.key, c)
		}()
	}
}

func (p *Plane) forwardTCP(key string, c net.Conn) {
	defer c.Close()
	t := p.table.Load()
	f := t.frontends[key]
	if f == nil {
		return
	}
	ep, ok := p.next(t.services[f.service])
	if !ok {
		return
	}
	up, err := p.dial(p.ctx, "tcp", ep)
	if err != nil {
		return
	}
	defer up.Close()
	if f.proxyHeader == "PROXY_V1" {
		if _, err := io.WriteString(up, proxyV1(c.RemoteAddr(), key)); err != nil {
			return
		}
	}
	stop := context2Close(p, c, up)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			_ = dst.Close()
		}
	}
	go pipe(up, c)
	go pipe(c, up)
	wg.Wait()
}

// context2Close closes both connections when the plane closes.
func context2Close(p *Plane, a, b net.Conn) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-p.ctx.Done():
			_ = a.Close()
			_ = b.Close()
		case <-done:
		}
	}()
	return func() { close(done) }
}

// proxyV1 is the PROXY protocol v1 line for a client at from reaching the
// load balancer at to ("ip:port").
func proxyV1(from net.Addr, to string) string {
	src, ok := from.(*net.TCPAddr)
	dst, err := net.ResolveTCPAddr("tcp", to)
	if !ok || err != nil {
		return "PROXY UNKNOWN\r\n"
	}
	family := "TCP4"
	if src.IP.To4() == nil || dst.IP.To4() == nil {
		family = "TCP6"
	}
	return fmt.Sprintf("PROXY %s %s %s %d %d\r\n", family, src.IP, dst.IP, src.Port, dst.Port)
}
