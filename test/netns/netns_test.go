package netns

import (
	"io"
	"net"
	"net/http"
	"os"
	"testing"
)

func TestListenInNamespaceIsReachable(t *testing.T) {
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	name := h.Name
	l, err := h.Listen(0)
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "inside") })}
	go func() { _ = srv.Serve(l) }()

	resp, err := http.Get("http://" + l.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "inside" {
		t.Fatalf("body %q", body)
	}
	if got := l.Addr().String(); got[:7] != "198.18." {
		t.Fatalf("listener address %s is not the namespace's", got)
	}
	_ = srv.Close()
	h.Close()
	if _, err := os.Stat("/run/netns/" + name); !os.IsNotExist(err) {
		t.Fatalf("namespace %s still exists after Close", name)
	}
}

// A listener on the namespace's loopback is reached from inside the
// namespace, and the same address on this side is another socket.
func TestListenAtLoopbackIsTheNamespaces(t *testing.T) {
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	l, err := h.ListenAt("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "inside")
			c.Close()
		}
	}()
	var got []byte
	if err := h.do(func() error {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			return err
		}
		defer c.Close()
		got, err = io.ReadAll(c)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if string(got) != "inside" {
		t.Fatalf("read %q from inside the namespace", got)
	}
	// Nothing here listens on that port (it was free inside the namespace,
	// and is very likely free here): a refusal, not the namespace's server.
	if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
		b, _ := io.ReadAll(c)
		c.Close()
		if string(b) == "inside" {
			t.Fatalf("the namespace's loopback listener answered on this side's loopback")
		}
	}
}
