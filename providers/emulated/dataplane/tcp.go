package dataplane

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

const (
	// dialTimeout bounds connecting to a target; past it the client's
	// connection is closed, as a load balancer resets it.
	dialTimeout = 5 * time.Second
	// helloTimeout bounds reading a TLS ClientHello and, when terminating,
	// the whole handshake, so that silent clients do not hold goroutines.
	helloTimeout = 10 * time.Second
	// maxHello bounds the bytes read while looking for the ClientHello; a
	// real one fits in a few kilobytes (crypto/tls refuses above 64 KiB).
	maxHello = 80 << 10
)

// openTCP binds a TCP or TLS listener and serves it until p.close.
func (s *Server) openTCP(p *port, t *table) error {
	ln, err := net.Listen("tcp", s.listenAddr(t))
	if err != nil {
		return err
	}
	tr := newTracker()
	// ctx ends dials in progress when the port closes.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.accept(ctx, ln, p, tr)
	}()
	p.swapped = func(t *table) { tr.prune(t.streams) }
	p.close = func(wait bool) {
		_ = ln.Close()
		<-done
		if wait {
			cancel()
			tr.closeAll()
			tr.wg.Wait()
			return
		}
		// Like the HTTP listeners' graceful shutdown: the connections left
		// get closeGrace to finish, then are cut.
		time.AfterFunc(closeGrace, func() {
			cancel()
			tr.closeAll()
		})
	}
	return nil
}

// accept runs a listener's accept loop until the listener closes.
func (s *Server) accept(ctx context.Context, ln net.Listener, p *port, tr *tracker) {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait instead of spinning,
			// as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger.Debug("Accept failed", "address", ln.Addr().String(), "error", err, "retryIn", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		l, ok := tr.track(c)
		if !ok {
			continue
		}
		go func() {
			defer tr.release(l)
			s.serveStream(ctx, c, l, p, tr)
		}()
	}
}

