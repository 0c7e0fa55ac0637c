package urlmapplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config says which region's load balancers the plane serves and how.
type Config struct {
	// Endpoint is the Compute Engine REST root the provider writes to,
	// "http://127.0.0.1:41234" (gcptest.Server.URL).
	Endpoint string
	// Project and Region hold the load balancers (regional ones only).
	Project string
	Region  string
	// HTTPClient makes the API calls; nil is a plain client.
	HTTPClient *http.Client
	// ListenIP is the loopback address the frontends listen on, each on
	// a port of its own; empty is 127.0.0.1. It must be in 127.0.0.0/8:
	// the plane is a test fixture and never listens beyond the machine.
	ListenIP string
	// PollInterval is how often Start's loop reads the API again; 0 is
	// 100ms, a negative value turns polling off (Sync only).
	PollInterval time.Duration
	// Keys holds the private keys of SSL certificates, which the API
	// never returns; without them HTTPS frontends cannot handshake.
	Keys *Keyring
	// DialEndpoint connects to network endpoints ("ip:port" of a NEG);
	// nil is a net.Dialer with a 5 second timeout.
	DialEndpoint func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives what the plane cannot serve and failed syncs; nil
	// discards.
	Logger *slog.Logger
}

// Plane serves the load balancers of one region, as Compute Engine's API
// describes them, on loopback addresses. All methods are safe for
// concurrent use.
type Plane struct {
	cfg    Config
	rd     *reader
	logger *slog.Logger
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	// rand draws in [0, 1) for weights and percentages; tests pin it.
	rand func() float64

	table atomic.Pointer[table]
	// transports by backend service protocol.
	transports map[string]*http.Transport

	syncMu   sync.Mutex // one Sync at a time
	problems []string   // the last sync's, for Problems and logging once

	mu        sync.Mutex
	listeners map[string]*listener // by "ip:port"
	rr        map[string]*atomic.Uint64
	started   bool
	closed    bool

	ctx    context.Context // ends at Close: polls, mirrors, TCP copies
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// mirrors bounds the mirrored requests in flight: a slow mirror
	// costs dropped copies, never a client's latency.
	mirrors chan struct{}
}

// ErrClosed is returned by Sync and Start after Close.
var ErrClosed = errors.New("urlmapplane: the plane is closed")

// maxMirrorsInFlight bounds concurrent mirrored requests.
const maxMirrorsInFlight = 64

