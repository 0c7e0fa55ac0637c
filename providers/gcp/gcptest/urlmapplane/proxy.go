package urlmapplane

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// A request's way through an Application Load Balancer, as the regionUrlMaps
// REST reference (https://cloud.google.com/compute/docs/reference/rest/v1/regionUrlMaps)
// orders a route action's parts:
//   - urlRedirect answers at once;
//   - faultInjectionPolicy delays (fixedDelay, percentage), then aborts
//     (httpStatus, percentage) "before sending those requests to the
//     backend service";
//   - weightedBackendServices picks a backend service, "weight / (sum of
//     all weightedBackendService weights in routeAction)", else the
//     rule's service;
//   - urlRewrite and the header actions shape the request, the chosen
//     weighted backend service's first;
//   - requestMirrorPolicy sends a copy, mirrorPercent of the time, to its
//     backend service without waiting ("The load balancer does not wait
//     for responses from the shadow service"), Host suffixed "-shadow";
//   - timeout bounds the exchange, "Timeout includes all retries", and
//     defaults to the backend service's timeoutSec (30 s);
//   - retryPolicy: numRetries (default 1), perTryTimeout, retryConditions
//     5xx, gateway-error (502, 503, 504), connect-failure, retriable-4xx
//     (409); refused-stream is net/http's own (it sends a refused HTTP/2
//     stream again on a new connection by itself).
//
// The backend service sends to its NEGs' endpoints round robin (all of
// them: the double reports no health). None: 503. A connection that cannot
// be made, or a broken answer: 502. A timeout: 504. These are the codes
// Envoy answers with, which the regional load balancer's logs report as
// "no_healthy_upstream" and "failed_to_connect_to_backend"; the bodies are
// the plane's own.

// maxReplay is the largest body held to be mirrored or sent again.
const maxReplay = 64 << 10

// errNoEndpoints is a backend service without endpoints.
var errNoEndpoints = errors.New("no endpoints")

func (p *Plane) handler(key, scheme string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := p.table.Load()
		f := t.frontends[key]
		if f == nil || f.urlMap == nil {
			http.Error(w, "urlmapplane: no URL map serves this address", http.StatusServiceUnavailable)
			return
		}
		d := f.urlMap.route(viewOf(r, scheme))
		p.serve(w, r, t, f, d, scheme)
	})
}

