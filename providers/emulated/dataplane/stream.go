package dataplane

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// Defaults for Spec.IdleTimeout. TCP follows what cloud network load
// balancers use (a few minutes); UDP has no close, so a session ends only by
// silence and a shorter limit frees the upstream socket sooner.
const (
	defaultTCPIdle = 350 * time.Second
	defaultUDPIdle = 60 * time.Second
)

// streamTable routes a layer-4 listener's connections. Like table, it is
// read-only after compile.
type streamTable struct {
	// first takes every connection of a TCP listener and every flow of a UDP
	// listener; nil when the listener has no Stream.
	first *stream
	// hosts selects a TLS listener's Stream by SNI server name.
	hosts hostTable[*stream]
	// names holds every Stream's name, so that a swap can tell which
	// connections in flight lost their route.
	names map[string]bool
	idle  time.Duration
}

// stream is a compiled lb.Stream.
type stream struct {
	name     string
	backends []backend // only upTo and group are used
	total    int64
	// terminate is set when the Stream has certificates: TLS ends at the
	// load balancer and the backend gets the plain bytes.
	terminate *tls.Config
	certs     []*tls.Certificate
}

// pick draws a backend by weight. nil, or a backend with a nil group, means
// the connection must be closed.
func (s *stream) pick() *backend { return pickBackend(s.backends, s.total) }

// forTLS returns the Stream that serves a TLS connection with this SNI
// server name (empty without SNI), or nil.
func (st *streamTable) forTLS(serverName string) *stream {
	s, ok := st.hosts.lookup(normalizeHost(serverName))
	if !ok {
		return nil
	}
	return s
}

// has reports whether a Stream of this name still exists in st.
func (st *streamTable) has(name string) bool { return st != nil && st.names[name] }

// certificate picks the terminating Stream's certificate for a server name:
// the first whose leaf covers the name, else the first.
func (s *stream) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := normalizeHost(hello.ServerName)
	if name != "" {
		for _, c := range s.certs {
			if c.Leaf != nil && c.Leaf.VerifyHostname(name) == nil {
				return c, nil
			}
		}
	}
	return s.certs[0], nil
}

func compileStreams(l lb.Listener, groups map[string]*group, idle time.Duration) (*streamTable, error) {
	st := &streamTable{names: make(map[string]bool, len(l.Streams)), idle: idle}
	if st.idle <= 0 {
		st.idle = defaultTCPIdle
		if l.Protocol == lb.ProtocolUDP {
			st.idle = defaultUDPIdle
		}
	}
	// What the listener's target groups must speak: UDP for UDP, and TCP
	// for TCP and TLS, whose bytes (decrypted or not) go over TCP.
	want := lb.ProtocolTCP
	if l.Protocol == lb.ProtocolUDP {
		want = lb.ProtocolUDP
	}
	var errs []error
	for _, ls := range l.Streams {
		bad := func(format string, a ...any) {
			errs = append(errs, refuse(KindStream, ls.Name, fmt.Errorf(format, a...)))
		}
		if ls.Name == "" || st.names[ls.Name] {
			// No name to leave out by: the listener's own fault.
			errs = append(errs, fmt.Errorf("missing or duplicate stream name %q", ls.Name))
			continue
		}
		st.names[ls.Name] = true
		s := &stream{name: ls.Name}
		for _, b := range ls.Backends {
			if b.Weight < 0 {
				bad("negative weight")
				continue
			}
			s.total += int64(b.Weight)
			be := backend{upTo: s.total}
			if b.TargetGroup != "" {
				g, ok := groups[b.TargetGroup]
				switch {
				case !ok:
					bad("unknown target group %q", b.TargetGroup)
				case g.broken: // its own fault, reported once
				case g.protocol != want:
					bad("target group %q speaks %q, a %s listener needs %s", b.TargetGroup, g.protocol, l.Protocol, want)
				}
				be.group = g
			}
			s.backends = append(s.backends, be)
		}
		if len(ls.Certificates) > 0 {
			if l.Protocol != lb.ProtocolTLS {
				bad("certificates on a %s listener", l.Protocol)
			}
			for _, c := range ls.Certificates {
				cert, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
				if err != nil {
					// The key is secret: report the certificate's name only.
					errs = append(errs, refuse(KindStream, ls.Name,
						refuse(KindCertificate, c.Name, errors.New("invalid certificate or key"))))
					continue
				}
				s.certs = append(s.certs, &cert)
			}
			if len(s.certs) > 0 {
				s.terminate = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.certificate}
			}
		}
		if st.first == nil {
			st.first = s
		}
		if l.Protocol == lb.ProtocolTLS {
			// A duplicate hostname is not an error: the model says the first
			// matching Stream wins, and add keeps the first.
			_ = st.hosts.add(normalizeHost(ls.Hostname), s)
		}
	}
	return st, errors.Join(errs...)
}

// tracker keeps the connections (or UDP sessions) of one stream port, so
// that a swap can close those whose Stream is gone and a close can end them
// all.
type tracker struct {
	mu     sync.Mutex
	links  map[*link]struct{}
	closed bool
	wg     sync.WaitGroup // one per tracked link, done when it is released
}

// link is one client connection or UDP session with the sockets it holds.
type link struct {
	mu     sync.Mutex
	stream string // "" until routed
	conns  []net.Conn
	cut    bool
}

// hold adds c to the sockets closed by cut. If the link is already cut, c is
// closed at once and hold returns false.
func (l *link) hold(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut {
		_ = c.Close()
		return false
	}
	l.conns = append(l.conns, c)
	return true
}

// close closes every socket of the link, which ends its goroutines.
func (l *link) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = true
	for _, c := range l.conns {
		_ = c.Close()
	}
}

func newTracker() *tracker { return &tracker{links: map[*link]struct{}{}} }

// track registers a new link holding c; it fails (closing c) after closeAll.
func (t *tracker) track(c net.Conn) (*link, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		_ = c.Close()
		return nil, false
	}
	l := &link{conns: []net.Conn{c}}
	t.links[l] = struct{}{}
	t.wg.Add(1)
	return l, true
}

// route records the Stream a link was routed to. It fails when the table
// now current (read under the lock prune also holds after a swap) no longer
// has that Stream: the link was routed by a table that was just replaced.
func (t *tracker) route(l *link, name string, current func() *table) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || !current().streams.has(name) {
		return false
	}
	l.mu.Lock()
	l.stream = name
	l.mu.Unlock()
	return true
}

// release forgets a finished link.
func (t *tracker) release(l *link) {
	l.close()
	t.mu.Lock()
	delete(t.links, l)
	t.mu.Unlock()
	t.wg.Done()
}

// prune closes the routed links whose Stream the new table st lacks; the
// others keep their backend.
func (t *tracker) prune(st *streamTable) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for l := range t.links {
		l.mu.Lock()
		name := l.stream
		l.mu.Unlock()
		if name != "" && !st.has(name) {
			l.close()
		}
	}
}

// closeAll refuses new links and closes every tracked one.
func (t *tracker) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for l := range t.links {
		l.close()
	}
}
