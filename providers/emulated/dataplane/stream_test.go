package dataplane

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

func TestStreamSelectionBySNI(t *testing.T) {
	s := func(name, host string) lb.Stream { return lb.Stream{Name: name, Hostname: host} }
	c, err := Compile(Spec{Listeners: []lb.Listener{{Name: "tls", Port: 443, Protocol: lb.ProtocolTLS, Streams: []lb.Stream{
		s("exact", "a.b.example.com"),
		s("deep", "*.b.example.com"),
		s("wild", "*.example.com"),
		s("dup", "a.b.example.com"), // the first Stream of a hostname wins
		s("any", ""),
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	st := c.tables[0].streams
	for sni, want := range map[string]string{
		"a.b.example.com": "exact", "A.B.Example.com.": "exact", "x.b.example.com": "deep", "y.x.b.example.com": "deep",
		"b.example.com": "wild", "example.com": "any", "": "any", "other.test": "any",
	} {
		if got := st.forTLS(sni); got == nil || got.name != want {
			t.Errorf("SNI %q chose %v, want %q", sni, got, want)
		}
	}
	c, err = Compile(Spec{Listeners: []lb.Listener{{Name: "tls", Port: 443, Protocol: lb.ProtocolTLS,
		Streams: []lb.Stream{s("only", "a.test")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.tables[0].streams.forTLS("b.test"); got != nil {
		t.Errorf("unknown SNI chose %q, want none", got.name)
	}
}

func TestCompileStreamErrors(t *testing.T) {
	_, err := Compile(Spec{
		TargetGroups: []lb.TargetGroup{{Name: "u", Protocol: lb.ProtocolUDP}, {Name: "h", Protocol: lb.ProtocolHTTP}},
		Listeners: []lb.Listener{
			{Name: "tcp", Port: 1, Protocol: lb.ProtocolTCP, Streams: []lb.Stream{
				{Name: "s", Backends: []lb.WeightedBackend{{TargetGroup: "u", Weight: 1}, {TargetGroup: "h", Weight: 1}, {TargetGroup: "x", Weight: 1}}},
				{Name: "s"},
				{Name: "c", Certificates: []lb.Certificate{{Name: "ns/c"}}},
			}},
			{Name: "vh", Port: 2, Protocol: lb.ProtocolUDP, VirtualHosts: []lb.VirtualHost{{}}},
			{Name: "http", Port: 3, Protocol: lb.ProtocolHTTP, Streams: []lb.Stream{{Name: "s"}}},
		},
	})
	for _, want := range []string{`target group "u" speaks "UDP"`, `target group "h" speaks "HTTP"`, `unknown target group "x"`,
		"duplicate stream name", "certificates on a TCP listener", "takes streams, not virtual hosts", "takes virtual hosts, not streams"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}

// readerConn is a net.Conn whose reads come from r and whose writes vanish:
// enough for peekClientHello, which only reads.
type readerConn struct {
	net.Conn // nil: any other method panics, which would fail the test
	r        io.Reader
}

func (c *readerConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *readerConn) Write(p []byte) (int, error) { return len(p), nil }

// trickle hands out one byte per Read, as a slow network might, so that the
// parser must assemble records and messages across reads.
type trickle struct{ data []byte }

func (tr *trickle) Read(p []byte) (int, error) {
	if len(tr.data) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0], tr.data = tr.data[0], tr.data[1:]
	return 1, nil
}

// clientHello returns the first flight a crypto/tls client sends for
// serverName.
func clientHello(t testing.TB, serverName string) []byte {
	t.Helper()
	client, server := net.Pipe()
	defer server.Close()
	go func() {
		_ = tls.Client(client, &tls.Config{ServerName: serverName, InsecureSkipVerify: true}).Handshake() //nolint:gosec // never completes
		_ = client.Close()
	}()
	buf := make([]byte, 64<<10)
	_ = server.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := server.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

func TestPeekClientHello(t *testing.T) {
	hello := clientHello(t, "a.example.com")
	// What follows the hello on the wire must not be lost either.
	wire := append(bytes.Clone(hello), "more"...)
	for name, r := range map[string]io.Reader{"whole": bytes.NewReader(wire), "byte by byte": &trickle{data: wire}} {
		sni, got, err := peekClientHello(&readerConn{r: r})
		if err != nil || sni != "a.example.com" || !bytes.HasPrefix(wire, got) || len(got) < len(hello) {
			t.Errorf("%s: sni %q, %d of %d hello bytes, %v", name, sni, len(got), len(hello), err)
		}
	}
	if sni, _, err := peekClientHello(&readerConn{r: bytes.NewReader(clientHello(t, ""))}); err != nil || sni != "" {
		t.Errorf("without SNI: %q, %v", sni, err)
	}
	for _, junk := range [][]byte{nil, []byte("GET / HTTP/1.1\r\n\r\n"), hello[:len(hello)/2], {0x16, 3, 1, 0xff, 0xff},
		bytes.Repeat([]byte{0x16, 3, 1, 0, 4, 1, 0, 0, 0}, 20000)} {
		if _, _, err := peekClientHello(&readerConn{r: bytes.NewReader(junk)}); err == nil {
			t.Errorf("garbage %q accepted", junk[:min(len(junk), 20)])
		}
	}
}

// FuzzPeekClientHello checks that no input makes the parser panic, and
// that whatever it reports having read is what it was given.
func FuzzPeekClientHello(f *testing.F) {
	f.Add(clientHello(f, "a.example.com"))
	f.Add(clientHello(f, ""))
	f.Add([]byte{0x16, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, got, err := peekClientHello(&readerConn{r: bytes.NewReader(data)})
		if err == nil && !bytes.HasPrefix(data, got) {
			t.Fatalf("recorded bytes are not a prefix of the input")
		}
	})
}

// TestTCPIdleTimeout runs a Server directly with a short idle limit: a silent
// connection is closed, a talkative one is not.
func TestTCPIdleTimeout(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	target := netip.MustParseAddrPort(echo.Addr().String())
	c, err := Compile(Spec{
		IdleTimeout:  300 * time.Millisecond,
		TargetGroups: []lb.TargetGroup{{Name: "g", Protocol: lb.ProtocolTCP, Targets: []lb.Target{{IP: "127.0.0.1", Port: int32(target.Port())}}}},
		Listeners: []lb.Listener{{Name: "tcp", Port: 9200, Protocol: lb.ProtocolTCP, Streams: []lb.Stream{
			{Name: "s", Backends: []lb.WeightedBackend{{TargetGroup: "g", Weight: 1}}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.AddrFrom4([4]byte{127, byte(101 + mrand.IntN(150)), byte(mrand.IntN(256)), 1})
	srv := NewServer(Config{Address: addr})
	defer srv.Close()
	if st := srv.Apply(c); !st[0].Bound {
		t.Fatalf("listener not bound: %s", st[0].Error)
	}
	gw := net.JoinHostPort(addr.String(), "9200")
	quiet, err := net.Dial("tcp", gw)
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	busy, err := net.Dial("tcp", gw)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	r := bufio.NewReader(busy)
	_ = busy.SetDeadline(time.Now().Add(5 * time.Second))
	for i := range 8 { // 800ms of talk, well past the idle limit
		fmt.Fprintf(busy, "%d\n", i)
		if line, err := r.ReadString('\n'); err != nil || line != fmt.Sprintf("%d\n", i) {
			t.Fatalf("busy connection: %q, %v", line, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = quiet.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := quiet.Read(make([]byte, 1)); err == nil || n > 0 {
		t.Errorf("quiet connection still open after the idle limit: %d, %v", n, err)
	}
}
