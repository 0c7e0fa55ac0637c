package emulated_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// tcpBackend greets each connection with "hello NAME\n", echoes what it
// reads, and says "bye NAME\n" once the client has half-closed: a proxy that
// does not pass the half-close on never gets the goodbye.
func tcpBackend(t testing.TB, name string) lb.Target {
	t.Helper()
	return serveTCP(t, func(c net.Conn) {
		fmt.Fprintf(c, "hello %s\n", name)
		if _, err := io.Copy(c, c); err == nil {
			fmt.Fprintf(c, "bye %s\n", name)
		}
	})
}

// tlsBackend terminates TLS with its own certificate (common name NAME) and
// tells the client which server name it saw, then echoes.
func tlsBackend(t testing.TB, name string) lb.Target {
	t.Helper()
	cert := selfSigned(t, name, "*.example.com", "a.example.com")
	pair, err := tls.X509KeyPair(cert.CertPEM, cert.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}}
	return serveTCP(t, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		if tc.Handshake() != nil {
			return
		}
		fmt.Fprintf(tc, "hello %s sni=%s\n", name, tc.ConnectionState().ServerName)
		_, _ = io.Copy(tc, tc)
	})
}

func serveTCP(t testing.TB, handle func(net.Conn)) lb.Target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	ap := netip.MustParseAddrPort(ln.Addr().String())
	return lb.Target{IP: ap.Addr().String(), Port: int32(ap.Port())}
}

// udpBackend answers each datagram with "NAME from SOURCE: PAYLOAD", so that
// a test sees which session socket of the proxy sent it.
func udpBackend(t testing.TB, name string) lb.Target {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { _ = pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteToUDPAddrPort([]byte(fmt.Sprintf("%s from %s: %s", name, from, buf[:n])), from)
		}
	}()
	ap := netip.MustParseAddrPort(pc.LocalAddr().String())
	return lb.Target{IP: ap.Addr().String(), Port: int32(ap.Port())}
}

func l4group(name string, proto lb.Protocol, targets ...lb.Target) lb.TargetGroup {
	return lb.TargetGroup{Name: name, Protocol: proto, Targets: targets}
}

func streamTo(name, hostname string, backends ...lb.WeightedBackend) lb.Stream {
	return lb.Stream{Name: name, Hostname: hostname, Backends: backends}
}

func dialTCP(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c.(*net.TCPConn)
}

// closedByProxy reports whether the proxy closed c without sending a byte.
func closedByProxy(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 1))
	var ne net.Error
	return n == 0 && err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func TestTCPStreams(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	m := &lb.LoadBalancer{
		Owner: owner("tcp"),
		TargetGroups: []lb.TargetGroup{
			l4group("a", lb.ProtocolTCP, tcpBackend(t, "a")),
			l4group("b", lb.ProtocolTCP, tcpBackend(t, "b")),
			l4group("dead", lb.ProtocolTCP, deadTarget(t)),
			l4group("empty", lb.ProtocolTCP),
		},
		Listeners: []lb.Listener{
			{Name: "weighted", Port: 9000, Protocol: lb.ProtocolTCP, Streams: []lb.Stream{
				streamTo("r/weighted", "", to("a", 3), to("b", 1), to("empty", 0)),
				streamTo("r/ignored", "", to("b", 1)), // only the first Stream serves TCP
			}},
			{Name: "invalid", Port: 9001, Protocol: lb.ProtocolTCP, Streams: []lb.Stream{streamTo("r/invalid", "", to("", 1))}},
			{Name: "none", Port: 9002, Protocol: lb.ProtocolTCP},
			{Name: "dead", Port: 9003, Protocol: lb.ProtocolTCP, Streams: []lb.Stream{streamTo("r/dead", "", to("dead", 1))}},
			{Name: "empty", Port: 9004, Protocol: lb.ProtocolTCP, Streams: []lb.Stream{streamTo("r/empty", "", to("empty", 1))}},
			{Name: "zero", Port: 9005, Protocol: lb.ProtocolTCP, Streams: []lb.Stream{streamTo("r/zero", "", to("a", 0))}},
		},
	}
	ip := ensure(t, p, m).Addresses[0].Value
	addr := func(port int) string { return net.JoinHostPort(ip, fmt.Sprint(port)) }

	t.Run("weighted split", func(t *testing.T) {
		const n = 400
		counts := map[string]int{}
		for range n {
			c := dialTCP(t, addr(9000))
			line, err := bufio.NewReader(c).ReadString('\n')
			_ = c.Close()
			if err != nil {
				t.Fatalf("greeting: %v", err)
			}
			counts[strings.TrimSpace(line)]++
		}
		// 3:1 is 300 of 400; 4.5 standard deviations is far from flaky.
		if a := counts["hello a"]; a < 260 || a > 340 || counts["hello a"]+counts["hello b"] != n {
			t.Errorf("connections by backend = %v, want about 300 for a and the rest for b", counts)
		}
	})

	t.Run("half-close", func(t *testing.T) {
		c := dialTCP(t, addr(9000))
		defer c.Close()
		r := bufio.NewReader(c)
		greeting, _ := r.ReadString('\n')
		name := strings.TrimPrefix(strings.TrimSpace(greeting), "hello ")
		if _, err := io.WriteString(c, "one\ntwo\n"); err != nil {
			t.Fatal(err)
		}
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		rest, err := io.ReadAll(r)
		if want := "one\ntwo\nbye " + name + "\n"; err != nil || string(rest) != want {
			t.Errorf("after half-close read %q (%v), want %q", rest, err, want)
		}
	})

	for port, why := range map[int]string{9001: "invalid backend", 9002: "no stream", 9003: "dead target",
		9004: "no targets", 9005: "zero weights"} {
		c := dialTCP(t, addr(port))
		if !closedByProxy(c) {
			t.Errorf("%s (port %d): connection not closed", why, port)
		}
		_ = c.Close()
	}
}

