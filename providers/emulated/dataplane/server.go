package dataplane

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// Config configures a Server.
type Config struct {
	// Address is the load balancer's IP; every listener binds to it.
	Address netip.Addr
	// Transport carries proxied requests to targets. Share one between Servers
	// so keep-alive connections are pooled; nil means NewTransport().
	Transport http.RoundTripper
	// H2CTransport carries proxied requests to H2C target groups: HTTP/2
	// with prior knowledge, without TLS. Share it like Transport; nil means
	// NewH2CTransport().
	H2CTransport http.RoundTripper
	// Logger receives debug logs about backend errors; nil discards them.
	Logger *slog.Logger
}

// ListenerState reports one listener after Apply.
type ListenerState struct {
	Name     string
	Port     int32
	Protocol lb.Protocol
	// Bound is true when the listener's socket is open and serving.
	Bound bool
	// Error says why the socket could not be opened.
	Error string
}

// Server is the data plane of one load balancer: one socket per listener port
// on Config.Address. It is safe for concurrent use.
type Server struct {
	addr   netip.Addr
	fwd    *forwarder
	logger *slog.Logger

	mu     sync.Mutex
	ports  map[int32]*port
	closed bool
}

// port is one open listener socket with its current routing table.
type port struct {
	protocol lb.Protocol
	table    atomic.Pointer[table]
	// close stops the socket; see httpPort.close. swapped, if set, runs after
	// each table swap (stream ports close the connections that lost their
	// route).
	close   func(wait bool)
	swapped func(*table)
}

// NewTransport returns the keep-alive Transport the proxy uses by default:
// short dial timeouts so a dead target fails fast with 502.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // targets are local; never via an environment proxy
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// NewH2CTransport returns the Transport for H2C target groups. It speaks
// only unencrypted HTTP/2, so a request to an http:// target starts with the
// HTTP/2 preface instead of an HTTP/1.1 upgrade.
func NewH2CTransport() *http.Transport {
	t := NewTransport()
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	t.Protocols = &p
	return t
}

// listenerProtocols are what listeners accept: HTTP/1.1, HTTP/2 over TLS
// (ALPN), and HTTP/2 with prior knowledge on plain HTTP, which clients of
// h2c backends (and the Gateway API conformance suite) send to the gateway.
func listenerProtocols() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	return &p
}

// NewServer returns a Server with no open ports; Apply opens them.
func NewServer(cfg Config) *Server {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	transport := cfg.Transport
	if transport == nil {
		transport = NewTransport()
	}
	h2c := cfg.H2CTransport
	if h2c == nil {
		h2c = NewH2CTransport()
	}
	return &Server{
		addr:   cfg.Address,
		logger: logger,
		fwd:    newForwarder(transport, h2c, logger.Debug),
		ports:  map[int32]*port{},
	}
}

// Apply makes the Server's sockets match c and returns the state of each
// listener in c, by port order. A port that fails to bind is reported, not
// fatal: the next Apply tries it again.
func (s *Server) Apply(c *Compiled) []ListenerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := make(map[int32]*table, len(c.tables))
	for _, t := range c.tables {
		want[t.port] = t
	}
	// Close first, so that a protocol change frees the port before it reopens.
	for n, p := range s.ports {
		if t, ok := want[n]; !ok || t.protocol != p.protocol || s.closed {
			p.close(false)
			delete(s.ports, n)
		}
	}
	states := make([]ListenerState, 0, len(c.tables))
	for _, t := range c.tables {
		st := ListenerState{Name: t.name, Port: t.port, Protocol: t.protocol}
		if s.closed {
			st.Error = "load balancer deleted"
			states = append(states, st)
			continue
		}
		if p, ok := s.ports[t.port]; ok {
			// The swap is the whole update: requests already routed keep the
			// table they loaded, new ones see t.
			p.table.Store(t)
			if p.swapped != nil {
				p.swapped(t)
			}
			st.Bound = true
		} else if p, err := s.open(t); err != nil {
			st.Error = err.Error()
		} else {
			s.ports[t.port] = p
			st.Bound = true
		}
		states = append(states, st)
	}
	return states
}

func (s *Server) open(t *table) (*port, error) {
	p := &port{protocol: t.protocol}
	p.table.Store(t)
	var err error
	switch t.protocol {
	case lb.ProtocolTCP, lb.ProtocolTLS:
		err = s.openTCP(p, t)
	case lb.ProtocolUDP:
		err = s.openUDP(p, t)
	default:
		err = s.openHTTP(p, t)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (s *Server) listenAddr(t *table) string {
	return net.JoinHostPort(s.addr.String(), strconv.Itoa(int(t.port)))
}

func (s *Server) openHTTP(p *port, t *table) error {
	ln, err := net.Listen("tcp", s.listenAddr(t))
	if err != nil {
		return err
	}
	done := make(chan struct{}) // closed when Serve returns
	srv := &http.Server{
		Handler:           handler{current: p.table.Load, fwd: s.fwd},
		Protocols:         listenerProtocols(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// Handshake errors from scanners and tests are noise, not failures.
		ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	serve := func() error { return srv.Serve(ln) }
	if t.protocol == lb.ProtocolHTTPS {
		srv.TLSConfig = &tls.Config{
			MinVersion: tls.VersionTLS12,
			GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
				return p.table.Load().certificate(hello.ServerName)
			},
			// Read per handshake, so that a table swap changes client
			// validation for the next connection; nil keeps this config.
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
				return p.table.Load().clientTLS, nil
			},
		}
		serve = func() error { return srv.ServeTLS(ln, "", "") }
	}
	go func() {
		defer close(done)
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Debug("Listener stopped", "address", ln.Addr().String(), "error", err)
		}
	}()
	// close stops accepting at once, so a dial right after close fails. With
	// wait false, requests in flight get a grace period in the background;
	// with wait true (shutdown) their connections are cut and close returns
	// when done.
	p.close = func(wait bool) {
		_ = ln.Close()
		if wait {
			_ = srv.Close()
			<-done
			return
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
			defer cancel()
			if srv.Shutdown(ctx) != nil {
				_ = srv.Close()
			}
		}()
	}
	return nil
}

// closeGrace is how long connections in flight may finish after their
// listener is removed or changes protocol.
const closeGrace = 5 * time.Second

// Close closes every socket of the Server and cuts the connections in flight.
// A closed Server binds nothing on later Applies.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for n, p := range s.ports {
		p.close(true)
		delete(s.ports, n)
	}
	if s.fwd.up != nil {
		s.fwd.up.close()
	}
	return nil
}

// errNoCertificate is what a TLS client sees when the listener has none; Compile
// prevents it for HTTPS listeners, so it only guards against a bad table.
var errNoCertificate = errors.New("no certificate for this listener")

// certificate selects the certificate for an SNI server name: the most
// specific virtual host whose hostname matches, then its first certificate
// whose leaf covers the name, else its first; without SNI or a matching
// virtual host, the catch-all's first certificate, else the listener's first.
func (t *table) certificate(serverName string) (*tls.Certificate, error) {
	name := normalizeHost(serverName)
	if name != "" {
		if vh, ok := t.hosts.lookup(name); ok && len(vh.certs) > 0 {
			for _, c := range vh.certs {
				if c.Leaf != nil && c.Leaf.VerifyHostname(name) == nil {
					return c, nil
				}
			}
			return vh.certs[0], nil
		}
	} else if t.hosts.hasAny && len(t.hosts.any.certs) > 0 {
		return t.hosts.any.certs[0], nil
	}
	if t.firstCert == nil {
		return nil, errNoCertificate
	}
	return t.firstCert, nil
}
