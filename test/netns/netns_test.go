package netns

import (
	"io"
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
