package dataplane

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

const (
	// maxMirrorsInFlight bounds the mirrored requests one Server has open: a
	// slow mirror backend costs dropped copies, never memory or latency of
	// the clients.
	maxMirrorsInFlight = 256
	// mirrorBodyLimit is the largest request body that is mirrored. The body
	// is held in memory until every copy is sent; a larger request is
	// forwarded but not mirrored.
	mirrorBodyLimit = 1 << 20
)

// mirror sends copies of r to the action's mirrors that its sample selects.
// The copies run in the background and their outcome is discarded: nothing a
// mirror does reaches the client. r's body is buffered if a copy needs it,
// and r keeps an equivalent body.
func (f *forwarder) mirror(r *http.Request, st *proxyState) {
	if r.Header.Get("Upgrade") != "" {
		return // nobody could answer a copy of a protocol switch
	}
	a := st.action
	var body []byte
	buffered := false
	for i := range a.mirrors {
		m := &a.mirrors[i]
		if m.percent < 100 && rand.Float64()*100 >= m.percent {
			continue
		}
		if len(m.group.targets) == 0 {
			continue
		}
		if !buffered {
			var ok bool
			if body, ok = bufferBody(r, mirrorBodyLimit); !ok {
				f.logf("Request not mirrored: body too large or unreadable", "limit", mirrorBodyLimit)
				return
			}
			buffered = true
		}
		select {
		case f.mirrorSlots <- struct{}{}:
		default:
			f.logf("Request not mirrored: too many mirrored requests in flight", "group", m.group.name)
			continue
		}
		out, cancel := mirrorRequest(r, a, m.group.nextTarget(), body)
		rt := f.transportFor(m.group)
		go func() {
			defer func() { <-f.mirrorSlots }()
			defer cancel()
			resp, err := rt.RoundTrip(out)
			if err != nil {
				f.logf("Mirrored request failed", "url", out.URL.String(), "error", err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}()
	}
}

// mirrorRequest builds the copy of in for target: the forwarded request as
// the rule changes it (rewrite and the rule's request headers; the chosen
// backend's own headers are not the mirror's). It is detached from the
// client's context, so that a finished client exchange does not cancel it.
func mirrorRequest(in *http.Request, a *action, target *url.URL, body []byte) (*http.Request, context.CancelFunc) {
	timeout := mirrorTimeout
	for _, t := range []time.Duration{a.requestTimeout, a.backendTimeout} {
		if t > 0 && t < timeout {
			timeout = t
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	out := in.Clone(ctx)
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = target.Scheme, target.Host
	// A mirror gets the rule's rewrite only: backend filters apply to
	// requests sent to their backend.
	a.rewritePath(out.URL, in, nil)
	out.Host = a.upstreamHost(in, nil)
	removeHopByHop(out.Header)
	a.requestHeaders.applyRequest(out)
	out.TransferEncoding, out.Trailer, out.Close = nil, nil, false
	out.ContentLength = int64(len(body))
	out.Body = http.NoBody
	if len(body) > 0 {
		out.Body = io.NopCloser(bytes.NewReader(body))
	}
	return out, cancel
}

// bufferBody reads r's body into memory (for the mirrors, or to replay it
// on a retry) and gives r an equivalent one. ok is false when the body is
// over limit bytes or cannot be read; r's body then still yields
// everything, read or not.
func bufferBody(r *http.Request, limit int64) (body []byte, ok bool) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, true
	}
	if r.ContentLength > limit {
		return nil, false
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil || int64(len(buf)) > limit {
		r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
		return nil, false
	}
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(buf))
	// A chunked body is now known in full: send it with its length.
	r.ContentLength = int64(len(buf))
	return buf, true
}

type readCloser struct {
	io.Reader
	io.Closer
}

// hopHeaders are the HTTP/1.1 hop-by-hop headers (RFC 9110 section 7.6.1),
// which a proxy must not forward.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHopByHop(h http.Header) {
	for _, field := range h["Connection"] {
		for name := range strings.SplitSeq(field, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		delete(h, name)
	}
}
