package albplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
)

// Config configures a Plane.
type Config struct {
	// AWS is the SDK configuration of the API double (its endpoint,
	// region and credentials), e.g. localstack.Env.AWSConfig.
	AWS aws.Config
	// PollInterval, when set, makes Start sync on that period (about
	// 100ms suits a test that does not call Sync itself); zero syncs only
	// on Start and on Sync.
	PollInterval time.Duration
	// DialTarget connects to a target ("ip:port"); nil dials directly,
	// with ALB's 10-second connection timeout. A harness whose targets
	// are reachable another way (Pods in a network namespace) sets it.
	DialTarget func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logf, when set, receives the poll loop's errors.
	Logf func(format string, args ...any)
}

// Plane serves the load balancers an ELBv2 API describes.
type Plane struct {
	cfg     Config
	rd      *reader
	keys    keys
	table   atomic.Pointer[table]
	proxies [kinds]*httputil.ReverseProxy

	syncMu sync.Mutex // one Sync at a time

	// base ends with Close: dials to targets use it.
	base       context.Context
	cancelBase context.CancelFunc

	mu      sync.Mutex
	ips     map[string]netip.Addr // by load balancer ARN
	sockets map[sockKey]*socket
	closed  bool
	lastErr error
	stop    context.CancelFunc
	done    chan struct{}
}

type sockKey struct {
	lb   string
	port int32
	udp  bool
}

// socket is one listening port of a load balancer.
type socket struct {
	addr  string // the local address, "127.a.b.c:port"
	close func() error
}

// New returns a Plane; it neither calls the API nor listens until Start or
// Sync.
func New(cfg Config) (*Plane, error) {
	p := &Plane{cfg: cfg, ips: map[string]netip.Addr{}, sockets: map[sockKey]*socket{}}
	p.base, p.cancelBase = context.WithCancel(context.Background())
	p.rd = &reader{elb: elbv2.NewFromConfig(cfg.AWS), acm: acm.NewFromConfig(cfg.AWS), keys: &p.keys}
	p.table.Store(&table{byDNS: map[string]*balancer{}, byARN: map[string]*balancer{}})
	p.newProxies()
	return p, nil
}