func (p *Plane) serve(w http.ResponseWriter, r *http.Request, t *table, f *frontend, d decision, scheme string) {
	tg := d.target
	if tg.redirect != nil {
		loc, code := redirectLocation(tg.redirect, d, scheme, r.Host, r.URL.EscapedPath(), r.URL.RawQuery)
		w.Header().Set("Location", loc)
		w.WriteHeader(code)
		return
	}
	ra := tg.action
	if fi := ra.GetFaultInjectionPolicy(); fi != nil {
		if dl := fi.GetDelay(); dl != nil && p.hit(dl.GetPercentage()) {
			select {
			case <-time.After(duration(dl.GetFixedDelay())):
			case <-r.Context().Done():
				return
			}
		}
		if ab := fi.GetAbort(); ab != nil && p.hit(ab.GetPercentage()) {
			code := int(ab.GetHttpStatus())
			if code < 200 || code > 599 {
				code = http.StatusServiceUnavailable
			}
			http.Error(w, "fault filter abort", code)
			return
		}
	}
	ref, headers := tg.service, d.headers
	if wbs := ra.GetWeightedBackendServices(); len(wbs) > 0 {
		chosen := p.pickWeighted(wbs)
		if chosen == nil {
			http.Error(w, "urlmapplane: every weighted backend service has weight 0", http.StatusServiceUnavailable)
			return
		}
		ref = p.rd.ref(chosen.GetBackendService())
		headers = append(compact(chosen.GetHeaderAction()), headers...)
	}
	if ref == "" {
		http.Error(w, "urlmapplane: the route names no backend service", http.StatusServiceUnavailable)
		return
	}
	svc := t.services[ref]
	if svc == nil {
		http.Error(w, "urlmapplane: backend service "+ref+" not found", http.StatusServiceUnavailable)
		return
	}

	timeout := svc.timeout
	if ra.GetTimeout() != nil {
		timeout = duration(ra.GetTimeout())
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	body, replayable := holdBody(r)
	up := &upstream{p: p, svc: svc, retry: ra.GetRetryPolicy(), body: body, replayable: replayable}
	lbIP, _, _ := net.SplitHostPort(f.key)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			out := pr.Out
			out.URL.Scheme, out.URL.Host = "http", "backend.invalid"
			path := r.URL.EscapedPath()
			out.Host = r.Host
			if rw := ra.GetUrlRewrite(); rw != nil {
				path = rewritePath(path, d, rw)
				if rw.HostRewrite != nil {
					out.Host = rw.GetHostRewrite()
				}
			}
			if u, err := url.Parse(path); err == nil {
				out.URL.Path, out.URL.RawPath = u.Path, u.RawPath
			}
			applyHeaders(out.Header, headers, true)
			if h, ok := hostHeaderOf(out.Header); ok {
				out.Host = h
			}
			// "X-Forwarded-For: <client IP>, <load balancer IP>", and the
			// scheme the client used.
			client, _, _ := net.SplitHostPort(r.RemoteAddr)
			xff := slices.DeleteFunc(append(r.Header.Values("X-Forwarded-For"), client, lbIP), func(s string) bool { return s == "" })
			out.Header.Del("X-Forwarded-For")
			for i, v := range xff {
				if i == 0 {
					out.Header.Set("X-Forwarded-For", v)
					continue
				}
				out.Header.Set("X-Forwarded-For", out.Header.Get("X-Forwarded-For")+", "+v)
			}
			out.Header.Set("X-Forwarded-Proto", scheme)
			if mp := ra.GetRequestMirrorPolicy(); mp != nil && replayable {
				percent := 100.0
				if mp.MirrorPercent != nil {
					percent = mp.GetMirrorPercent()
				}
				if p.hit(percent) {
					p.mirror(t.services[p.rd.ref(mp.GetBackendService())], out, body)
				}
			}
		},
		Transport: up,
		ModifyResponse: func(resp *http.Response) error {
			applyHeaders(resp.Header, headers, false)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			switch {
			case errors.Is(err, errNoEndpoints):
				http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
			case errors.Is(err, context.DeadlineExceeded):
				http.Error(w, "upstream request timeout", http.StatusGatewayTimeout)
			case errors.Is(err, context.Canceled):
				// The client left.
			default:
				http.Error(w, "upstream connect error or disconnect/reset before headers: "+err.Error(), http.StatusBadGateway)
			}
		},
		FlushInterval: -1,
	}
	rp.ServeHTTP(w, r.WithContext(ctx))
}

// pickWeighted draws a weighted backend service; nil when every weight
// is 0.
func (p *Plane) pickWeighted(wbs []*computepb.WeightedBackendService) *computepb.WeightedBackendService {
	var total float64
	for _, w := range wbs {
		total += float64(w.GetWeight())
	}
	if total == 0 {
		return nil
	}
	x := p.rand() * total
	for _, w := range wbs {
		if x < float64(w.GetWeight()) {
			return w
		}
		x -= float64(w.GetWeight())
	}
	return wbs[len(wbs)-1]
}

func duration(d *computepb.Duration) time.Duration {
	return time.Duration(d.GetSeconds())*time.Second + time.Duration(d.GetNanos())
}

// holdBody reads up to maxReplay bytes of r's body so that it can be sent
// more than once; a longer body is put back whole and cannot be.
func holdBody(r *http.Request) ([]byte, bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxReplay+1))
	if err != nil || len(b) > maxReplay {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
		return nil, false
	}
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, true
}

// upstream sends a request to a backend service's endpoints, with the
// route's retries.
type upstream struct {
	p          *Plane
	svc        *service
	retry      *computepb.HttpRetryPolicy
	body       []byte
	replayable bool
}

