package dataplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// This file realizes lb.Retry: a forward whose attempt fails is sent again,
// to the next target of the same backend, after a backoff.

const (
	// defaultRetryBackoff is the base interval when the model gives none
	// (Envoy's default too).
	defaultRetryBackoff = 25 * time.Millisecond
	// retryBackoffCap caps the grown wait at this many base intervals.
	retryBackoffCap = 10
	// retryBodyLimit is the largest request body held in memory to be
	// replayed; a request with a larger body is sent once.
	retryBodyLimit = 64 << 10
	// retryDrainLimit is the largest body of a retried response that is
	// read to the end so its connection can be reused; a larger one (or
	// one of unknown length, which could stall) closes the connection.
	retryDrainLimit = 4 << 10
)

// retryPolicy is a compiled lb.Retry.
type retryPolicy struct {
	attempts int
	codes    [4]uint64 // bit c-400 set: status c is retried
	base     time.Duration
}

func compileRetry(r *lb.Retry) (*retryPolicy, error) {
	var errs []error
	if r.Attempts < 1 || r.Attempts > lb.MaxRetryAttempts {
		errs = append(errs, fmt.Errorf("retry attempts %d not between 1 and %d", r.Attempts, lb.MaxRetryAttempts))
	}
	p := &retryPolicy{attempts: r.Attempts, base: defaultRetryBackoff}
	for _, c := range r.Codes {
		if c < 400 || c > 599 {
			errs = append(errs, fmt.Errorf("retry code %d not between 400 and 599", c))
			continue
		}
		p.codes[(c-400)/64] |= 1 << ((c - 400) % 64)
	}
	if b := r.Backoff; b != nil {
		if *b < 0 {
			errs = append(errs, errors.New("negative retry backoff"))
		}
		p.base = max(*b, 0)
	}
	return p, errors.Join(errs...)
}

// retries reports whether a response with this status is retried.
func (p *retryPolicy) retries(code int) bool {
	if code < 400 || code > 599 {
		return false
	}
	return p.codes[(code-400)/64]&(1<<((code-400)%64)) != 0
}

// wait is the backoff before retry n (1 for the first): the base interval
// doubled for each retry before it, capped at retryBackoffCap base
// intervals, with "equal jitter" (a random point in the upper half), so
// that clients that failed together do not retry together, and no wait is
// below half the base interval.
func (p *retryPolicy) wait(n int) time.Duration {
	if p.base <= 0 {
		return 0
	}
	d := p.base * retryBackoffCap
	if n-1 < 8 { // 2^8 base intervals are well past the cap
		d = min(p.base<<(n-1), d)
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// replayable prepares r for retries: its body, if any, is read into memory
// (at most retryBodyLimit bytes) so that each attempt can send it. It
// returns the body and whether r can be retried at all; when not, r keeps
// an equivalent body and is sent once. A protocol switch (WebSocket) is
// never retried: its answer is a connection, not a response to discard.
func replayable(r *http.Request) (body []byte, ok bool) {
	if r.Header.Get("Upgrade") != "" {
		return nil, false
	}
	return bufferBody(r, retryBodyLimit)
}

// retrier is the Transport of the proxies: it sends each attempt of a
// request whose rule retries (proxyState.retry) through next, and anything
// else through next once. The proxy's hooks have already rewritten the
// request (URL, Host, headers) for the first target; a retry changes only
// the target.
type retrier struct {
	next http.RoundTripper
	logf func(msg string, args ...any)
}

func (rt retrier) RoundTrip(req *http.Request) (*http.Response, error) {
	st, _ := req.Context().Value(stateKey{}).(*proxyState)
	if st == nil || !st.retry {
		return rt.next.RoundTrip(req)
	}
	p := st.action.retry
	ctx := req.Context()
	for n := 0; ; n++ {
		target := req.URL
		if n > 0 {
			t := st.backend.group.nextTarget()
			u := *req.URL
			u.Scheme, u.Host = t.Scheme, t.Host
			target = &u
		}
		resp, why, err := rt.attempt(req, target, st)
		if why == "" || n == p.attempts {
			return resp, err
		}
		if resp != nil {
			discard(resp)
		}
		rt.logf("Retrying backend request", "url", target.String(), "attempt", n+1, "reason", why)
		t := time.NewTimer(p.wait(n + 1))
		select {
		case <-t.C:
		case <-ctx.Done():
			// The request timed out (504) or the client left: the
			// error handler tells which from the context.
			t.Stop()
			return nil, context.Cause(ctx)
		}
	}
}

// attempt sends req to target once, bounded by the rule's backend
// timeout. It returns the response (closing its body ends the attempt's
// timeout) or the error for the client, and why the attempt is worth
// retrying ("" if it is not).
func (rt retrier) attempt(req *http.Request, target *url.URL, st *proxyState) (*http.Response, string, error) {
	parent := req.Context()
	ctx, cancel := parent, context.CancelFunc(func() {})
	if bt := st.action.backendTimeout; bt > 0 {
		ctx, cancel = context.WithTimeoutCause(ctx, bt, errTimedOut)
	}
	var sent atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteHeaders: func() { sent.Store(true) }})
	// A shallow copy: attempts share the header map, which transports
	// only read.
	out := req.WithContext(ctx)
	out.URL = target
	if len(st.body) > 0 {
		out.Body = io.NopCloser(bytes.NewReader(st.body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(st.body)), nil }
	}
	resp, err := rt.next.RoundTrip(out)
	p := st.action.retry
	if err == nil {
		resp.Body = cancelOnClose{resp.Body, cancel}
		if p.retries(resp.StatusCode) {
			return resp, fmt.Sprintf("status %d", resp.StatusCode), nil
		}
		return resp, "", nil
	}
	timedOut := parent.Err() == nil && errors.Is(context.Cause(ctx), errTimedOut)
	cancel()
	if timedOut {
		// The client gets 504, as without retries.
		err = fmt.Errorf("%w: %w", errTimedOut, err)
	}
	switch {
	case parent.Err() != nil:
		// The request's own deadline, or the client left: nothing to retry.
		return nil, "", err
	case !sent.Load():
		// Nothing reached the backend: the connection could not be
		// established (refused, unreachable, connect timeout, TLS).
		return nil, "connection failed", err
	case timedOut:
		// No answer within the backend timeout: the 504 the client gets.
		if p.retries(http.StatusGatewayTimeout) {
			return nil, "backend timeout", err
		}
		return nil, "", err
	case safeToRepeat(out, st):
		return nil, "connection lost before an answer", err
	default:
		return nil, "", err
	}
}

// discard ends a response that is retried. A short body of known length is
// read to its end so the connection can carry the next attempt; any other
// (which could stall) is closed with its connection.
func discard(resp *http.Response) {
	if resp.ContentLength >= 0 && resp.ContentLength <= retryDrainLimit {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, retryDrainLimit))
	}
	_ = resp.Body.Close()
}

// safeToRepeat reports whether a request that may have reached the backend
// can be sent again: a safe method (RFC 9110 section 9.2.1) without a body.
func safeToRepeat(r *http.Request, st *proxyState) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return len(st.body) == 0
	}
	return false
}

// cancelOnClose ends an attempt's context when the proxy is done with its
// response body, so that the backend timeout keeps covering the body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
