package dataplane

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// body64 is the benchmarks' backend response, as in the figures.
var body64 = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n")

// BenchmarkForward sends one request at a time, over keep-alive
// connections, straight to a backend (direct), through the fast path
// (fast), and through the full path (full: a request header modifier takes
// it there). Client, proxy and backend share the process, so allocs/op
// counts all three.
//
// extra-allocs/op is what the data plane allocates beyond net/http's
// servers: a client that allocates nothing (rawClient) counts the
// allocations of a direct request, which are the backend's http.Server's,
// and of a proxied one, which are those of the proxy's http.Server, of its
// forwarding and of the backend's server. Both servers read the same
// request fields (the client sends X-Forwarded-* itself, as the proxy
// does) and set response fields (the proxy copies the backend's), so
// proxied less twice direct is the forwarding's own. (full's includes the
// one request header that its rule sets.)
func BenchmarkForward(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body64)
	}))
	b.Cleanup(backend.Close)
	f := newProxyFixture(b, backend,
		forwardRule("/fast", lb.Action{}),
		forwardRule("/full", lb.Action{RequestHeaders: &lb.HeaderModifier{Set: []lb.Header{{Name: "X-Path", Value: "full"}}}}),
	)
	get := func(b *testing.B, url string) func() {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		return func() {
			resp, err := f.client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	}
	run := func(path string, extra bool) func(*testing.B) {
		return func(b *testing.B) {
			base := f.base
			if !extra {
				base = backend.URL
			}
			do := get(b, base+path)
			do() // a keep-alive connection on each leg
			b.ReportAllocs()
			for b.Loop() {
				do()
			}
			if extra {
				direct := testing.AllocsPerRun(1000, rawClient(b, backend.URL, "/"))
				proxied := testing.AllocsPerRun(1000, rawClient(b, f.base, path))
				b.ReportMetric(proxied-2*direct, "extra-allocs/op")
			}
		}
	}
	b.Run("direct", run("/", false))
	b.Run("fast", run("/fast", true))
	b.Run("full", run("/full", true))
}

// rawClient returns a function that sends GET path to the server at base
// ("http://host:port") over one keep-alive connection and reads the answer,
// allocating nothing itself.
func rawClient(b *testing.B, base, path string) func() {
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nX-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Host: bench.test\r\nX-Forwarded-Proto: http\r\n\r\n")
	br := bufio.NewReader(conn)
	return func() {
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
		length := -1
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) <= 2 {
				break
			}
			if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
				length = 0
				for _, c := range bytes.TrimSpace(v) {
					length = length*10 + int(c-'0')
				}
			}
		}
		if length < 0 {
			b.Fatal("a response without Content-Length")
		}
		if _, err := br.Discard(length); err != nil {
			b.Fatal(err)
		}
	}
}
