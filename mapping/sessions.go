package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// Session persistence (GEP-1619): a route rule's sessionPersistence,
// deprecated in v1.7 in favour of XBackend but still served, becomes an
// lb.SessionPersistence on the rule's forward and on the target groups it
// forwards to (under names of their own, see persist).
//
// The API's defaults are applied here too, since a route stored under a
// CRD without them reaches the controller without: type Cookie, cookie
// lifetime Session, cookie path "/". A cookie the route leaves unnamed
// gets a name unique to the route rule ("If not specified, a unique cookie
// name SHOULD be generated"), shared by all of the rule's matches so that
// one session spans them.
//
// The values are checked as the CRD's CEL rules check them (for objects
// stored under older CRDs), and beyond them where a data plane would need
// it: an absolute timeout above zero and in whole seconds (Max-Age and
// every cloud count seconds), a cookie path that can be a Path attribute,
// a header name that no proxy handles itself.

// sessionCookiePrefix starts generated cookie names.
const sessionCookiePrefix = "cloudgate-session-"

// reservedSessionHeaders cannot carry a session token: the data plane
// writes the header on responses and reads it on requests, and these
// frame the message, route it (Host) or carry cookies themselves.
var reservedSessionHeaders = map[string]bool{"host": true, "cookie": true, "set-cookie": true}

// ruleSession converts a rule's sessionPersistence; id names the route rule
// ("namespace/route/rule-i", "grpc/" before "rule-i" for a GRPCRoute). It
// returns nil for none.
func (b *builder) ruleSession(id string, sp *gwv1.SessionPersistence) (*lb.SessionPersistence, problem) {
	if sp == nil {
		return nil, problem{}
	}
	caps := b.caps.SessionPersistence
	provider := b.caps.Provider
	typ := gwv1.CookieBasedSessionPersistence
	if sp.Type != nil {
		typ = *sp.Type
	}
	out := &lb.SessionPersistence{}
	if sp.AbsoluteTimeout != nil {
		d, err := parseDuration(string(*sp.AbsoluteTimeout))
		switch {
		case err != nil:
			return nil, unsupportedValue("sessionPersistence.absoluteTimeout %s is not a Gateway API duration", quote(string(*sp.AbsoluteTimeout)))
		case d < time.Second || d%time.Second != 0:
			return nil, unsupportedValue("sessionPersistence.absoluteTimeout %s is not a whole number of seconds of at least 1s "+
				"(cookie lifetimes count seconds)", quote(string(*sp.AbsoluteTimeout)))
		case d > lb.MaxSessionTimeout:
			return nil, unsupportedValue("sessionPersistence.absoluteTimeout %s is over %s", quote(string(*sp.AbsoluteTimeout)), lb.MaxSessionTimeout)
		}
		out.AbsoluteTimeout = d
	}
	switch typ {
	case gwv1.CookieBasedSessionPersistence:
		if sp.Header != nil {
			return nil, unsupportedValue("sessionPersistence.header must not be set when type is Cookie")
		}
		if !caps.Cookie {
			return nil, unsupportedValue("session persistence of type Cookie is not supported by provider %s", provider)
		}
		out.Type, out.Path, out.Lifetime = lb.SessionCookie, "/", lb.CookieSession
		var c gwv1.CookieConfig
		if sp.Cookie != nil {
			c = *sp.Cookie
		}
		if c.Name != nil {
			name := string(*c.Name)
			if !lb.ValidHeaderName(name) || len(name) > 256 {
				return nil, unsupportedValue("sessionPersistence.cookie.name %s is not a cookie name (an RFC 6265 token of at most 256 bytes)", quote(name))
			}
			if !caps.CookieName {
				return nil, unsupportedValue("a session cookie named by sessionPersistence.cookie.name is not supported by provider %s", provider)
			}
			out.Name = name
		} else {
			sum := sha256.Sum256([]byte(id))
			out.Name, out.NameGenerated = sessionCookiePrefix+hex.EncodeToString(sum[:6]), true
		}
		if c.Path != nil {
			if !lb.ValidCookiePath(*c.Path) || len(*c.Path) > 1024 {
				return nil, unsupportedValue("sessionPersistence.cookie.path %s is not a cookie path (it starts with /, "+
					"has no space, control character or ;, at most 1024 bytes)", quote(*c.Path))
			}
			if *c.Path != "/" && !caps.CookiePath {
				return nil, unsupportedValue("sessionPersistence.cookie.path other than / is not supported by provider %s", provider)
			}
			out.Path = *c.Path
		}
		if c.LifetimeType != nil {
			switch *c.LifetimeType {
			case gwv1.SessionCookieLifetimeType:
			case gwv1.PermanentCookieLifetimeType:
				out.Lifetime = lb.CookiePermanent
			default:
				return nil, unsupportedValue("sessionPersistence.cookie.lifetimeType %s is not Permanent or Session", quote(string(*c.LifetimeType)))
			}
		}
		switch {
		case out.Lifetime == lb.CookiePermanent && out.AbsoluteTimeout == 0:
			return nil, unsupportedValue("sessionPersistence.absoluteTimeout is required when cookie.lifetimeType is Permanent")
		case out.Lifetime == lb.CookiePermanent && !caps.PermanentCookie:
			return nil, unsupportedValue("a Permanent session cookie (cookie.lifetimeType) is not supported by provider %s", provider)
		case out.Lifetime == lb.CookieSession && out.AbsoluteTimeout > 0 && !caps.TrackedTimeout:
			return nil, unsupportedValue("sessionPersistence.absoluteTimeout on a Session cookie (tracked by the load balancer) "+
				"is not supported by provider %s", provider)
		}
	case gwv1.HeaderBasedSessionPersistence:
		if sp.Cookie != nil {
			return nil, unsupportedValue("sessionPersistence.cookie must not be set when type is Header")
		}
		if sp.Header == nil {
			return nil, unsupportedValue("sessionPersistence.header is required when type is Header")
		}
		name := string(sp.Header.Name)
		if !lb.ValidHeaderName(name) || len(name) > 256 {
			return nil, unsupportedValue("sessionPersistence.header.name %s is not a header name (an RFC 9110 token of at most 256 bytes)", quote(name))
		}
		if lower := strings.ToLower(name); hopHeaders[lower] || reservedSessionHeaders[lower] {
			return nil, unsupportedValue("sessionPersistence.header.name %s cannot carry a session: the proxy handles that header itself", quote(name))
		}
		if !caps.Header {
			return nil, unsupportedValue("session persistence of type Header is not supported by provider %s", provider)
		}
		if out.AbsoluteTimeout > 0 && !caps.TrackedTimeout {
			return nil, unsupportedValue("sessionPersistence.absoluteTimeout on a Header session (tracked by the load balancer) "+
				"is not supported by provider %s", provider)
		}
		out.Type, out.Name = lb.SessionHeader, name
	default:
		return nil, unsupportedValue("sessionPersistence.type %s is not Cookie or Header", quote(string(typ)))
	}
	if limit := caps.MaxAbsoluteTimeout; limit > 0 && out.AbsoluteTimeout > limit {
		return nil, unsupportedValue("sessionPersistence.absoluteTimeout %s is over provider %s's maximum of %s",
			quote(string(*sp.AbsoluteTimeout)), provider, limit)
	}
	return out, problem{}
}

