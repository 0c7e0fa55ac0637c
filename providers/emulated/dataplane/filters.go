package dataplane

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// This file compiles and applies the parts of an lb.Action besides the choice
// of backend: header modifiers, redirects, rewrites, mirrors and timeouts
// (and retries, compiled by retry.go, and CORS, by cors.go).

// headerMod is a compiled lb.HeaderModifier. Names are canonical, so that
// http.Header's map gives the model's case-insensitive names for free.
type headerMod struct {
	set    [][2]string
	add    [][2]string
	remove []string

	// A request's Host is not in its header map: net/http sends r.Host and
	// ignores Header["Host"]. So a request modifier's Host entries are taken
	// out of the lists above at compile time and folded into one outcome.
	// A request has one Host, so add replaces it like set; remove leaves ""
	// (host), for which the transport sends the target's address, as
	// HTTP/1.1 needs some Host.
	setsHost bool
	host     string
}

// apply changes h in the model's order: set, then add, then remove. A nil
// modifier does nothing, so callers need no check.
func (m *headerMod) apply(h http.Header) {
	if m == nil {
		return
	}
	for _, kv := range m.set {
		h[kv[0]] = []string{kv[1]}
	}
	for _, kv := range m.add {
		h[kv[0]] = append(h[kv[0]], kv[1])
	}
	for _, k := range m.remove {
		delete(h, k)
	}
}

// applyRequest changes an outgoing request: its headers, and its Host.
func (m *headerMod) applyRequest(r *http.Request) {
	if m == nil {
		return
	}
	m.apply(r.Header)
	if m.setsHost {
		r.Host = m.host
	}
}

// compileHeaderMod compiles a modifier of requests (request true: Host is the
// request's host, see headerMod) or of responses (Host is a plain header).
func compileHeaderMod(m *lb.HeaderModifier, request bool) (*headerMod, error) {
	if m == nil || len(m.Set)+len(m.Add)+len(m.Remove) == 0 {
		return nil, nil
	}
	var errs []error
	check := func(name, value string) string {
		if !validHeaderName(name) {
			errs = append(errs, fmt.Errorf("invalid header name %q", name))
		}
		// A line break would let a value inject headers; net/http would
		// refuse a control character per request, so refuse the
		// configuration once instead, by the model's rule.
		if !lb.ValidHeaderValue(value) {
			errs = append(errs, fmt.Errorf("header %q: value contains a control character", name))
		}
		return http.CanonicalHeaderKey(name)
	}
	out := &headerMod{}
	// host reports (and records) a request's Host, in the model's order:
	// set, then add, then remove.
	host := func(name, value string, remove bool) bool {
		if !request || name != "Host" {
			return false
		}
		out.setsHost, out.host = true, value
		if remove {
			out.host = ""
		}
		return true
	}
	for _, h := range m.Set {
		if k := check(h.Name, h.Value); !host(k, h.Value, false) {
			out.set = append(out.set, [2]string{k, h.Value})
		}
	}
	for _, h := range m.Add {
		if k := check(h.Name, h.Value); !host(k, h.Value, false) {
			out.add = append(out.add, [2]string{k, h.Value})
		}
	}
	for _, name := range m.Remove {
		if k := check(name, ""); !host(k, "", true) {
			out.remove = append(out.remove, k)
		}
	}
	return out, errors.Join(errs...)
}

// pathRewrite is a compiled lb.PathRewrite.
type pathRewrite struct {
	full bool
	// value is the new path (full), or the replacement prefix without its
	// trailing slash (prefix).
	value string
	// prefix is the rule's Prefix path match without its trailing slash, ""
	// for "/": the part of the path that value replaces.
	prefix string
}

// apply returns the rewritten path. The prefix form follows the Gateway API's
// ReplacePrefixMatch table: both prefixes lose a trailing slash, the rest of
// the path (empty or starting with "/") is kept, and an empty result is "/".
// So /foo/ with prefix /foo and replacement /xyz is /xyz/, and /foo with
// replacement / is /.
func (p *pathRewrite) apply(path string) string {
	if p.full {
		return p.value
	}
	rest, ok := strings.CutPrefix(path, p.prefix)
	if !ok {
		return path // unreachable: the rule matched this prefix
	}
	if out := p.value + rest; out != "" {
		return out
	}
	return "/"
}