// New returns a plane for cfg; it neither calls the API nor listens until
// Start or Sync.
func New(cfg Config) (*Plane, error) {
	if cfg.Endpoint == "" || cfg.Project == "" || cfg.Region == "" {
		return nil, errors.New("urlmapplane: Endpoint, Project and Region are required")
	}
	if cfg.ListenIP == "" {
		cfg.ListenIP = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(cfg.ListenIP)
	if err != nil || !netip.MustParsePrefix("127.0.0.0/8").Contains(ip) {
		return nil, fmt.Errorf("urlmapplane: ListenIP %q is not in 127.0.0.0/8", cfg.ListenIP)
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dial := cfg.DialEndpoint
	if dial == nil {
		dial = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Plane{
		cfg:       cfg,
		rd:        &reader{endpoint: trimSlash(cfg.Endpoint), project: cfg.Project, region: cfg.Region, http: cfg.HTTPClient},
		logger:    logger,
		dial:      dial,
		rand:      rand.Float64,
		listeners: map[string]*listener{},
		rr:        map[string]*atomic.Uint64{},
		ctx:       ctx,
		cancel:    cancel,
		mirrors:   make(chan struct{}, maxMirrorsInFlight),
	}
	p.transports = transports(dial)
	p.table.Store(&table{frontends: map[string]*frontend{}, services: map[string]*service{}})
	return p, nil
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// transports are the upstream clients by backend service protocol
// (backendServices reference: HTTP, HTTPS, HTTP2 "HTTP/2 with SSL", H2C
// "HTTP2 over cleartext"). Backends' certificates are not verified: the
// load balancer does not check them unless a backend authentication
// config says so, which the plane does not read.
func transports(dial func(ctx context.Context, network, addr string) (net.Conn, error)) map[string]*http.Transport {
	mk := func(protocols func(*http.Protocols), tlsCfg *tls.Config) *http.Transport {
		var ps http.Protocols
		protocols(&ps)
		return &http.Transport{
			DialContext:           dial,
			TLSClientConfig:       tlsCfg,
			Protocols:             &ps,
			MaxIdleConnsPerHost:   32,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 0, // the route's timeout bounds the exchange
		}
	}
	insecure := func(next ...string) *tls.Config {
		return &tls.Config{InsecureSkipVerify: true, NextProtos: next} //nolint:gosec // backends' certificates are not checked, as GCP does not
	}
	return map[string]*http.Transport{
		"HTTP":  mk(func(p *http.Protocols) { p.SetHTTP1(true) }, nil),
		"HTTPS": mk(func(p *http.Protocols) { p.SetHTTP1(true) }, insecure("http/1.1")),
		"HTTP2": mk(func(p *http.Protocols) { p.SetHTTP2(true) }, insecure("h2")),
		"H2C":   mk(func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }, nil),
	}
}

// Start reads the API once, opens the frontends, and then reads again
// every PollInterval until Close (unless polling is off). Its first read
// failing fails Start.
func (p *Plane) Start(ctx context.Context) error {
	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		return ErrClosed
	case p.started:
		p.mu.Unlock()
		return errors.New("urlmapplane: started twice")
	}
	p.started = true
	p.mu.Unlock()
	if err := p.Sync(ctx); err != nil {
		return err
	}
	if p.cfg.PollInterval < 0 {
		return nil
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(p.cfg.PollInterval)
		defer tick.Stop()
		for {
			select {
			case <-p.ctx.Done():
				return
			case <-tick.C:
				if err := p.Sync(p.ctx); err != nil && p.ctx.Err() == nil {
					p.logger.Warn("Sync failed", "error", err)
				}
			}
		}
	}()
	return nil
}

// Sync reads the API and makes the frontends serve what it read: new
// forwarding rules' ports get a listener, removed ones lose theirs, and
// every other change (a URL map, endpoints, certificates) applies to the
// next request or connection, never to one in flight. When Sync returns
// nil the frontends serve what the API held when it started reading.
func (p *Plane) Sync(ctx context.Context) error {
	p.syncMu.Lock()
	defer p.syncMu.Unlock()
	if p.isClosed() {
		return ErrClosed
	}
	t, problems, err := p.rd.read(ctx, p.cfg.Keys)
	if err != nil {
		return err
	}
	var texts []string
	for _, e := range problems {
		texts = append(texts, e.Error())
	}
	for _, s := range texts {
		if !slices.Contains(p.problems, s) {
			p.logger.Warn("Not served", "problem", s)
		}
	}
	p.problems = texts
	return p.apply(t)
}

// Problems are what the last Sync read but could not serve (a regex that
// does not compile, a certificate without its key, a target that does not
// exist); the rest is served.
func (p *Plane) Problems() []string {
	p.syncMu.Lock()
	defer p.syncMu.Unlock()
	return slices.Clone(p.problems)
}

func (p *Plane) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// apply swaps in t and makes the listeners match its frontends.
func (p *Plane) apply(t *table) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.table.Store(t)
	var errs []error
	for key, l := range p.listeners {
		if f, ok := t.frontends[key]; ok && f.kind == l.kind {
			continue
		}
		l.close()
		delete(p.listeners, key)
	}
	for key, f := range t.frontends {
		if _, ok := p.listeners[key]; ok {
			continue
		}
		l, err := p.listen(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.listeners[key] = l
	}
	for ref := range t.services {
		if p.rr[ref] == nil {
			p.rr[ref] = &atomic.Uint64{}
		}
	}
	return errors.Join(errs...)
}

// Addr is the local address serving the forwarding rule on ip and port,
// "127.0.0.1:40123", and whether there is one.
func (p *Plane) Addr(ip string, port int) (string, bool) {
	a, err := netip.ParseAddr(ip)
	if err != nil || port < 1 || port > 65535 {
		return "", false
	}
	key := netip.AddrPortFrom(a, uint16(port)).String()
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.listeners[key]
	if !ok {
		return "", false
	}
	return l.ln.Addr().String(), true
}

// DialContext connects to a forwarding rule's "ip:port" through its local
// address: a test's http.Transport takes it as its DialContext to send
// requests to the load balancer's cloud address. An address no
// forwarding rule serves is refused, as a cloud address without a rule
// is unreachable.
func (p *Plane) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("urlmapplane: port %q: %w", portText, err)
	}
	local, ok := p.Addr(host, port)
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("urlmapplane: no forwarding rule serves %s", addr)}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, local)
}

// Close stops everything: the poll, the listeners, the connections they
// hold, mirrored requests. It waits for them and is safe to call twice.
func (p *Plane) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.cancel()
	for key, l := range p.listeners {
		l.close()
		delete(p.listeners, key)
	}
	p.mu.Unlock()
	p.wg.Wait()
	for _, t := range p.transports {
		t.CloseIdleConnections()
	}
	return nil
}

// next is a service's next endpoint, round robin.
func (p *Plane) next(s *service) (string, bool) {
	if s == nil || len(s.endpoints) == 0 {
		return "", false
	}
	p.mu.Lock()
	c := p.rr[s.ref]
	if c == nil {
		c = &atomic.Uint64{}
		p.rr[s.ref] = c
	}
	p.mu.Unlock()
	i := c.Add(1) - 1
	return s.endpoints[i%uint64(len(s.endpoints))], true
}

// hit draws whether a percentage (0 to 100) applies.
func (p *Plane) hit(percent float64) bool { return p.rand()*100 < percent }
