package emulated_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// flaky is a backend like the conformance suite's retry simulation: the
// first ?fail= attempts of each ?id= fail, with status ?code= or, with
// ?reset=1, a connection reset after the request was read; each failing
// attempt first sleeps ?delay=. Then it answers 200 with the attempt number
// and the body it got.
type flaky struct {
	target lb.Target
	mu     sync.Mutex
	tries  map[string]int
	bodies map[string][]string
}

func newFlaky(t testing.TB) *flaky {
	t.Helper()
	f := &flaky{tries: map[string]int{}, bodies: map[string][]string{}}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		id := q.Get("id")
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.tries[id]++
		n := f.tries[id]
		f.bodies[id] = append(f.bodies[id], string(body))
		f.mu.Unlock()
		if fail, _ := strconv.Atoi(q.Get("fail")); n <= fail {
			if d, err := time.ParseDuration(q.Get("delay")); err == nil {
				select {
				case <-time.After(d):
				case <-r.Context().Done():
					return
				}
			}
			if q.Get("reset") != "" {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					_ = conn.(*net.TCPConn).SetLinger(0)
					_ = conn.Close()
				}
				return
			}
			code, _ := strconv.Atoi(q.Get("code"))
			w.WriteHeader(code)
			return
		}
		fmt.Fprintf(w, "attempt=%d body=%s", n, body)
	}))
	t.Cleanup(s.Close)
	ap := netip.MustParseAddrPort(s.Listener.Addr().String())
	f.target = lb.Target{IP: ap.Addr().String(), Port: int32(ap.Port())}
	return f
}

func (f *flaky) attempts(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tries[id]
}

func (f *flaky) bodiesOf(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bodies[id]
}

func retried(name, path, group string, rt lb.Retry, to *lb.Timeouts) lb.Rule {
	return rule(name, path, lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: group, Weight: 1}}, Retry: &rt, Timeouts: to})
}

func send(t testing.TB, c *http.Client, method, url, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body = http.NoBody
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: string(b), header: resp.Header}
}

func dur(d time.Duration) *time.Duration { return &d }

// TestRetryCodes sends requests to a backend that fails a given number of
// times and checks the client's answer and the attempts the backend saw.
func TestRetryCodes(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	f := newFlaky(t)
	fast := dur(time.Millisecond)
	m := &lb.LoadBalancer{
		Owner:        owner("retry-codes"),
		TargetGroups: []lb.TargetGroup{group("flaky", f.target)},
		Listeners: []lb.Listener{{Name: "http", Port: 8080, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
			retried("two", "/two", "flaky", lb.Retry{Attempts: 2, Codes: []int{503}, Backoff: fast}, nil),
			retried("slow", "/slow", "flaky", lb.Retry{Attempts: 2, Codes: []int{503}, Backoff: dur(200 * time.Millisecond)}, nil),
			retried("default", "/default", "flaky", lb.Retry{Attempts: 1, Codes: []int{503}}, nil),
			forward("once", lb.Match{Path: prefix("/once")}, to("flaky", 1)),
		}}}}},
	}
	st := ensure(t, p, m)
	base := "http://" + st.Addresses[0].Value + ":8080"
	c := httpClient()
	big := strings.Repeat("b", 65<<10)
	for _, tc := range []struct {
		name, method, path, body string
		status, attempts         int
	}{
		{"503 twice, attempts 2", "GET", "/two?fail=2&code=503", "", 200, 3},
		{"attempts exhausted: the last status", "GET", "/two?fail=3&code=503", "", 503, 3},
		{"a code not listed is not retried", "GET", "/two?fail=1&code=500", "", 500, 1},
		{"a body is replayed", "POST", "/two?fail=1&code=503", "payload", 200, 2},
		{"a body over 64 KiB is sent once", "POST", "/two?fail=1&code=503", big, 503, 1},
		{"the default base interval", "GET", "/default?fail=1&code=503", "", 200, 2},
		{"no retry without one", "GET", "/once?fail=1&code=503", "", 503, 1},
	} {
		id := strings.ReplaceAll(tc.name, " ", "-")
		r := send(t, c, tc.method, base+tc.path+"&id="+id, tc.body)
		if r.status != tc.status || f.attempts(id) != tc.attempts {
			t.Errorf("%s: status %d after %d attempts, want %d after %d", tc.name, r.status, f.attempts(id), tc.status, tc.attempts)
		}
		if tc.status == 200 && !strings.HasSuffix(r.body, "body="+tc.body) {
			t.Errorf("%s: answer %q does not end with the request's body", tc.name, r.body)
		}
		for i, b := range f.bodiesOf(id) {
			if b != tc.body {
				t.Errorf("%s: attempt %d sent a body of %d bytes, want %d", tc.name, i+1, len(b), len(tc.body))
			}
		}
	}

	// Waits grow from the base interval: two retries after 200ms wait at
	// least 100ms and 200ms (the upper halves of 200ms and 400ms).
	start := time.Now()
	if r := send(t, c, "GET", base+"/slow?fail=2&code=503&id=slow", ""); r.status != 200 {
		t.Fatalf("slow: status %d", r.status)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 2*time.Second {
		t.Errorf("two retries with a 200ms backoff took %v, want 300-600ms", took)
	}
}