func compilePathRewrite(pr *lb.PathRewrite, match *pathMatcher) (*pathRewrite, error) {
	if pr == nil {
		return nil, nil
	}
	switch pr.Type {
	case lb.RewriteFullPath:
		v := pr.Value
		if !strings.HasPrefix(v, "/") {
			v = "/" + v
		}
		return &pathRewrite{full: true, value: v}, nil
	case lb.RewritePrefix:
		if match == nil || match.typ != lb.MatchPrefix {
			return nil, errors.New("a prefix rewrite needs a Prefix path match")
		}
		v := strings.TrimSuffix(pr.Value, "/")
		if v != "" && !strings.HasPrefix(v, "/") {
			v = "/" + v
		}
		return &pathRewrite{value: v, prefix: match.value}, nil
	default:
		return nil, fmt.Errorf("unsupported path rewrite type %q", pr.Type)
	}
}

// redirect is a compiled lb.Redirect.
type redirect struct {
	scheme   string // "" keeps the listener's
	hostname string // "" keeps the request's
	port     int32  // 0 derives it (see location)
	path     *pathRewrite
	status   int
}

func compileRedirect(r *lb.Redirect, match *pathMatcher) (*redirect, error) {
	var errs []error
	out := &redirect{scheme: strings.ToLower(r.Scheme), hostname: r.Hostname, port: r.Port, status: r.StatusCode}
	switch out.scheme {
	case "", "http", "https":
	default:
		errs = append(errs, fmt.Errorf("unsupported redirect scheme %q", r.Scheme))
	}
	if out.status == 0 {
		out.status = http.StatusFound // the Gateway API's default
	}
	switch out.status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		errs = append(errs, fmt.Errorf("redirect status %d is not a redirect", r.StatusCode))
	}
	if r.Port < 0 || r.Port > 65535 {
		errs = append(errs, fmt.Errorf("redirect port %d out of range", r.Port))
	}
	if strings.ContainsAny(r.Hostname, "/?#@ \r\n") {
		errs = append(errs, fmt.Errorf("invalid redirect hostname %q", r.Hostname))
	}
	p, err := compilePathRewrite(r.Path, match)
	if err != nil {
		errs = append(errs, fmt.Errorf("redirect: %w", err))
	}
	out.path = p
	return out, errors.Join(errs...)
}