func (u *upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	tries := 1
	if u.retry != nil && u.replayable && req.Header.Get("Upgrade") == "" {
		n := 1
		if u.retry.NumRetries != nil {
			n = int(u.retry.GetNumRetries())
		}
		tries += n
	}
	var lastErr error
	for i := range tries {
		ep, ok := u.p.next(u.svc)
		if !ok {
			return nil, errNoEndpoints
		}
		resp, err := u.attempt(req, ep, i > 0)
		last := i == tries-1
		switch {
		case err != nil:
			if last || !u.retryOnError(req, err) {
				return nil, err
			}
			lastErr = err
		case !last && u.retryOnStatus(resp.StatusCode):
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			_ = resp.Body.Close()
		default:
			return resp, nil
		}
	}
	return nil, lastErr
}

func (u *upstream) attempt(req *http.Request, ep string, again bool) (*http.Response, error) {
	tr := u.p.transports[u.svc.protocol]
	scheme := "http"
	switch u.svc.protocol {
	case "HTTPS", "HTTP2":
		scheme = "https"
	case "H2C":
	default:
		tr = u.p.transports["HTTP"]
	}
	ctx, cancel := req.Context(), context.CancelFunc(func() {})
	if u.retry.GetPerTryTimeout() != nil {
		ctx, cancel = context.WithTimeout(ctx, duration(u.retry.GetPerTryTimeout()))
	}
	out := req.Clone(ctx)
	out.URL.Scheme, out.URL.Host = scheme, ep
	if again && u.body != nil {
		out.Body = io.NopCloser(bytes.NewReader(u.body))
	}
	resp, err := tr.RoundTrip(out)
	if err != nil {
		cancel()
		return nil, err
	}
	if rw, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		// An upgraded connection (WebSocket, which GCP's Application Load
		// Balancers carry): ReverseProxy copies both ways only through a
		// body it can write to.
		resp.Body = &cancelOnCloseRW{cancelOnClose: &cancelOnClose{ReadCloser: rw, cancel: cancel}, Writer: rw}
		return resp, nil
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnCloseRW is a cancelOnClose that can be written to, as an
// upgraded connection's body is.
type cancelOnCloseRW struct {
	*cancelOnClose
	io.Writer
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

func (u *upstream) conditions() []string { return u.retry.GetRetryConditions() }

func (u *upstream) retryOnError(req *http.Request, err error) bool {
	if req.Context().Err() != nil {
		return false // the route's timeout or the client
	}
	var op *net.OpError
	connect := errors.As(err, &op) && op.Op == "dial"
	for _, c := range u.conditions() {
		switch c {
		case "5xx", "gateway-error":
			return true // no answer at all counts (the reference's 5xx)
		case "connect-failure":
			if connect {
				return true
			}
		}
	}
	return false
}

func (u *upstream) retryOnStatus(code int) bool {
	for _, c := range u.conditions() {
		switch {
		case c == "5xx" && code >= 500 && code <= 599:
			return true
		case c == "gateway-error" && (code == 502 || code == 503 || code == 504):
			return true
		case c == "retriable-4xx" && code == http.StatusConflict:
			return true
		}
	}
	return false
}

// mirror sends a copy of out (its body is body) to svc in the background.
func (p *Plane) mirror(svc *service, out *http.Request, body []byte) {
	if svc == nil {
		return
	}
	select {
	case p.mirrors <- struct{}{}:
	default:
		return // too many in flight: this copy is dropped
	}
	ctx, cancel := context.WithTimeout(p.ctx, svc.timeout)
	cp := out.Clone(ctx)
	cp.Host = shadowHost(out.Host)
	cp.Body = io.NopCloser(bytes.NewReader(body))
	cp.ContentLength = int64(len(body))
	cp.RequestURI = ""
	up := &upstream{p: p, svc: svc, body: body, replayable: true}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		cancel()
		<-p.mirrors
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		defer func() { <-p.mirrors }()
		defer cancel()
		resp, err := up.RoundTrip(cp)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}()
}
