package dataplane

import (
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// TestRetryPolicy checks the compiled codes and the backoff curve: from the
// base interval, doubling, capped at ten base intervals, each wait in the
// upper half of its step.
func TestRetryPolicy(t *testing.T) {
	base := 10 * time.Millisecond
	p, err := compileRetry(&lb.Retry{Attempts: 3, Codes: []int{400, 463, 464, 503, 599}, Backoff: &base})
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[int]bool{399: false, 400: true, 401: false, 463: true, 464: true, 500: false, 503: true, 599: true, 600: false} {
		if got := p.retries(code); got != want {
			t.Errorf("retries(%d) = %v, want %v", code, got, want)
		}
	}
	for n, step := range map[int]time.Duration{1: base, 2: 2 * base, 3: 4 * base, 4: 8 * base, 5: 10 * base, 50: 10 * base} {
		for range 100 {
			if w := p.wait(n); w < step/2 || w > step {
				t.Fatalf("wait(%d) = %v, want between %v and %v", n, w, step/2, step)
			}
		}
	}
	if p, _ := compileRetry(&lb.Retry{Attempts: 1}); p.base != defaultRetryBackoff {
		t.Errorf("no backoff gives a base of %v, want the default %v", p.base, defaultRetryBackoff)
	}
	zero := time.Duration(0)
	if p, _ := compileRetry(&lb.Retry{Attempts: 1, Backoff: &zero}); p.wait(1) != 0 || p.wait(7) != 0 {
		t.Error("a zero backoff waits")
	}
	negative := -time.Second
	for _, bad := range []lb.Retry{{Attempts: 0}, {Attempts: lb.MaxRetryAttempts + 1}, {Attempts: 1, Codes: []int{200}},
		{Attempts: 1, Codes: []int{600}}, {Attempts: 1, Backoff: &negative}} {
		if _, err := compileRetry(&bad); err == nil {
			t.Errorf("compileRetry(%+v) accepted it", bad)
		}
	}
	if _, err := compileAction(lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 200}, Retry: &lb.Retry{Attempts: 1}}, nil, nil); err == nil {
		t.Error("a retry on a fixed response compiled")
	}
}
