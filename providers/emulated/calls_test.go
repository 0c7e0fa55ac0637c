package emulated_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/cloudgate-dev/cloudgate/providers/emulated"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
)

func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, emulated.OutcomeSuccess},
		{&emulated.APIError{StatusCode: http.StatusTooManyRequests, Code: cloud.CodeThrottled}, emulated.OutcomeThrottled},
		// A throttle wrapped on its way up is still a throttle.
		{fmt.Errorf("create load balancer x: %w", &emulated.APIError{StatusCode: http.StatusTooManyRequests}), emulated.OutcomeThrottled},
		{&emulated.APIError{StatusCode: http.StatusServiceUnavailable, Code: cloud.CodeUnavailable}, emulated.OutcomeError},
		{&emulated.APIError{StatusCode: http.StatusInternalServerError, Code: cloud.CodeInternal}, emulated.OutcomeError},
		{&emulated.APIError{StatusCode: http.StatusBadRequest, Code: cloud.CodeInvalid}, emulated.OutcomeInvalid},
		{&emulated.APIError{StatusCode: http.StatusNotFound, Code: cloud.CodeNotFound}, emulated.OutcomeNotFound},
		{&emulated.APIError{StatusCode: http.StatusConflict, Code: cloud.CodeVersionConflict}, emulated.OutcomeError},
		{errors.New("dial tcp 127.0.0.1:1: connection refused"), emulated.OutcomeError},
		{context.DeadlineExceeded, emulated.OutcomeError},
	} {
		if got := emulated.Outcome(tc.err); got != tc.want {
			t.Errorf("Outcome(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// calls records what CountCall hears.
type calls struct {
	mu sync.Mutex
	n  map[string]int // "operation outcome"
}

func (c *calls) count(op, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[op+" "+outcome]++
}

func (c *calls) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = nil
	return n
}

// TestCountCall checks that every API call is counted once, after the
// client's retries, with the outcome the cloud's answer really means.
func TestCountCall(t *testing.T) {
	srv := startCloud(t)
	var seen calls
	p, err := emulated.New(emulated.Config{Endpoint: srv.URL(), CountCall: seen.count})
	if err != nil {
		t.Fatal(err)
	}
	o := owner("counted")
	m := simple(o, 8080, deadTarget(t))
	ensure(t, p, m)
	if got, want := fmt.Sprint(seen.take()), fmt.Sprint(map[string]int{
		emulated.OpList + " success": 1, emulated.OpCreate + " success": 1}); got != want {
		t.Errorf("a first Ensure counted %s, want %s", got, want)
	}

	// A throttle the retries get past is a success; one they do not is
	// throttled, counted once however many attempts it took.
	srv.Cloud().InjectFaults(emulated.DefaultRetryMax, http.StatusTooManyRequests)
	ensure(t, p, m)
	srv.Cloud().InjectFaults(1000, http.StatusTooManyRequests)
	_, err = p.Ensure(context.Background(), m)
	srv.Cloud().InjectFaults(1000, http.StatusServiceUnavailable)
	_, err2 := p.Ensure(context.Background(), m)
	srv.Cloud().InjectFaults(0, 0)
	if err == nil || err2 == nil {
		t.Fatalf("Ensure during an outage succeeded: %v, %v", err, err2)
	}
	if got, want := fmt.Sprint(seen.take()), fmt.Sprint(map[string]int{
		emulated.OpList + " success": 1, emulated.OpList + " throttled": 1, emulated.OpList + " error": 1}); got != want {
		t.Errorf("Ensures through faults counted %s, want %s", got, want)
	}
	// The error names the cloud's code and the request id it gave.
	var apiErr *emulated.APIError
	if !errors.As(err, &apiErr) || len(apiErr.RequestID) != 16 || !strings.Contains(err.Error(), "Throttled") ||
		!strings.Contains(err.Error(), apiErr.RequestID) {
		t.Errorf("a throttled Ensure's error %q does not carry the cloud's code and request id", err)
	}

	// A refused model is invalid; a delete is a list and a delete.
	bad := simple(o, 8080, deadTarget(t))
	bad.Listeners[0].VirtualHosts[0].Rules[0].Name = "refused-rule"
	srv.Cloud().RefuseRules("refused")
	_, err = p.Ensure(context.Background(), bad)
	srv.Cloud().RefuseRules("")
	if err == nil {
		t.Fatal("the cloud accepted a rule it refuses")
	}
	if err := p.Delete(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(seen.take()), fmt.Sprint(map[string]int{
		emulated.OpList + " success": 2, emulated.OpReplace + " invalid": 1, emulated.OpDelete + " success": 1}); got != want {
		t.Errorf("a refused Ensure and a Delete counted %s, want %s", got, want)
	}
}
