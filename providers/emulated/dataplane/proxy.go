package dataplane

import (
	"context"
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// errTimedOut is the cancellation cause of a route timeout, which tells a
// timeout (504) apart from a backend failure (502) or a client that left.
var errTimedOut = errors.New("route timeout expired")

// proxyState is what the handler decided for one forwarded request. It is the
// request's context itself, so that carrying it costs one allocation and the
// proxy's hooks (Rewrite, ModifyResponse, ErrorHandler) find it by Value.
type proxyState struct {
	context.Context
	action  *action
	backend *backend
	target  *url.URL
	// retry says the request may be sent more than once (retry.go), with
	// body as its whole body.
	retry bool
	body  []byte
	// origin is the request's Origin when the rule's CORS policy allows
	// it, else "".
	origin string
	// session is the request's session when the rule has one.
	session *httpSession
}

type stateKey struct{}

func (s *proxyState) Value(key any) any {
	if _, ok := key.(stateKey); ok {
		return s
	}
	return s.Context.Value(key)
}

func stateOf(ctx context.Context) *proxyState {
	return ctx.Value(stateKey{}).(*proxyState)
}

// upstreamHost is the Host header sent to backends: the client's, as behind a
// cloud load balancer, unless the rule or the backend b (nil for a mirror)
// rewrites it; the backend's rewrite wins.
func (a *action) upstreamHost(in *http.Request, b *backend) string {
	if b != nil && b.rewrite != nil && b.rewrite.hostname != "" {
		return b.rewrite.hostname
	}
	if a.rewrite != nil && a.rewrite.hostname != "" {
		return a.rewrite.hostname
	}
	return in.Host
}

// rewritePath applies the path rewrite of the backend b (nil for a mirror)
// or else of the rule to u, a copy of in's URL. Either rewrites the
// request's own path: the rule's match, whose prefix a prefix rewrite
// replaces, matched that one.
func (a *action) rewritePath(u *url.URL, in *http.Request, b *backend) {
	var p *pathRewrite
	if a.rewrite != nil {
		p = a.rewrite.path
	}
	if b != nil && b.rewrite != nil && b.rewrite.path != nil {
		p = b.rewrite.path
	}
	if p != nil {
		// RawPath would keep the old path's escaping: clear it so the new
		// path is escaped afresh.
		u.Path, u.RawPath = p.apply(in.URL.Path), ""
	}
}

// bufferPool reuses the proxy's copy buffers; without it every proxied
// response allocates 32 KiB.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }

// forwarder sends requests to targets. One serves every port of a Server.
type forwarder struct {
	// proxy speaks HTTP/1.1 (or HTTPS) to targets; h2cProxy speaks HTTP/2
	// with prior knowledge. They differ only in their Transport.
	proxy, h2cProxy         *httputil.ReverseProxy
	transport, h2cTransport http.RoundTripper
	// tlsGroups holds the Transports of groups with TLS to their targets.
	tlsGroups tlsTransports
	// up carries the requests of the fast path (fastpath.go); nil when the
	// Transport is one the fast path cannot stand in for.
	up *upstreams
	// mirrorSlots bounds the mirrored requests in flight.
	mirrorSlots chan struct{}
	logf        func(msg string, args ...any)
}

func newForwarder(transport, h2cTransport http.RoundTripper, logf func(msg string, args ...any)) *forwarder {
	return &forwarder{
		proxy:        newProxy(transport, logf),
		h2cProxy:     newProxy(h2cTransport, logf),
		transport:    transport,
		h2cTransport: h2cTransport,
		up:           newUpstreams(transport),
		mirrorSlots:  make(chan struct{}, maxMirrorsInFlight),
		logf:         logf,
	}
}

func (f *forwarder) proxyFor(g *group) *httputil.ReverseProxy {
	if g.tls != nil {
		return f.tlsGroups.get(g, f.logf).proxy
	}
	if g.h2c {
		return f.h2cProxy
	}
	return f.proxy
}

func (f *forwarder) transportFor(g *group) http.RoundTripper {
	if g.tls != nil {
		return f.tlsGroups.get(g, f.logf).transport
	}
	if g.h2c {
		return f.h2cTransport
	}
	return f.transport
}

// handler serves one listener port: it reads the current routing table once
// per request, so a swap in the middle of a request does not affect it.
type handler struct {
	current func() *table
	fwd     *forwarder
}

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := h.current()
	hdr := w.Header()
	for _, kv := range t.responseHeaders {
		hdr.Set(kv[0], kv[1])
	}
	host := requestHost(r)
	vh, ok := t.hosts.lookup(host)
	if r.TLS != nil && t.misdirected(r.TLS.ServerName, vh, ok) {
		http.Error(w, "the request's host is not served by the TLS connection's server name", http.StatusMisdirectedRequest)
		return
	}
	var rl *rule
	if ok {
		rl = vh.route(r, host)
	}
	if rl == nil {
		answer(w, r, http.StatusNotFound, "no route matches the request")
		return
	}
	a := &rl.action
	if a.cors != nil && isPreflight(r) {
		// Answered here whatever the action: a preflight is the load
		// balancer's to answer (lb.CORS), and never reaches a backend.
		a.cors.preflight(hdr, r)
		a.responseHeaders.apply(hdr)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	origin := a.cors.allowedOrigin(r)
	switch {
	case a.redirect != nil:
		a.finish(hdr, origin, nil)
		hdr.Set("Location", a.redirect.location(r, t.port, t.protocol == lb.ProtocolHTTPS))
		w.WriteHeader(a.redirect.status)
		return
	case a.status != 0:
		a.finish(hdr, origin, nil)
		if isGRPC(r) {
			// mapping's only fixed response: a rule with no valid backend.
			answer(w, r, a.status, "the route rule has no valid backend")
			return
		}
		w.WriteHeader(a.status)
		return
	}
	b, target, sess := a.choose(r, time.Now())
	if b == nil || b.group == nil {
		a.finish(hdr, origin, nil)
		answer(w, r, a.invalidStatus, "invalid backend reference")
		return
	}
	if target == nil {
		a.finish(hdr, origin, nil)
		answer(w, r, http.StatusServiceUnavailable, "no healthy targets")
		return
	}
	if h.fwd.up != nil && fastEligible(r, a, b) {
		h.fwd.fastForward(w, r, a, b, target)
		return
	}
	st := &proxyState{Context: r.Context(), action: a, backend: b, target: target, origin: origin, session: sess}
	var ctx context.Context = st
	if a.requestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, a.requestTimeout, errTimedOut)
		defer cancel()
	}
	r = r.WithContext(ctx)
	if len(a.mirrors) > 0 {
		h.fwd.mirror(r, st)
	}
	if a.retry != nil {
		st.body, st.retry = replayable(r)
	}
	if a.backendTimeout > 0 && !st.retry {
		// Started after the mirrors have the body, so that only the exchange
		// with the backend counts against it. A retried request gets one
		// per attempt (retry.go).
		bctx, cancel := context.WithTimeoutCause(ctx, a.backendTimeout, errTimedOut)
		defer cancel()
		r = r.WithContext(bctx)
	}
	h.fwd.proxyFor(b.group).ServeHTTP(w, r)
}

