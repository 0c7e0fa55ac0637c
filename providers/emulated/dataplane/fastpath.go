package dataplane

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// This file is the forwarding path of the common request: HTTP/1.x, no body,
// a safe method, a rule whose action needs neither the body nor the request's
// lifetime (no mirror, retry, timeout, CORS, session or request header
// modifier), to a plain HTTP target group. Such a request is written to a
// pooled keep-alive connection and its response read back in the handler's
// own goroutine (on Linux polling the socket for a moment before it parks,
// when it is the only exchange in progress: spin_linux.go), which saves httputil.ReverseProxy's copy of the request and
// its headers and http.Transport's hand-offs between goroutines and their
// allocations. Everything else takes the full path (proxy.go), which sees the
// same headers on the wire: X-Forwarded-For, -Host and -Proto set as
// httputil.ProxyRequest.SetXForwarded sets them, hop-by-hop headers removed
// both ways.

const (
	// upstreamIdleTimeout closes a pooled connection unused this long, as
	// NewTransport's IdleConnTimeout does.
	upstreamIdleTimeout = 90 * time.Second
	// upstreamMaxIdle bounds the idle connections kept per target, as
	// NewTransport's MaxIdleConnsPerHost does.
	upstreamMaxIdle = 256
	// upstreamBufSize sizes each connection's read and write buffers: a
	// request's headers and a small response fit in one system call.
	upstreamBufSize = 4 << 10
)

// fastEligible reports whether the handler may send r through the fast
// path for the action a and its chosen backend b.
func fastEligible(r *http.Request, a *action, b *backend) bool {
	g := b.group
	return len(a.mirrors) == 0 && a.retry == nil && a.requestTimeout == 0 && a.backendTimeout == 0 &&
		a.cors == nil && a.session == nil && a.requestHeaders == nil && b.requestHeaders == nil &&
		g.tls == nil && !g.h2c &&
		r.ProtoMajor == 1 && r.Body == http.NoBody && safeMethod(r.Method) &&
		// A protocol switch and Expect: 100-continue need the Transport's
		// handling of interim answers.
		len(r.Header["Upgrade"]) == 0 && len(r.Header["Expect"]) == 0
}

// safeMethod reports whether a request may be sent again when a pooled
// connection turns out to have been closed by the target (RFC 9110 section
// 9.2.1): only those take the fast path, which retries them then.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// upstreams is a pool of keep-alive HTTP/1.1 connections to targets, by
// "host:port". One serves every port of a Server; Server.Close closes it.
type upstreams struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu     sync.Mutex
	idle   map[string][]*upConn
	closed bool
	// sweep closes connections idle past upstreamIdleTimeout; it is
	// scheduled while any connection is idle.
	sweep *time.Timer
}

// upConn is one connection to a target with its buffers.
type upConn struct {
	conn  net.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	read  int64 // bytes read from conn, to tell whether a target answered at all
	since time.Time
	// fields are the last response's header fields; cache holds the
	// fields of lines seen before, by line (see readHead).
	fields []field
	cache  map[string]field
	// body reads a body of known length, kept here so that reading one
	// allocates nothing.
	body io.LimitedReader
	// ctx is the context of the request in progress; see watch.
	ctx context.Context
	// abort ends the exchange in progress at once (made once per
	// connection, so that watching a request costs no closure).
	abort func()
	// stopWatch, once the exchange outlasted watchAfter, stops the
	// request's context from calling abort.
	stopWatch func() bool
	// deadline is the read deadline that watch last set; zero when none
	// is set.
	deadline time.Time
	// spin reads conn when it can poll it (spin_linux.go); nil when
	// conn is read as it is.
	spin *spinner
}

// inFlight counts the fast path's exchanges in progress in the process, so
// that a read polls its socket only when it is the only one (spinner).
var inFlight atomic.Int32

// watchAfter is how long an exchange runs before the request's context is
// watched (see upConn.watch).
const watchAfter = 100 * time.Millisecond

