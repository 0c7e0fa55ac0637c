package dataplane

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// route finds the rule for r, or nil when no virtual host or rule matches.
func (t *table) route(r *http.Request) *rule {
	host := requestHost(r)
	vh, ok := t.hosts.lookup(host)
	if !ok {
		return nil
	}
	// The query is parsed at most once per request, and only when a rule asks.
	var query url.Values
	for i := range vh.rules {
		if vh.rules[i].matches(r, host, &query) {
			return &vh.rules[i]
		}
	}
	return nil
}

// requestHost is the request's Host without port, normalized like the model's
// hostnames.
func requestHost(r *http.Request) string {
	h := r.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return normalizeHost(strings.Trim(h, "[]"))
}

func (r *rule) matches(req *http.Request, host string, query *url.Values) bool {
	if !hostMatches(r.host, host) {
		return false
	}
	if r.method != "" && r.method != req.Method {
		return false
	}
	if r.path != nil && !r.path.matches(req.URL.Path) {
		return false
	}
	for _, h := range r.headers {
		// Header names are case-insensitive: the compiled name is canonical, as
		// net/http stores them.
		v, ok := req.Header[h.name]
		if !ok || !h.matches(v[0]) {
			return false
		}
	}
	if len(r.query) > 0 && *query == nil {
		*query = req.URL.Query()
	}
	for _, q := range r.query {
		v, ok := (*query)[q.name]
		if !ok || !q.matches(v[0]) {
			return false
		}
	}
	return true
}

func (p *pathMatcher) matches(path string) bool {
	switch p.typ {
	case lb.MatchExact:
		return path == p.value
	case lb.MatchPrefix:
		// Whole segments only: "/foo" matches "/foo" and "/foo/..." but not
		// "/foobar". A prefix of "/" was trimmed to "" and matches everything.
		if p.value == "" {
			return true
		}
		rest, ok := strings.CutPrefix(path, p.value)
		return ok && (rest == "" || rest[0] == '/')
	default:
		return p.re.MatchString(path)
	}
}

func (m *valueMatcher) matches(v string) bool {
	if m.re != nil {
		return m.re.MatchString(v)
	}
	return v == m.value
}

// pick chooses a backend with probability weight/total. ok is false when all
// weights are zero, which the Gateway API answers with 500.
func (a *action) pick() (g *group, ok bool) {
	if a.total <= 0 {
		return nil, false
	}
	// rand/v2's global source is per-thread and lock-free: cheap per request.
	n := rand.Int64N(a.total)
	for _, b := range a.backends {
		// Zero-weight backends have upTo equal to their predecessor's, so a
		// strict comparison never selects them.
		if n < b.upTo {
			return b.group, true
		}
	}
	return nil, false
}

// next returns the group's next target in round-robin order.
func (g *group) nextTarget() *url.URL {
	i := g.next.Add(1) - 1
	return g.targets[i%uint64(len(g.targets))]
}

type targetKey struct{}

// bufferPool reuses the proxy's copy buffers; without it every proxied
// response allocates 32 KiB.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }

// handler serves one listener port: it reads the current routing table once
// per request, so a swap in the middle of a request does not affect it.
type handler struct {
	current func() *table
	proxy   *httputil.ReverseProxy
}

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := h.current()
	hdr := w.Header()
	for _, kv := range t.responseHeaders {
		hdr.Set(kv[0], kv[1])
	}
	rl := t.route(r)
	if rl == nil {
		http.Error(w, "no route matches the request", http.StatusNotFound)
		return
	}
	a := &rl.action
	if a.status != 0 {
		w.WriteHeader(a.status)
		return
	}
	g, ok := a.pick()
	if !ok || g == nil {
		http.Error(w, "invalid backend reference", http.StatusInternalServerError)
		return
	}
	if len(g.targets) == 0 {
		http.Error(w, "no healthy targets", http.StatusServiceUnavailable)
		return
	}
	ctx := context.WithValue(r.Context(), targetKey{}, g.nextTarget())
	h.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// newProxy returns the reverse proxy shared by every port of a Server. The
// target is chosen by the handler and passed in the request context, so one
// proxy (and one Transport with its keep-alive pool) serves all routes.
func newProxy(transport http.RoundTripper, logf func(msg string, args ...any)) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport:  transport,
		BufferPool: bufferPool{},
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(pr.In.Context().Value(targetKey{}).(*url.URL))
			// Backends route on the client's Host, as behind a cloud LB.
			pr.Out.Host = pr.In.Host
			// Rewrite starts without X-Forwarded-*; keep the client's chain so
			// that SetXForwarded appends to it, as cloud load balancers do.
			if xff := pr.In.Header["X-Forwarded-For"]; len(xff) > 0 {
				pr.Out.Header["X-Forwarded-For"] = xff
			}
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			logf("Backend request failed", "url", r.URL.String(), "error", err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
}