func TestUDPStreams(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	m := &lb.LoadBalancer{
		Owner:   owner("udp"),
		Options: lb.Options{IdleTimeout: 300 * time.Millisecond},
		TargetGroups: []lb.TargetGroup{
			l4group("a", lb.ProtocolUDP, udpBackend(t, "a")),
			l4group("b", lb.ProtocolUDP, udpBackend(t, "b")),
		},
		Listeners: []lb.Listener{
			{Name: "dns", Port: 5353, Protocol: lb.ProtocolUDP, Streams: []lb.Stream{streamTo("r/udp", "", to("a", 1), to("b", 1))}},
			{Name: "invalid", Port: 5354, Protocol: lb.ProtocolUDP, Streams: []lb.Stream{streamTo("r/invalid", "", to("", 1))}},
		},
	}
	ip := ensure(t, p, m).Addresses[0].Value
	gw := net.JoinHostPort(ip, "5353")

	exchange := func(c net.Conn, msg string) (string, error) {
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte(msg)); err != nil {
			return "", err
		}
		buf := make([]byte, 2048)
		n, err := c.Read(buf)
		return string(buf[:n]), err
	}
	dial := func(addr string) net.Conn {
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}

	t.Run("session sticks to one target until idle", func(t *testing.T) {
		c := dial(gw)
		first, err := exchange(c, "ping")
		if err != nil || !strings.HasSuffix(first, ": ping") {
			t.Fatalf("first answer %q (%v)", first, err)
		}
		for i := range 10 {
			got, err := exchange(c, fmt.Sprint("ping ", i))
			if want := strings.TrimSuffix(first, "ping") + fmt.Sprint("ping ", i); err != nil || got != want {
				t.Fatalf("answer %d = %q (%v), want %q: same backend, same session socket", i, got, err, want)
			}
		}
		time.Sleep(time.Second) // past the 300ms idle timeout
		again, err := exchange(c, "ping")
		if err != nil {
			t.Fatal(err)
		}
		if again == first {
			t.Errorf("after the idle timeout the backend saw the same session socket: %q", again)
		}
	})

	t.Run("new clients spread by weight", func(t *testing.T) {
		seen := map[string]int{}
		for range 60 {
			got, err := exchange(dial(gw), "hi")
			if err != nil {
				t.Fatal(err)
			}
			name, _, _ := strings.Cut(got, " ")
			seen[name]++
		}
		if seen["a"] < 10 || seen["b"] < 10 {
			t.Errorf("answers by backend = %v, want both about half", seen)
		}
	})

	t.Run("invalid backend drops", func(t *testing.T) {
		if got, err := exchange(dial(net.JoinHostPort(ip, "5354")), "hi"); err == nil {
			t.Errorf("got answer %q through an invalid backend", got)
		}
	})
}