// watch makes the end of ctx (a client that leaves, a listener that
// closes) end the exchange, as it ends the full path's. Registering with
// ctx costs allocations, so an exchange starts with only a read deadline
// watchAfter/2 to watchAfter away; Read registers when that passes.
func (c *upConn) watch(ctx context.Context) {
	c.ctx = ctx
	// Each new deadline re-arms a runtime timer, which may wake the
	// network poller (or a thread to reach it). So one deadline serves the
	// exchanges that start in the first half of its span: each runs at
	// least watchAfter/2 unwatched.
	if now := time.Now(); c.deadline.Sub(now) < watchAfter/2 {
		c.deadline = now.Add(watchAfter)
		_ = c.conn.SetReadDeadline(c.deadline)
	}
}

// unwatch ends watch and reports whether the exchange ran to its end,
// unaborted, so that the connection can carry another.
func (c *upConn) unwatch() bool {
	ok := true
	if c.stopWatch != nil {
		ok = c.stopWatch()
		c.stopWatch = nil
	}
	c.ctx = nil
	return ok
}

func (c *upConn) Read(p []byte) (int, error) {
	n, err := c.readConn(p)
	if n == 0 && err != nil && c.ctx != nil && c.stopWatch == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		// watch's deadline, not abort's: from now on the context ends the
		// exchange. Cleared first, so that an abort that comes at once
		// stays.
		_ = c.conn.SetReadDeadline(time.Time{})
		c.deadline = time.Time{}
		c.stopWatch = context.AfterFunc(c.ctx, c.abort)
		n, err = c.readConn(p)
	}
	c.read += int64(n)
	return n, err
}

// readConn reads conn, through the spinner when there is one.
func (c *upConn) readConn(p []byte) (int, error) {
	if c.spin != nil {
		return c.spin.Read(p)
	}
	return c.conn.Read(p)
}

// newUpstreams returns the fast path's pool for a Server whose Transport is
// t, dialing as t dials; nil (no fast path) when t is not an *http.Transport
// or sends through a proxy, whose behavior the fast path would bypass.
func newUpstreams(t http.RoundTripper) *upstreams {
	tr, ok := t.(*http.Transport)
	if !ok || tr.Proxy != nil {
		return nil
	}
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	return &upstreams{dial: dial, idle: map[string][]*upConn{}}
}

// get returns an idle connection to addr, or a new one when there is none or
// fresh is set; reused says which.
func (u *upstreams) get(ctx context.Context, addr string, fresh bool) (c *upConn, reused bool, err error) {
	if !fresh {
		u.mu.Lock()
		if cs := u.idle[addr]; len(cs) > 0 {
			// The most recently used: the least likely to have been closed
			// by the target.
			c = cs[len(cs)-1]
			cs[len(cs)-1] = nil
			u.idle[addr] = cs[:len(cs)-1]
		}
		u.mu.Unlock()
		if c != nil {
			return c, true, nil
		}
	}
	conn, err := u.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	c = &upConn{conn: conn}
	c.spin = newSpinner(conn)
	c.abort = func() { _ = conn.SetDeadline(time.Unix(1, 0)) }
	c.br = bufio.NewReaderSize(c, upstreamBufSize)
	c.bw = bufio.NewWriterSize(conn, upstreamBufSize)
	return c, false, nil
}

// put returns c, whose last response was read to its end, to the pool.
func (u *upstreams) put(addr string, c *upConn) {
	c.since = time.Now()
	u.mu.Lock()
	cs := u.idle[addr]
	if u.closed || len(cs) >= upstreamMaxIdle {
		u.mu.Unlock()
		_ = c.conn.Close()
		return
	}
	u.idle[addr] = append(cs, c)
	if u.sweep == nil {
		u.sweep = time.AfterFunc(upstreamIdleTimeout/3, u.expire)
	}
	u.mu.Unlock()
}

// expire closes the connections idle past upstreamIdleTimeout, and comes
// back while any remain.
func (u *upstreams) expire() {
	cutoff := time.Now().Add(-upstreamIdleTimeout)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sweep = nil
	for addr, cs := range u.idle {
		// Oldest first: put appends.
		n := 0
		for n < len(cs) && cs[n].since.Before(cutoff) {
			_ = cs[n].conn.Close()
			n++
		}
		if n == len(cs) {
			delete(u.idle, addr)
			continue
		}
		u.idle[addr] = append(cs[:0], cs[n:]...)
	}
	if len(u.idle) > 0 && !u.closed {
		u.sweep = time.AfterFunc(upstreamIdleTimeout/3, u.expire)
	}
}