// Start syncs once and, with a PollInterval, keeps syncing until Close.
// The first Sync's error is returned; the plane serves what it could read
// either way.
func (p *Plane) Start(ctx context.Context) error {
	err := p.Sync(ctx)
	if p.cfg.PollInterval <= 0 {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.stop != nil {
		return err
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.stop, p.done = cancel, make(chan struct{})
	go p.poll(pctx)
	return err
}

func (p *Plane) poll(ctx context.Context) {
	defer close(p.done)
	tick := time.NewTicker(p.cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := p.Sync(ctx); err != nil && ctx.Err() == nil && p.cfg.Logf != nil {
			p.cfg.Logf("albplane: %v", err)
		}
	}
}

// Err returns the last Sync's error.
func (p *Plane) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// Sync reads the API's state, swaps it in and opens and closes listening
// ports to match. Requests already routed keep the table they started
// with. Elements it cannot serve (a certificate without a key, an action
// it does not know) are left out and named in the error; the rest is
// served.
func (p *Plane) Sync(ctx context.Context) error {
	p.syncMu.Lock()
	defer p.syncMu.Unlock()
	if p.isClosed() {
		return errors.New("albplane: closed")
	}
	t, err := p.rd.read(ctx)
	if t != nil {
		p.table.Store(t)
		err = errors.Join(err, p.listen(t))
	}
	p.mu.Lock()
	p.lastErr = err
	p.mu.Unlock()
	return err
}

func (p *Plane) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// listen opens a port for every listener of t that has none, and closes
// those of listeners gone.
func (p *Plane) listen(t *table) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	want := map[sockKey]*balancer{}
	for _, b := range t.byARN {
		for port, li := range b.Listeners {
			switch li.Protocol {
			case "UDP":
				want[sockKey{b.ARN, port, true}] = b
			case "TCP_UDP":
				want[sockKey{b.ARN, port, true}] = b
				want[sockKey{b.ARN, port, false}] = b
			default:
				want[sockKey{b.ARN, port, false}] = b
			}
		}
	}
	var errs []error
	for k, s := range p.sockets {
		if _, ok := want[k]; !ok {
			_ = s.close()
			delete(p.sockets, k)
		}
	}
	for k, b := range want {
		if _, ok := p.sockets[k]; ok {
			continue
		}
		ip, ok := p.ips[k.lb]
		if !ok {
			ip = p.freeIP()
			p.ips[k.lb] = ip
		}
		s, err := p.open(k, b, ip)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.sockets[k] = s
	}
	for arn := range p.ips {
		if _, ok := t.byARN[arn]; !ok {
			delete(p.ips, arn)
		}
	}
	return errors.Join(errs...)
}

// freeIP picks a loopback address no load balancer of this plane has, at
// random in 127.64.0.0/10 so that planes in parallel test processes
// rarely meet (and when they do, the listener port falls back to one the
// kernel picks).
func (p *Plane) freeIP() netip.Addr {
	for {
		a := netip.AddrFrom4([4]byte{127, byte(64 + rand.IntN(64)), byte(rand.IntN(256)), byte(1 + rand.IntN(254))})
		used := false
		for _, x := range p.ips {
			used = used || x == a
		}
		if !used {
			return a
		}
	}
}

// bind listens on ip at the listener's own port when it is free there,
// else at a port the kernel picks.
func bind(ip netip.Addr, port int32, udp bool) (net.Listener, net.PacketConn, error) {
	try := func(port int) (net.Listener, net.PacketConn, error) {
		addr := net.JoinHostPort(ip.String(), strconv.Itoa(port))
		if udp {
			c, err := net.ListenPacket("udp", addr)
			return nil, c, err
		}
		l, err := net.Listen("tcp", addr)
		return l, nil, err
	}
	if l, c, err := try(int(port)); err == nil {
		return l, c, nil
	}
	return try(0)
}

func (p *Plane) open(k sockKey, b *balancer, ip netip.Addr) (*socket, error) {
	l, pc, err := bind(ip, k.port, k.udp)
	if err != nil {
		return nil, fmt.Errorf("albplane: listen for %s port %d: %w", b.DNSName, k.port, err)
	}
	if k.udp {
		u := p.serveUDP(k, pc)
		return &socket{addr: pc.LocalAddr().String(), close: u.close}, nil
	}
	if b.Type == "network" {
		n := p.serveNLB(k, l)
		return &socket{addr: l.Addr().String(), close: n.close}, nil
	}
	front := &albFront{p: p, lbARN: k.lb, port: k.port}
	srv := &http.Server{Handler: front, ReadHeaderTimeout: time.Minute,
		// ALB's default idle timeout is 60 seconds.
		IdleTimeout: 60 * time.Second}
	go func() { _ = srv.Serve(&tlsSwitch{Listener: l, front: front}) }()
	return &socket{addr: l.Addr().String(), close: srv.Close}, nil
}

// tlsSwitch terminates TLS on the connections of an HTTPS listener. The
// protocol is read per connection, so a listener changed from HTTP to
// HTTPS (ModifyListener) keeps its port.
type tlsSwitch struct {
	net.Listener
	front *albFront
}

func (s *tlsSwitch) Accept() (net.Conn, error) {
	c, err := s.Listener.Accept()
	if err != nil {
		return nil, err
	}
	li := s.front.listener()
	if li == nil || li.Protocol != "HTTPS" {
		return c, nil
	}
	return tls.Server(c, &tls.Config{
		// ALB negotiates HTTP/2 with clients on HTTPS listeners only.
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			li := s.front.listener()
			if li == nil {
				return nil, errors.New("albplane: listener gone")
			}
			return chooseCert(li.Certs, hello)
		},
	}), nil
}

func (p *Plane) ctx() context.Context { return p.base }

// dialTarget connects to a target.
func (p *Plane) dialTarget(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if p.cfg.DialTarget != nil {
		return p.cfg.DialTarget(ctx, network, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// Addr returns the local address ("127.a.b.c:port") where the listener at
// port of the load balancer with DNS name dnsName is served, once a Sync
// has seen it.
func (p *Plane) Addr(dnsName string, port int) (string, bool) {
	return p.addr(dnsName, port, false)
}

func (p *Plane) addr(dnsName string, port int, udp bool) (string, bool) {
	b := p.table.Load().byDNS[strings.ToLower(strings.TrimSuffix(dnsName, "."))]
	if b == nil {
		return "", false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sockets[sockKey{b.ARN, int32(port), udp}]
	if !ok {
		return "", false
	}
	return s.addr, true
}

// DialContext connects to "<load balancer DNS name>:<port>" through the
// plane ("tcp" or "udp" networks), for an http.Transport's DialContext. An
// address that is no load balancer's listener is an error: a test's
// requests never leave the machine by accident.
func (p *Plane) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("albplane: %w", err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("albplane: port %q", port)
	}
	udp := strings.HasPrefix(network, "udp")
	local, ok := p.addr(host, n, udp)
	if !ok {
		return nil, fmt.Errorf("albplane: %s is no load balancer listener this plane serves", address)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, local)
}

// Close stops polling and closes every listening port and the
// connections they accepted. Syncs after it fail.
func (p *Plane) Close() error {
	p.mu.Lock()
	p.closed = true
	stop, done := p.stop, p.done
	p.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	p.cancelBase()
	p.syncMu.Lock() // a Sync in progress ends first
	defer p.syncMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for k, s := range p.sockets {
		if err := s.close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
		delete(p.sockets, k)
	}
	for _, tr := range p.proxies {
		if t, ok := tr.Transport.(*http.Transport); ok {
			t.CloseIdleConnections()
		}
	}
	return errors.Join(errs...)
}