// TestRetryConnectionErrors checks that a target that refuses connections
// costs a retry, not an error, for any method; and that a connection lost
// after the request was sent is retried only for a safe request.
func TestRetryConnectionErrors(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	f, resets := newFlaky(t), newFlaky(t)
	m := &lb.LoadBalancer{
		Owner: owner("retry-conn"),
		// Round robin alternates the dead target and the live one. The
		// resets have a backend of their own, so that the GET's first
		// attempt has a new connection, which Go's Transport does not
		// retry by itself.
		TargetGroups: []lb.TargetGroup{group("half-dead", deadTarget(t), f.target), group("resets", resets.target)},
		Listeners: []lb.Listener{{Name: "http", Port: 8080, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
			retried("refused", "/refused", "half-dead", lb.Retry{Attempts: 1}, nil),
			forward("no-retry", lb.Match{Path: prefix("/no-retry")}, to("half-dead", 1)),
			retried("reset", "/reset", "resets", lb.Retry{Attempts: 1}, nil),
		}}}}},
	}
	st := ensure(t, p, m)
	base := "http://" + st.Addresses[0].Value + ":8080"
	c := httpClient()
	for i := range 10 {
		method := []string{"GET", "POST"}[i%2]
		if r := send(t, c, method, fmt.Sprintf("%s/refused?id=refused-%d", base, i), "data"); r.status != 200 {
			t.Errorf("%s %d behind a dead target: status %d, want 200 from the retry", method, i, r.status)
		}
	}
	bad := 0
	for i := range 10 {
		if r := send(t, c, "GET", fmt.Sprintf("%s/no-retry?id=no-retry-%d", base, i), ""); r.status == http.StatusBadGateway {
			bad++
		}
	}
	if bad != 5 {
		t.Errorf("without a retry %d of 10 requests got 502, want the dead target's 5", bad)
	}

	if r := send(t, c, "GET", base+"/reset?fail=1&reset=1&id=reset-get", ""); r.status != 200 || resets.attempts("reset-get") != 2 {
		t.Errorf("GET after a reset: status %d after %d attempts, want 200 after 2", r.status, resets.attempts("reset-get"))
	}
	if r := send(t, c, "POST", base+"/reset?fail=1&reset=1&id=reset-post", "data"); r.status != http.StatusBadGateway || resets.attempts("reset-post") != 1 {
		t.Errorf("POST after a reset: status %d after %d attempts, want 502 after 1: it may have been processed",
			r.status, resets.attempts("reset-post"))
	}
}

// TestRetryTimeouts checks retries against the rule's timeouts, as the
// conformance tests for retries with timeouts do: the request timeout
// bounds every attempt and wait together, the backend timeout each attempt.
func TestRetryTimeouts(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	f := newFlaky(t)
	m := &lb.LoadBalancer{
		Owner:        owner("retry-timeouts"),
		TargetGroups: []lb.TargetGroup{group("flaky", f.target)},
		Listeners: []lb.Listener{{Name: "http", Port: 8080, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
			retried("request", "/request", "flaky", lb.Retry{Attempts: 5, Codes: []int{500}}, &lb.Timeouts{Request: 500 * time.Millisecond}),
			retried("backend", "/backend", "flaky", lb.Retry{Attempts: 3, Codes: []int{500, 504}},
				&lb.Timeouts{Request: 15 * time.Second, Backend: 300 * time.Millisecond}),
			retried("backend-500", "/backend-500", "flaky", lb.Retry{Attempts: 3, Codes: []int{500}},
				&lb.Timeouts{Backend: 300 * time.Millisecond}),
		}}}}},
	}
	st := ensure(t, p, m)
	base := "http://" + st.Addresses[0].Value + ":8080"
	c := httpClient()
	for _, tc := range []struct {
		name, path string
		status     int
		within     time.Duration
	}{
		{"retries within the request timeout", "/request?fail=1&code=500", 200, 500 * time.Millisecond},
		{"retries past the request timeout", "/request?fail=2&code=500&delay=300ms", 504, 900 * time.Millisecond},
		{"attempts within the backend timeout", "/backend?fail=2&code=500&delay=100ms", 200, 2 * time.Second},
		{"an attempt past the backend timeout counts as 504", "/backend?fail=1&code=500&delay=1s", 200, 900 * time.Millisecond},
		{"a backend timeout, 504 not listed", "/backend-500?fail=1&code=500&delay=1s", 504, 900 * time.Millisecond},
	} {
		id := strings.ReplaceAll(tc.name, " ", "-")
		start := time.Now()
		r := send(t, c, "GET", base+tc.path+"&id="+id, "")
		if took := time.Since(start); r.status != tc.status || took > tc.within {
			t.Errorf("%s: status %d after %v and %d attempts, want %d within %v", tc.name, r.status, took, f.attempts(id), tc.status, tc.within)
		}
	}
}