// close closes every idle connection; connections in use close when their
// request is done.
func (u *upstreams) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.closed = true
	if u.sweep != nil {
		u.sweep.Stop()
	}
	for addr, cs := range u.idle {
		for _, c := range cs {
			_ = c.conn.Close()
		}
		delete(u.idle, addr)
	}
}

// fastForward sends r to target for the rule's action a and its backend b,
// and copies the answer to w. The handler has checked fastEligible.
func (f *forwarder) fastForward(w http.ResponseWriter, r *http.Request, a *action, b *backend, target *url.URL) {
	inFlight.Add(1)
	defer inFlight.Add(-1)
	hdr := w.Header()
	c, head, err := f.up.roundTrip(r, a, b, target, w)
	if err != nil {
		a.finish(hdr, "", b)
		f.logf("Backend request failed", "url", target.String()+r.URL.Path, "error", err)
		answer(w, r, http.StatusBadGateway, "")
		return
	}
	c.copyHeader(hdr)
	a.finish(hdr, "", b)
	w.WriteHeader(head.status)
	if err := c.copyBody(w, hdr, head); err != nil {
		c.unwatch()
		_ = c.conn.Close()
		// As httputil.ReverseProxy does: the client must see a truncated
		// response, not a complete one.
		panic(http.ErrAbortHandler)
	}
	// A connection whose exchange was aborted has its deadline passed.
	if aborted := !c.unwatch(); aborted || head.close {
		_ = c.conn.Close()
		return
	}
	f.up.put(target.Host, c)
}

// roundTrip writes r to a connection to target and reads the response's
// head. A pooled connection that the target closed before answering is
// replaced by a new one once: r's method is safe to send again.
func (u *upstreams) roundTrip(r *http.Request, a *action, b *backend, target *url.URL, w http.ResponseWriter) (*upConn, responseHead, error) {
	for fresh := false; ; fresh = true {
		c, reused, err := u.get(r.Context(), target.Host, fresh)
		if err != nil {
			return nil, responseHead{}, err
		}
		before := c.read
		c.watch(r.Context())
		head, err := c.exchange(r, a, b, target, w)
		if err == nil {
			return c, head, nil
		}
		c.unwatch()
		_ = c.conn.Close()
		if r.Context().Err() != nil {
			return nil, responseHead{}, err
		}
		if !reused || c.read != before {
			return nil, responseHead{}, err
		}
	}
}

// responseHead is what the fast path needs of a response's head besides
// its fields (upConn.fields): its status and how its body ends.
type responseHead struct {
	status int
	// length is the body's length; -1 with chunked false reads to the end
	// of the connection.
	length  int64
	chunked bool
	// close says the connection cannot carry another request.
	close bool
}

// field is a response header line, parsed: a canonical name and its value
// as the one element of a slice that http.Header can hold.
type field struct {
	name string
	vals []string
}

// maxFieldCache bounds upConn.cache; past it the cache starts over.
const maxFieldCache = 64

var (
	errMalformedResponse = errors.New("malformed HTTP response from backend")
	errUnexpected101     = errors.New("unexpected 101 Switching Protocols")
)

// exchange writes r and reads the response's head into c.fields, handing
// each interim (1xx) answer to w first (forwardInterim): "A proxy MUST forward 1xx
// responses unless the proxy itself requested the generation of the 1xx
// response" (RFC 9110, 15.2), such as 103 Early Hints.
func (c *upConn) exchange(r *http.Request, a *action, b *backend, target *url.URL, w http.ResponseWriter) (responseHead, error) {
	writeRequest(c.bw, r, a, b, target)
	if err := c.bw.Flush(); err != nil {
		return responseHead{}, err
	}
	for {
		head, err := c.readHead(r.Method == http.MethodHead)
		switch {
		case err != nil:
			return head, err
		case head.status == http.StatusSwitchingProtocols:
			// Never asked for: the fast path sends no Upgrade.
			return head, errUnexpected101
		case head.status >= 200:
			return head, nil
		default:
			forwardInterim(w, c, head.status)
		}
	}
}

