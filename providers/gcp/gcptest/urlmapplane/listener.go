package urlmapplane

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// listener is one frontend's local socket. What it serves is read from
// the plane's current table at each request (HTTP) or connection (TCP,
// the TLS handshake), so that a change never needs a new socket.
type listener struct {
	key  string
	kind string
	ln   net.Listener
	srv  *http.Server // HTTP and HTTPS

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // TCP
	closed bool
	done   chan struct{} // the serving goroutine ended
}

// listen opens f's socket and serves it: on the forwarding rule's own
// address when that is a loopback one (a double whose external addresses
// are loopback ones, so that clients which dial the Gateway's address with
// no custom dialer reach the plane), else on a free port of the plane's
// loopback address. p.mu is held.
func (p *Plane) listen(f *frontend) (*listener, error) {
	at := net.JoinHostPort(p.cfg.ListenIP, "0")
	if ap, err := netip.ParseAddrPort(f.key); err == nil && ap.Addr().IsLoopback() {
		at = f.key
	}
	ln, err := net.Listen("tcp", at)
	if err != nil {
		return nil, fmt.Errorf("urlmapplane: listen for %s: %w", f.key, err)
	}
	l := &listener{key: f.key, kind: f.kind, ln: ln, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	key := f.key
	p.wg.Add(1)
	switch f.kind {
	case kindHTTP, kindHTTPS:
		scheme := "http"
		if f.kind == kindHTTPS {
			scheme = "https"
		}
		l.srv = &http.Server{
			Handler:           p.handler(key, scheme),
			ReadHeaderTimeout: 30 * time.Second,
			// Handshake failures and broken clients are the test's to see,
			// not the log's.
			ErrorLog: log.New(io.Discard, "", 0),
		}
		if f.kind == kindHTTPS {
			l.srv.TLSConfig = &tls.Config{
				MinVersion: tls.VersionTLS12,
				NextProtos: []string{"h2", "http/1.1"},
				GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
					fr := p.table.Load().frontends[key]
					if fr == nil {
						return nil, errors.New("urlmapplane: the forwarding rule is gone")
					}
					if c := pickCertificate(fr.certs, hello.ServerName); c != nil {
						return c, nil
					}
					return nil, fmt.Errorf("urlmapplane: no certificate of %s can be served (see Problems)", key)
				},
			}
		}
		go func() {
			defer p.wg.Done()
			defer close(l.done)
			if f.kind == kindHTTPS {
				_ = l.srv.ServeTLS(ln, "", "")
			} else {
				_ = l.srv.Serve(ln)
			}
		}()
	case kindTCP:
		go func() {
			defer p.wg.Done()
			defer close(l.done)
			p.serveTCP(l)
		}()
	}
	return l, nil
}

// close stops the listener and cuts its connections; it does not wait.
func (l *listener) close() {
	l.mu.Lock()
	l.closed = true
	for c := range l.conns {
		_ = c.Close()
	}
	l.mu.Unlock()
	if l.srv != nil {
		_ = l.srv.Close()
		return
	}
	_ = l.ln.Close()
}

// track records a TCP connection for close; false when the listener is
// already closed (the caller closes c).
func (l *listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *listener) untrack(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
}
