package dataplane

import (
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// route finds the rule for r, or nil when no virtual host or rule matches.
func (t *table) route(r *http.Request) *rule {
	host := requestHost(r)
	vh, ok := t.hosts.lookup(host)
	if !ok {
		return nil
	}
	return vh.route(r, host)
}

// route finds the rule of vh for r, whose normalized host is host.
func (vh *vhost) route(r *http.Request, host string) *rule {
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
		v, ok := headerValue(req, h.name)
		if !ok || !h.matches(v) {
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

// headerValue returns the first value of a request header; name is canonical,
// as net/http stores names, which makes the model's names case-insensitive.
// net/http moves Host out of the header map into r.Host (from the Host header
// or HTTP/2's :authority), so a match on Host reads it there, as sent.
func headerValue(r *http.Request, name string) (string, bool) {
	if name == "Host" {
		return r.Host, r.Host != ""
	}
	v := r.Header[name]
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
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

// pick chooses a backend with probability weight/total. It returns nil when
// all weights are zero, which the Gateway API answers with 500.
func (a *action) pick() *backend { return pickBackend(a.backends, a.total) }

// pickBackend draws one of backends, whose upTo fields are the cumulative
// weights ending at total; nil when total is zero.
func pickBackend(backends []backend, total int64) *backend {
	if total <= 0 {
		return nil
	}
	// rand/v2's global source is per-thread and lock-free: cheap per request.
	n := rand.Int64N(total)
	for i := range backends {
		// Zero-weight backends have upTo equal to their predecessor's, so a
		// strict comparison never selects them.
		if n < backends[i].upTo {
			return &backends[i]
		}
	}
	return nil
}

// nextTarget returns the group's next target in round-robin order.
func (g *group) nextTarget() *url.URL {
	i := g.next.Add(1) - 1
	return g.targets[i%uint64(len(g.targets))]
}

// nextAddr returns a layer-4 group's next target ("ip:port") in round-robin
// order, or "" when it has none.
func (g *group) nextAddr() string {
	if len(g.addrs) == 0 {
		return ""
	}
	i := g.next.Add(1) - 1
	return g.addrs[i%uint64(len(g.addrs))]
}