// misdirected reports whether a request on a TLS connection names a host that
// the connection's server name (SNI) did not select: with HTTP/2 connection
// reuse a client may send it a request for another virtual host, which must
// be answered 421 so that it opens a connection of its own. A server name
// that selects no virtual host restricts nothing.
func (t *table) misdirected(serverName string, vh *vhost, ok bool) bool {
	if serverName == "" {
		return false
	}
	sni, found := t.hosts.lookup(normalizeHost(serverName))
	return found && (!ok || sni != vh)
}

// newProxy returns a reverse proxy shared by every port of a Server. The
// target and the rule's filters are chosen by the handler and passed in the
// request context, so one proxy (and one Transport with its keep-alive pool)
// serves all routes.
func newProxy(transport http.RoundTripper, logf func(msg string, args ...any)) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport:  retrier{next: transport, logf: logf},
		BufferPool: bufferPool{},
		Rewrite: func(pr *httputil.ProxyRequest) {
			st := stateOf(pr.In.Context())
			a := st.action
			a.rewritePath(pr.Out.URL, pr.In, st.backend)
			pr.SetURL(st.target)
			pr.Out.Host = a.upstreamHost(pr.In, st.backend)
			// Rewrite starts without X-Forwarded-*; keep the client's chain so
			// that SetXForwarded appends to it, as cloud load balancers do.
			if xff := pr.In.Header["X-Forwarded-For"]; len(xff) > 0 {
				pr.Out.Header["X-Forwarded-For"] = xff
			}
			pr.SetXForwarded()
			// Last, so that the route's modifiers win over what the proxy
			// adds: a rule can remove X-Forwarded-For, or set Host over a
			// rewrite's hostname.
			a.requestHeaders.applyRequest(pr.Out)
			st.backend.requestHeaders.applyRequest(pr.Out)
		},
		ModifyResponse: func(resp *http.Response) error {
			st := stateOf(resp.Request.Context())
			// Before the rule's modifiers, which win as they do over
			// what the proxy adds.
			st.session.respond(resp.Header, st.backend.group.name, resp.Request.URL.Host, time.Now())
			st.action.finish(resp.Header, st.origin, st.backend)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			st := stateOf(r.Context())
			st.action.finish(w.Header(), st.origin, st.backend)
			// The request's timeout, or (wrapped in err) a retried
			// attempt's backend timeout.
			if errors.Is(err, errTimedOut) || errors.Is(context.Cause(r.Context()), errTimedOut) {
				answer(w, r, http.StatusGatewayTimeout, "")
				return
			}
			logf("Backend request failed", "url", r.URL.String(), "error", err)
			answer(w, r, http.StatusBadGateway, "")
		},
	}
}