// forwardInterim sends the interim answer whose fields c holds to the
// client. net/http writes a 1xx status with what the header map holds then,
// so the map holds the answer's fields for that write only and is put back
// as it was: they are not the final response's. Rare, so the copy is fine.
func forwardInterim(w http.ResponseWriter, c *upConn, status int) {
	hdr := w.Header()
	saved := hdr.Clone()
	clear(hdr)
	c.copyHeader(hdr)
	w.WriteHeader(status)
	clear(hdr)
	maps.Copy(hdr, saved)
}

// readHead reads a status line and header fields (RFC 9112) and works out
// the body's framing. The fields' strings come from c.cache when a line was
// seen before on this connection, so that the usual response (the same
// Content-Type and Content-Length every time) allocates nothing.
func (c *upConn) readHead(head bool) (responseHead, error) {
	var h responseHead
	line, err := c.line()
	if err != nil {
		return h, err
	}
	// "HTTP/1.x SP 3DIGIT [SP reason]"
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return h, errMalformedResponse
	}
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return h, errMalformedResponse
		}
		h.status = h.status*10 + int(d-'0')
	}
	if h.status < 100 {
		return h, errMalformedResponse
	}
	http10 := line[7] == '0'
	c.fields = c.fields[:0]
	h.length = -1
	keepAlive, lengthSeen := false, false
	for {
		line, err := c.line()
		if err != nil {
			return h, err
		}
		if len(line) == 0 {
			break
		}
		f, err := c.field(line)
		if err != nil {
			return h, err
		}
		switch f.name {
		case "Content-Length":
			n, ok := parseLength(f.vals[0])
			if !ok || (lengthSeen && n != h.length) {
				return h, errMalformedResponse
			}
			h.length, lengthSeen = n, true
		case "Transfer-Encoding":
			// Chunked when it is the last coding; any other ends at the
			// connection's close.
			h.chunked = strings.EqualFold(lastToken(f.vals[0]), "chunked")
			if !h.chunked {
				h.close = true
			}
		case "Connection":
			h.close = h.close || hasToken(f.vals, "close")
			keepAlive = keepAlive || hasToken(f.vals, "keep-alive")
		}
		c.fields = append(c.fields, f)
	}
	if http10 && !keepAlive {
		h.close = true
	}
	switch {
	case h.status < 200 || h.status == http.StatusNoContent || h.status == http.StatusNotModified || head:
		h.length, h.chunked = 0, false
	case h.chunked:
		h.length = -1
	case h.length < 0:
		h.close = true
	}
	return h, nil
}