// serveStream carries one client connection of a TCP or TLS listener. The
// caller closes c (through the link) when it returns.
func (s *Server) serveStream(ctx context.Context, c net.Conn, l *link, p *port, tr *tracker) {
	var (
		st      *stream
		replay  []byte   // TLS passthrough: the ClientHello bytes already read
		client  net.Conn = c
		current          = p.table.Load
	)
	if p.protocol == lb.ProtocolTLS {
		_ = c.SetDeadline(time.Now().Add(helloTimeout))
		serverName, hello, err := peekClientHello(c)
		if err != nil {
			s.logger.Debug("No TLS ClientHello", "listener", current().name, "error", err)
			return
		}
		// The table is read after the hello, so the connection sees the
		// newest routes.
		if st = current().streams.forTLS(serverName); st == nil {
			s.logger.Debug("No stream for the TLS server name", "listener", current().name, "serverName", serverName)
			return
		}
		if st.terminate != nil {
			tc := tls.Server(&replayConn{Conn: c, pending: hello}, st.terminate)
			if err := tc.Handshake(); err != nil {
				s.logger.Debug("TLS handshake failed", "stream", st.name, "error", err)
				return
			}
			client = tc
		} else {
			replay = hello
		}
		_ = c.SetDeadline(time.Time{})
	} else if st = current().streams.first; st == nil {
		return // a listener without routes refuses connections
	}
	if !tr.route(l, st.name, current) {
		return
	}
	b := st.pick()
	if b == nil || b.group == nil {
		return // an invalid backend reference's share: closed at once
	}
	addr := b.group.nextAddr()
	if addr == "" {
		return
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	up, err := (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext(dctx, "tcp", addr)
	cancel()
	if err != nil {
		s.logger.Debug("Target unreachable", "stream", st.name, "target", addr, "error", err)
		return
	}
	if !l.hold(up) {
		return
	}
	if cfg := b.group.tls; cfg != nil {
		// Terminated TLS re-encrypted to the target (a BackendTLSPolicy).
		tc := tls.Client(up, cfg)
		_ = up.SetDeadline(time.Now().Add(dialTimeout))
		if err := tc.Handshake(); err != nil {
			s.logger.Debug("TLS handshake with the target failed", "stream", st.name, "target", addr, "error", err)
			return
		}
		_ = up.SetDeadline(time.Time{})
		up = tc
	}
	if len(replay) > 0 {
		_ = up.SetWriteDeadline(time.Now().Add(dialTimeout))
		if _, err := up.Write(replay); err != nil {
			return
		}
		_ = up.SetWriteDeadline(time.Time{})
	}
	splice(client, up, current().streams.idle, l.close)
}

// splice copies bytes both ways until both directions have ended. An end of
// stream from one side is passed on as a half-close (CloseWrite), so
// protocols that close their sending side and then read the answer work; any
// error, or no byte in either direction for idle, ends both by cut.
func splice(a, b net.Conn, idle time.Duration, cut func()) {
	var last atomic.Int64
	touch := func() { last.Store(time.Now().UnixNano()) }
	touch()
	// One timer per connection instead of a deadline per read: activity only
	// stores a timestamp, and the timer checks it when it fires.
	var (
		watch   *time.Timer
		mu      sync.Mutex // guards watch and stopped
		stopped bool
	)
	mu.Lock()
	watch = time.AfterFunc(idle, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if quiet := time.Since(time.Unix(0, last.Load())); quiet < idle {
			watch.Reset(idle - quiet)
			return
		}
		cut()
	})
	mu.Unlock()
	defer func() {
		mu.Lock()
		stopped = true
		watch.Stop()
		mu.Unlock()
	}()
	errc := make(chan error, 1)
	go func() { errc <- copyHalf(b, a, touch) }()
	err := copyHalf(a, b, touch)
	if err != nil {
		cut() // unblocks the other direction
	}
	if err2 := <-errc; err2 != nil && err == nil {
		cut()
	}
}

// copyHalf copies src to dst until src ends. A clean end of src half-closes
// dst and returns nil.
func copyHalf(dst, src net.Conn, touch func()) error {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := *bp
	for {
		n, err := src.Read(buf)
		if n > 0 {
			touch()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// errHelloRead stops the throwaway TLS server once it has parsed the
// ClientHello.
var errHelloRead = errors.New("client hello read")

// peekClientHello reads c until a whole TLS ClientHello has arrived and
// returns its SNI server name ("" without SNI) and every byte read, which the
// caller must replay. Parsing is crypto/tls's own, run on a connection that
// records what it reads and discards what it writes: it handles hellos split
// over several records and refuses malformed ones with an error, never a
// panic.
func peekClientHello(c net.Conn) (serverName string, hello []byte, err error) {
	rec := &helloRecorder{Conn: c}
	seen := false
	srv := tls.Server(rec, &tls.Config{
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			serverName, seen = h.ServerName, true
			return nil, errHelloRead
		},
	})
	err = srv.Handshake()
	if !seen {
		if err == nil {
			err = errors.New("handshake ended without a ClientHello")
		}
		return "", nil, err
	}
	return serverName, rec.buf.Bytes(), nil
}

// helloRecorder is the throwaway TLS server's connection: reads come from
// the client and are kept; writes (the alert sent on abort) and Close never
// reach the client.
type helloRecorder struct {
	net.Conn
	buf bytes.Buffer
}

var errHelloTooLarge = errors.New("client hello too large")

func (r *helloRecorder) Read(p []byte) (int, error) {
	if r.buf.Len() >= maxHello {
		return 0, errHelloTooLarge
	}
	if len(p) > maxHello-r.buf.Len() {
		p = p[:maxHello-r.buf.Len()]
	}
	n, err := r.Conn.Read(p)
	r.buf.Write(p[:n])
	return n, err
}

func (r *helloRecorder) Write(p []byte) (int, error) { return len(p), nil }
func (r *helloRecorder) Close() error                { return nil }

// replayConn reads pending before the rest of Conn: the terminating TLS
// server must see the ClientHello that peekClientHello already consumed.
type replayConn struct {
	net.Conn
	pending []byte
}

func (r *replayConn) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	return r.Conn.Read(p)
}
