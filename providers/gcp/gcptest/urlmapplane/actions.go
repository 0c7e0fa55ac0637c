package urlmapplane

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// The request and response changes a route makes, per the regionUrlMaps
// REST reference (https://cloud.google.com/compute/docs/reference/rest/v1/regionUrlMaps):
//   - headerAction: requestHeadersToAdd, requestHeadersToRemove,
//     responseHeadersToAdd, responseHeadersToRemove; an option's replace
//     "If false, headerValue is appended to any values that already exist
//     for the header. If true, headerValue is set for the header,
//     discarding any values that were set for that header. The default
//     value is true, unless a variable is present in headerValue". The
//     order of levels: a weighted backend service's headerAction "take[s]
//     effect before headerAction in the enclosing HttpRouteRule,
//     PathMatcher and UrlMap". Within one action the removals come first,
//     then the additions (Envoy's order; the page is silent).
//   - urlRewrite: hostRewrite replaces the Host; pathPrefixRewrite
//     replaces "the matching portion of the request's path";
//     pathTemplateRewrite fills the template's variables.
//   - urlRedirect: hostRedirect, pathRedirect, prefixRedirect ("replaces
//     the prefixMatch ... retaining the remaining portion of the URL"),
//     httpsRedirect, stripQuery, redirectResponseCode
//     (MOVED_PERMANENTLY_DEFAULT 301, FOUND 302, SEE_OTHER 303,
//     TEMPORARY_REDIRECT 307, PERMANENT_REDIRECT 308).

// applyHeaders changes h as the actions say, in order; request picks the
// request or the response half.
func applyHeaders(h http.Header, actions []*computepb.HttpHeaderAction, request bool) {
	for _, a := range actions {
		remove, add := a.GetResponseHeadersToRemove(), a.GetResponseHeadersToAdd()
		if request {
			remove, add = a.GetRequestHeadersToRemove(), a.GetRequestHeadersToAdd()
		}
		for _, name := range remove {
			h.Del(name)
		}
		for _, o := range add {
			replace := !strings.Contains(o.GetHeaderValue(), "{")
			if o.Replace != nil {
				replace = o.GetReplace()
			}
			if replace {
				h.Set(o.GetHeaderName(), o.GetHeaderValue())
			} else {
				h.Add(o.GetHeaderName(), o.GetHeaderValue())
			}
		}
	}
}

// hostHeaderOf pulls a Host the request actions set out of h: net/http
// sends Request.Host, not a "Host" entry of the header map.
func hostHeaderOf(h http.Header) (string, bool) {
	v := h.Get("Host")
	if v == "" {
		return "", false
	}
	h.Del("Host")
	return v, true
}

// rewritePath is the path a urlRewrite sends upstream: the matched part
// replaced by pathPrefixRewrite, or the template filled in.
func rewritePath(path string, d decision, rw *computepb.UrlRewrite) string {
	switch {
	case rw.PathTemplateRewrite != nil && d.vars != nil:
		return rewriteTemplate(rw.GetPathTemplateRewrite(), d.vars)
	case rw.PathPrefixRewrite != nil:
		n := min(len(d.matched), len(path))
		return rw.GetPathPrefixRewrite() + path[n:]
	}
	return path
}

var redirectCodes = map[string]int{
	"":                          http.StatusMovedPermanently,
	"MOVED_PERMANENTLY_DEFAULT": http.StatusMovedPermanently,
	"FOUND":                     http.StatusFound,
	"SEE_OTHER":                 http.StatusSeeOther,
	"TEMPORARY_REDIRECT":        http.StatusTemporaryRedirect,
	"PERMANENT_REDIRECT":        http.StatusPermanentRedirect,
}

// redirectLocation is a urlRedirect's answer to a request for host, path
// and rawQuery arriving with scheme.
func redirectLocation(rd *computepb.HttpRedirectAction, d decision, scheme, host, path, rawQuery string) (string, int) {
	code, ok := redirectCodes[rd.GetRedirectResponseCode()]
	if !ok {
		code = http.StatusMovedPermanently
	}
	to := scheme
	if rd.GetHttpsRedirect() {
		to = "https"
	}
	if rd.HostRedirect != nil {
		host = rd.GetHostRedirect()
	} else if to != scheme {
		// A scheme change drops the request's port: the new scheme's
		// default port is the one that serves it (Envoy's behaviour;
		// the reference says only that the scheme changes).
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	switch {
	case rd.PathRedirect != nil:
		path = rd.GetPathRedirect()
	case rd.PrefixRedirect != nil:
		n := min(len(d.matched), len(path))
		path = rd.GetPrefixRedirect() + path[n:]
	}
	u := url.URL{Scheme: to, Host: host, Opaque: path}
	if !rd.GetStripQuery() {
		u.RawQuery = rawQuery
	}
	// Opaque keeps the path as escaped on the wire; net/url writes
	// "scheme://host" + opaque when the opaque starts with "/".
	return u.Scheme + "://" + u.Host + u.Opaque + queryPart(u.RawQuery), code
}

func queryPart(q string) string {
	if q == "" {
		return ""
	}
	return "?" + q
}

// shadowHost is the Host of a mirrored request: "Before sending traffic
// to the shadow service, the host / authority header is suffixed with
// -shadow" (requestMirrorPolicy), before the port.
func shadowHost(host string) string {
	if h, p, err := net.SplitHostPort(host); err == nil {
		return net.JoinHostPort(h+"-shadow", p)
	}
	return host + "-shadow"
}