// line reads one line without its line ending; a line longer than the
// buffer is put together in a copy.
func (c *upConn) line() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) && len(long) < maxHeaderLine {
			line, err = c.br.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			err = errMalformedResponse
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// maxHeaderLine is the longest response header line accepted, as
// http.Transport's default MaxResponseHeaderBytes bounds a whole head.
const maxHeaderLine = 1 << 20

// field parses "Name: value", through the cache.
func (c *upConn) field(line []byte) (field, error) {
	if f, ok := c.cache[string(line)]; ok {
		return f, nil
	}
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok || !lb.ValidHeaderName(string(name)) {
		// An obsolete line folding starts with a space: refused too, as
		// net/http refuses it.
		return field{}, errMalformedResponse
	}
	v := string(bytes.Trim(value, " \t"))
	if !lb.ValidHeaderValue(v) {
		return field{}, errMalformedResponse
	}
	f := field{name: http.CanonicalHeaderKey(string(name)), vals: []string{v}}
	if c.cache == nil || len(c.cache) >= maxFieldCache {
		c.cache = make(map[string]field, maxFieldCache)
	}
	c.cache[string(line)] = f
	return f, nil
}

// copyHeader adds the response's fields to hdr, but for hop-by-hop ones
// and those that its Connection field names. The slices are shared with the
// cache: http.Header's methods replace slices or append to them (these have
// no room to grow in place), never write into them.
func (c *upConn) copyHeader(hdr http.Header) {
	var conn []string
	for _, f := range c.fields {
		if f.name == "Connection" {
			conn = append(conn, f.vals[0])
		}
	}
	for _, f := range c.fields {
		switch f.name {
		case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
			"Te", "Transfer-Encoding", "Upgrade":
			continue
		}
		if conn != nil && hasToken(conn, f.name) {
			continue
		}
		if old, ok := hdr[f.name]; ok {
			if f.name == "Content-Length" {
				continue // repeated with the same value: readHead checked
			}
			// Those the listener sets, to which the proxy adds, and a
			// field repeated on several lines.
			hdr[f.name] = append(old, f.vals...)
		} else {
			hdr[f.name] = f.vals
		}
	}
}

func parseLength(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

func lastToken(list string) string {
	if i := strings.LastIndexByte(list, ','); i >= 0 {
		list = list[i+1:]
	}
	return strings.TrimSpace(list)
}

// copyBody copies the body that head describes to w with a pooled buffer,
// flushing after each read when the response is a stream (no length, or
// server-sent events), as httputil.ReverseProxy does. A chunked body's
// trailers go to hdr, under http.TrailerPrefix.
func (c *upConn) copyBody(w http.ResponseWriter, hdr http.Header, head responseHead) error {
	if head.length == 0 {
		return nil
	}
	var body io.Reader = c.br
	switch {
	case head.chunked:
		body = httputil.NewChunkedReader(c.br)
	case head.length > 0:
		c.body = io.LimitedReader{R: c.br, N: head.length}
		body = &c.body
	}
	flusher, _ := w.(http.Flusher)
	if head.length > 0 && !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") {
		flusher = nil
	}
	buf := buffers.Get().(*[]byte)
	defer buffers.Put(buf)
	var copied int64
	for {
		n, err := body.Read(*buf)
		copied += int64(n)
		if n > 0 {
			if _, werr := w.Write((*buf)[:n]); werr != nil {
				return werr
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		switch {
		case err == io.EOF && head.chunked:
			return c.readTrailers(hdr)
		case err == io.EOF && head.length > 0 && copied < head.length:
			return io.ErrUnexpectedEOF
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
}

// readTrailers reads the fields after a chunked body's last chunk into hdr.
func (c *upConn) readTrailers(hdr http.Header) error {
	for {
		line, err := c.line()
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		f, err := c.field(line)
		if err != nil {
			return err
		}
		hdr[http.TrailerPrefix+f.name] = append(hdr[http.TrailerPrefix+f.name], f.vals...)
	}
}

// writeRequest writes the request line and headers of r as the full path
// would send them to target: the URL rewritten for the rule, the upstream
// Host, X-Forwarded-* appended, hop-by-hop headers dropped.
func writeRequest(bw *bufio.Writer, r *http.Request, a *action, b *backend, target *url.URL) {
	u := r.URL
	if a.rewrite != nil || b.rewrite != nil {
		rewritten := *r.URL
		a.rewritePath(&rewritten, r, b)
		u = &rewritten
	}
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	if p := u.EscapedPath(); p != "" {
		bw.WriteString(p)
	} else {
		bw.WriteByte('/')
	}
	if u.RawQuery != "" || u.ForceQuery {
		bw.WriteByte('?')
		bw.WriteString(u.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	host := a.upstreamHost(r, b)
	if host == "" {
		host = target.Host
	}
	bw.WriteString(host)
	bw.WriteString("\r\n")
	conn := r.Header["Connection"]
	for k, vv := range r.Header {
		if skipForward(k, conn) {
			continue
		}
		for _, v := range vv {
			writeField(bw, k, v)
		}
	}
	if hasToken(r.Header["Te"], "trailers") {
		writeField(bw, "Te", "trailers")
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		bw.WriteString("X-Forwarded-For: ")
		for _, v := range r.Header["X-Forwarded-For"] {
			bw.WriteString(v)
			bw.WriteString(", ")
		}
		bw.WriteString(ip)
		bw.WriteString("\r\n")
	}
	writeField(bw, "X-Forwarded-Host", r.Host)
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	writeField(bw, "X-Forwarded-Proto", proto)
	bw.WriteString("\r\n")
}

func writeField(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

// skipForward reports whether the request header k is not sent on: a
// hop-by-hop header (or one that conn, the Connection header, names), or
// one the proxy sets itself (the full path's Rewrite starts without them).
func skipForward(k string, conn []string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded":
		return true
	}
	return hasToken(conn, k)
}

// hasToken reports whether the comma-separated lists in values name token,
// in any case.
func hasToken(values []string, token string) bool {
	for _, field := range values {
		for name := range strings.SplitSeq(field, ",") {
			if strings.EqualFold(strings.TrimSpace(name), token) {
				return true
			}
		}
	}
	return false
}
