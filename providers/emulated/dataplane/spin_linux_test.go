package dataplane

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (conn, peer *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	p, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return c.(*net.TCPConn), p.(*net.TCPConn)
}

// TestSpinnerReads checks that a spinner reads as net.Conn's Read does:
// what the peer wrote, whether it comes during the poll or after it parks,
// a deadline's error, io.EOF once the peer closes, and a reset as a
// *net.OpError.
func TestSpinnerReads(t *testing.T) {
	conn, peer := tcpPair(t)
	s := newSpinner(conn)
	if s == nil {
		t.Fatal("no spinner for a TCP connection")
	}
	inFlight.Add(1) // as during an exchange, so that reads poll
	defer inFlight.Add(-1)
	buf := make([]byte, 16)
	for _, delay := range []time.Duration{0, spinFor / 5, 20 * spinFor} {
		go func() {
			time.Sleep(delay)
			_, _ = peer.Write([]byte("answer"))
		}()
		n, err := s.Read(buf)
		if err != nil || string(buf[:n]) != "answer" {
			t.Fatalf("written after %v: read %q, %v", delay, buf[:n], err)
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := s.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want %v", err, os.ErrDeadlineExceeded)
	}
	_ = conn.SetReadDeadline(time.Time{})
	_ = peer.Close()
	if n, err := s.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read after the peer closed: %d, %v, want io.EOF", n, err)
	}

	conn, peer = tcpPair(t)
	s = newSpinner(conn)
	_ = peer.SetLinger(0) // Close sends a reset
	_ = peer.Close()
	var opErr *net.OpError
	if _, err := s.Read(buf); !errors.As(err, &opErr) || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after a reset: %v, want a *net.OpError of ECONNRESET", err)
	}
}