func TestTLSStreams(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	listenerCert := selfSigned(t, "gateway-cert", "term.test", "*.term.test")
	otherCert := selfSigned(t, "other-cert", "other.test")
	terminate := streamTo("r/term", "*.term.test", to("plain", 1))
	terminate.Certificates = []lb.Certificate{otherCert, listenerCert}
	m := &lb.LoadBalancer{
		Owner: owner("tls"),
		TargetGroups: []lb.TargetGroup{
			l4group("exact", lb.ProtocolTCP, tlsBackend(t, "exact")),
			l4group("plain", lb.ProtocolTCP, tcpBackend(t, "plain")),
			l4group("wild", lb.ProtocolTCP, tlsBackend(t, "wild")),
		},
		Listeners: []lb.Listener{{Name: "tls", Port: 8443, Protocol: lb.ProtocolTLS, Streams: []lb.Stream{
			streamTo("r/exact", "a.example.com", to("exact", 1)),
			terminate,
			streamTo("r/wild", "*.example.com", to("wild", 1)),
			streamTo("r/invalid", "invalid.test", to("", 1)),
		}}},
	}
	gw := net.JoinHostPort(ensure(t, p, m).Addresses[0].Value, "8443")
	dial := func(serverName string) (*tls.Conn, error) {
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second},
			Config: &tls.Config{ServerName: serverName, InsecureSkipVerify: true}} //nolint:gosec // tests read the certificate themselves
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := d.DialContext(ctx, "tcp", gw)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { _ = c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		return c.(*tls.Conn), nil
	}

	for sni, want := range map[string]string{
		"a.example.com":     "hello exact sni=a.example.com",
		"A.Example.COM":     "hello exact sni=A.Example.COM", // SNI matching ignores case
		"b.example.com":     "hello wild sni=b.example.com",
		"x.y.z.example.com": "hello wild sni=x.y.z.example.com",
	} {
		c, err := dial(sni)
		if err != nil {
			t.Errorf("passthrough %s: %v", sni, err)
			continue
		}
		cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName
		line, err := bufio.NewReader(c).ReadString('\n')
		if cn != strings.Fields(want)[1] || strings.TrimSpace(line) != want || err != nil {
			t.Errorf("passthrough %s: certificate %q, read %q (%v); want the backend's own certificate and %q", sni, cn, line, err, want)
		}
	}

	t.Run("terminate", func(t *testing.T) {
		c, err := dial("www.term.test")
		if err != nil {
			t.Fatal(err)
		}
		if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "gateway-cert" {
			t.Errorf("terminating listener presented %q, want the Stream's certificate for the name", cn)
		}
		r := bufio.NewReader(c)
		// The backend is plain TCP: its greeting and echo reaching the client
		// intact proves it got plaintext.
		if line, err := r.ReadString('\n'); line != "hello plain\n" || err != nil {
			t.Fatalf("greeting %q (%v)", line, err)
		}
		fmt.Fprint(c, "PING\n")
		if line, err := r.ReadString('\n'); line != "PING\n" || err != nil {
			t.Errorf("echo %q (%v)", line, err)
		}
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		if rest, err := io.ReadAll(r); string(rest) != "bye plain\n" || err != nil {
			t.Errorf("after close_notify read %q (%v), want the backend's goodbye", rest, err)
		}
	})

	for _, sni := range []string{"nope.test", "example.com", "", "invalid.test"} {
		if c, err := dial(sni); err == nil {
			t.Errorf("SNI %q: handshake succeeded with %q, want the connection closed", sni,
				c.ConnectionState().PeerCertificates[0].Subject.CommonName)
		}
	}

	t.Run("garbage", func(t *testing.T) {
		for _, junk := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "\x16\x03\x01\xff\xff", "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",
			strings.Repeat("\x00", 5000)} {
			c := dialTCP(t, gw)
			_, _ = io.WriteString(c, junk)
			if !closedByProxy(c) {
				t.Errorf("garbage %q: connection not closed", junk[:min(len(junk), 16)])
			}
			_ = c.Close()
		}
		if _, err := dial("a.example.com"); err != nil {
			t.Errorf("listener broken after garbage: %v", err)
		}
	})
}