// location builds the Location header for r, received on a listener with the
// given port and protocol. The port rules are the Gateway API's: a port that
// is not configured is the well-known port of a configured scheme, otherwise
// the listener's port; the port is left out when it is the scheme's default.
// The query string is kept.
func (rd *redirect) location(r *http.Request, listenerPort int32, listenerTLS bool) string {
	scheme := rd.scheme
	if scheme == "" {
		scheme = "http"
		if listenerTLS {
			scheme = "https"
		}
	}
	port := rd.port
	if port == 0 {
		switch rd.scheme {
		case "http":
			port = 80
		case "https":
			port = 443
		default:
			port = listenerPort
		}
	}
	host := rd.hostname
	if host == "" {
		host = r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
	}
	if (scheme == "http" && port == 80) || (scheme == "https" && port == 443) {
		if strings.Contains(host, ":") { // an IPv6 literal
			host = "[" + host + "]"
		}
	} else {
		host = net.JoinHostPort(host, strconv.Itoa(int(port)))
	}
	u := url.URL{Scheme: scheme, Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	if rd.path != nil {
		u.Path, u.RawPath = rd.path.apply(r.URL.Path), ""
	}
	return u.String()
}

// rewrite is a compiled lb.Rewrite.
type rewrite struct {
	hostname string
	path     *pathRewrite
}

// compileRewrite compiles a rule's or a backend's rewrite; nil (and a
// rewrite that changes nothing) is nil.
func compileRewrite(rw *lb.Rewrite, match *pathMatcher) (*rewrite, error) {
	if rw == nil {
		return nil, nil
	}
	var errs []error
	p, err := compilePathRewrite(rw.Path, match)
	if err != nil {
		errs = append(errs, fmt.Errorf("rewrite: %w", err))
	}
	if strings.ContainsAny(rw.Hostname, "/?#@ \r\n") {
		errs = append(errs, fmt.Errorf("invalid rewrite hostname %q", rw.Hostname))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if p == nil && rw.Hostname == "" {
		return nil, nil
	}
	return &rewrite{hostname: rw.Hostname, path: p}, nil
}

// mirror is a compiled lb.Mirror.
type mirror struct {
	group   *group
	percent float64 // 100 or more mirrors every request
}

// compileAction compiles a rule's action; match is the rule's compiled path
// match, which a prefix rewrite or redirect replaces.
func compileAction(a lb.Action, match *pathMatcher, groups map[string]*group) (action, error) {
	var errs []error
	var out action
	kinds := 0
	for _, set := range []bool{len(a.Forward) > 0, a.FixedResponse != nil, a.Redirect != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return out, errors.New("needs exactly one of forward, fixedResponse and redirect")
	}
	out.invalidStatus = http.StatusInternalServerError
	if st := a.InvalidBackendStatus; st != 0 {
		if st < 500 || st > 599 || len(a.Forward) == 0 {
			errs = append(errs, fmt.Errorf("invalid backend status %d: needs a forward action and a status from 500 to 599", st))
		}
		out.invalidStatus = st
	}
	switch {
	case a.FixedResponse != nil:
		if a.FixedResponse.StatusCode < 100 || a.FixedResponse.StatusCode > 599 {
			errs = append(errs, fmt.Errorf("fixed response status %d out of range", a.FixedResponse.StatusCode))
		}
		out.status = a.FixedResponse.StatusCode
	case a.Redirect != nil:
		rd, err := compileRedirect(a.Redirect, match)
		errs = append(errs, err)
		out.redirect = rd
	default:
		for i, b := range a.Forward {
			if b.Weight < 0 {
				errs = append(errs, errors.New("negative weight"))
				continue
			}
			out.total += int64(b.Weight)
			be := backend{upTo: out.total}
			if b.TargetGroup != "" {
				g, ok := groups[b.TargetGroup]
				switch {
				case !ok:
					errs = append(errs, fmt.Errorf("unknown target group %q", b.TargetGroup))
				case g.broken: // its own fault, reported once
				case g.layer4():
					errs = append(errs, fmt.Errorf("target group %q speaks %s, not HTTP", b.TargetGroup, g.protocol))
				}
				be.group = g
			}
			var err error
			if be.requestHeaders, err = compileHeaderMod(b.RequestHeaders, true); err != nil {
				errs = append(errs, fmt.Errorf("backend %d request headers: %w", i, err))
			}
			if be.responseHeaders, err = compileHeaderMod(b.ResponseHeaders, false); err != nil {
				errs = append(errs, fmt.Errorf("backend %d response headers: %w", i, err))
			}
			if be.rewrite, err = compileRewrite(b.Rewrite, match); err != nil {
				errs = append(errs, fmt.Errorf("backend %d %w", i, err))
			}
			out.backends = append(out.backends, be)
		}
		sp, err := compileSession(a.SessionPersistence, out.backends)
		if err != nil {
			errs = append(errs, fmt.Errorf("session persistence: %w", err))
		}
		out.session = sp
	}
	var err error
	if out.requestHeaders, err = compileHeaderMod(a.RequestHeaders, true); err != nil {
		errs = append(errs, fmt.Errorf("request headers: %w", err))
	}
	if out.responseHeaders, err = compileHeaderMod(a.ResponseHeaders, false); err != nil {
		errs = append(errs, fmt.Errorf("response headers: %w", err))
	}
	if out.rewrite, err = compileRewrite(a.Rewrite, match); err != nil {
		errs = append(errs, err)
	}
	for _, m := range a.Mirrors {
		g, ok := groups[m.TargetGroup]
		if !ok {
			errs = append(errs, fmt.Errorf("unknown mirror target group %q", m.TargetGroup))
			continue
		}
		if g.layer4() && !g.broken {
			errs = append(errs, fmt.Errorf("mirror target group %q speaks %s, not HTTP", m.TargetGroup, g.protocol))
			continue
		}
		if m.Percent < 0 || m.Percent > 100 {
			errs = append(errs, fmt.Errorf("mirror percent %v out of range", m.Percent))
			continue
		}
		if m.Percent > 0 {
			out.mirrors = append(out.mirrors, mirror{group: g, percent: m.Percent})
		}
	}
	if t := a.Timeouts; t != nil {
		if t.Request < 0 || t.Backend < 0 {
			errs = append(errs, errors.New("negative timeout"))
		}
		out.requestTimeout, out.backendTimeout = max(t.Request, 0), max(t.Backend, 0)
		// Every backend request, retried or not, runs within the request
		// timeout: a backend timeout as long could never fire first.
		if out.requestTimeout > 0 && out.backendTimeout >= out.requestTimeout {
			out.backendTimeout = 0
		}
	}
	c, err := compileCORS(a.CORS)
	errs = append(errs, err)
	out.cors = c
	if a.Retry != nil {
		if len(a.Forward) == 0 {
			errs = append(errs, errors.New("a retry needs a forward action"))
		}
		p, err := compileRetry(a.Retry)
		errs = append(errs, err)
		out.retry = p
	}
	return out, errors.Join(errs...)
}

// mirrorTimeout bounds a mirrored request that has no route timeout, so a
// stuck mirror backend cannot hold a mirror slot for long.
const mirrorTimeout = 30 * time.Second