// persist puts the session on a forward: each valid backend's target group
// is renamed to one of its own for this session ("<group>/session-<hash>",
// the hash of the session's settings) and carries the session, so that a
// provider whose stickiness belongs to the group never shares the group
// with a rule that asks for other persistence or none. fw.groups are the
// forward's groups only (never the mirrors'), so mirrors stay unpinned.
func (b *builder) persist(sp *lb.SessionPersistence, fw *forwardResult) problem {
	suffix := "/session-" + sessionHash(sp)
	renamed := map[string]string{}
	for i := range fw.groups {
		g := &fw.groups[i]
		renamed[g.Name] = g.Name + suffix
		g.Name += suffix
		g.SessionPersistence = sp
	}
	for i := range fw.backends {
		if n, ok := renamed[fw.backends[i].TargetGroup]; ok {
			fw.backends[i].TargetGroup = n
		}
	}
	if len(fw.groups) > 1 && !b.caps.SessionPersistence.WeightedBackends {
		return unsupportedValue("session persistence on a rule that forwards to %d Service ports is not supported by provider %s "+
			"(it would move sessions between them by weight)", len(fw.groups), b.caps.Provider)
	}
	return problem{}
}

// sessionHash names a session's settings in 8 hex digits.
func sessionHash(sp *lb.SessionPersistence) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%t\x00%s\x00%s\x00%d", sp.Type, sp.Name, sp.NameGenerated, sp.Path, sp.Lifetime, sp.AbsoluteTimeout))
	return hex.EncodeToString(sum[:4])
}