// TestStreamChangeUnderLoad changes a TCP listener's routes while clients
// keep talking: connections in flight keep their backend as long as their
// Stream exists, new ones take the new route, and a Stream that goes away
// takes its connections with it.
func TestStreamChangeUnderLoad(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	groups := []lb.TargetGroup{
		l4group("a", lb.ProtocolTCP, tcpBackend(t, "a")),
		l4group("b", lb.ProtocolTCP, tcpBackend(t, "b")),
	}
	model := func(streams ...lb.Stream) *lb.LoadBalancer {
		return &lb.LoadBalancer{Owner: lb.Owner{Cluster: "test", Namespace: "default", Name: "load", UID: "uid-load"},
			TargetGroups: groups, Listeners: []lb.Listener{{Name: "tcp", Port: 9100, Protocol: lb.ProtocolTCP, Streams: streams}}}
	}
	gw := net.JoinHostPort(ensure(t, p, model(streamTo("r/one", "", to("a", 1)))).Addresses[0].Value, "9100")

	// Clients that ping their connection in a loop until stop.
	const clients = 16
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var pings atomic.Int64
	failures := make(chan error, clients)
	for i := range clients {
		c := dialTCP(t, gw)
		_ = c.SetDeadline(time.Time{})
		r := bufio.NewReader(c)
		if line, err := r.ReadString('\n'); line != "hello a\n" || err != nil {
			t.Fatalf("client %d greeting %q (%v)", i, line, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				msg := fmt.Sprintf("client %d ping %d\n", i, n)
				if _, err := io.WriteString(c, msg); err != nil {
					failures <- err
					return
				}
				if got, err := r.ReadString('\n'); got != msg || err != nil {
					failures <- fmt.Errorf("client %d: echo %q (%v), want %q", i, got, err, msg)
					return
				}
				pings.Add(1)
			}
		}()
	}
	greeting := func() string {
		c := dialTCP(t, gw)
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSpace(line)
	}

	// Same Stream, new backend: connections in flight stay on a.
	for i := range 5 {
		target := []string{"b", "a"}[i%2]
		ensure(t, p, model(streamTo("r/one", "", to(target, 1))))
		if got := greeting(); got != "hello "+target {
			t.Errorf("new connection after switching to %s greeted %q", target, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ensure(t, p, model(streamTo("r/one", "", to("b", 1))))
	before := pings.Load()
	time.Sleep(200 * time.Millisecond)
	if pings.Load() == before {
		t.Error("connections in flight stopped after route changes that kept their Stream")
	}
	select {
	case err := <-failures:
		t.Fatalf("a connection in flight failed during route changes: %v", err)
	default:
	}

	// Another Stream replaces it: the old connections lost their route.
	ensure(t, p, model(streamTo("r/two", "", to("b", 1))))
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		close(stop)
		t.Fatal("connections of a removed Stream were not closed")
	}
	if got := len(failures); got != clients {
		t.Errorf("%d of %d connections ended when their Stream went away", got, clients)
	}
	if got := greeting(); got != "hello b" {
		t.Errorf("new connection greeted %q, want b", got)
	}

	// A protocol change on the same port reopens it.
	udp := model()
	udp.TargetGroups = append(udp.TargetGroups, l4group("u", lb.ProtocolUDP, udpBackend(t, "u")))
	udp.Listeners[0].Protocol = lb.ProtocolUDP
	udp.Listeners[0].Streams = []lb.Stream{streamTo("r/udp", "", to("u", 1))}
	ensure(t, p, udp)
	c, err := net.Dial("udp", gw)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	_, _ = c.Write([]byte("x"))
	buf := make([]byte, 256)
	if n, err := c.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "u from") {
		t.Errorf("UDP after the protocol change: %q (%v)", buf[:n], err)
	}
}

func TestStreamValidation(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	bad := lb.Certificate{Name: "default/broken", CertPEM: []byte("nope"), KeyPEM: []byte("SECRET")}
	for name, m := range map[string]*lb.LoadBalancer{
		"bad certificate": {Owner: owner("badcert"), TargetGroups: []lb.TargetGroup{l4group("g", lb.ProtocolTCP)},
			Listeners: []lb.Listener{{Name: "tls", Port: 443, Protocol: lb.ProtocolTLS, Streams: []lb.Stream{
				{Name: "s", Certificates: []lb.Certificate{bad}, Backends: []lb.WeightedBackend{to("g", 1)}}}}}},
		"UDP group on TCP": {Owner: owner("mismatch"), TargetGroups: []lb.TargetGroup{l4group("g", lb.ProtocolUDP)},
			Listeners: []lb.Listener{{Name: "tcp", Port: 80, Protocol: lb.ProtocolTCP, Streams: []lb.Stream{streamTo("s", "", to("g", 1))}}}},
		"TCP group on HTTP": {Owner: owner("httptcp"), TargetGroups: []lb.TargetGroup{l4group("g", lb.ProtocolTCP)},
			Listeners: []lb.Listener{{Name: "http", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{
				{Rules: []lb.Rule{forward("r", lb.Match{}, to("g", 1))}}}}}},
	} {
		_, err := p.Ensure(context.Background(), m)
		if !errors.Is(err, providers.ErrInvalid) {
			t.Errorf("%s: Ensure = %v, want a refusal wrapping ErrInvalid", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: error leaks the key: %v", name, err)
		}
	}
}

func TestStreamCapabilities(t *testing.T) {
	c := newProvider(t, startCloud(t)).Capabilities()
	for _, proto := range []lb.Protocol{lb.ProtocolTCP, lb.ProtocolUDP, lb.ProtocolTLS} {
		if !c.Protocols[proto] {
			t.Errorf("Protocols lacks %s", proto)
		}
	}
	if !c.TLSTerminate || !c.BackendProtocols[lb.ProtocolTCP] || !c.BackendProtocols[lb.ProtocolUDP] {
		t.Errorf("capabilities = %+v, want TLSTerminate and TCP and UDP target groups", c)
	}
}
