package lb

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// SessionPersistence pins a client's requests to one endpoint: the load
// balancer picks a target as usual for the first request, hands the client
// a token naming it (a cookie, or a response header), and sends every later
// request that carries a valid token to that target while it stays in the
// target group. A request whose token names a target that is gone, that
// has expired, or that is not valid gets a new target and a new token.
//
// It sits on a Forward Action (the route rule asks for it) and, for
// providers whose stickiness is a property of the target group (AWS target
// group attributes, GCP backend services), on every TargetGroup the Action
// forwards to: mapping gives such groups names of their own (a suffix
// derived from the persistence), so that a group is never shared by rules
// that ask for different persistence, or for none. Mirrors keep their
// plain groups: a mirrored copy is never pinned.
type SessionPersistence struct {
	Type SessionType `json:"type"`
	// Name is the cookie's or the header's name (a token). For a cookie
	// the route left unnamed, mapping generates a name unique to the route
	// rule and sets NameGenerated: a provider that issues a cookie of a
	// fixed name of its own (ALB's AWSALB, GCP's GCLB) may use that
	// instead; a name the route gives needs
	// SessionPersistenceCapabilities.CookieName.
	Name          string `json:"name"`
	NameGenerated bool   `json:"nameGenerated,omitempty"`
	// Path is the cookie's Path attribute ("/" unless the route says
	// otherwise; another needs CookiePath). Headers have none.
	Path string `json:"path,omitempty"`
	// Lifetime is a cookie's: a Session cookie carries no Expires or
	// Max-Age (the browser drops it when it closes), a Permanent one
	// Max-Age AbsoluteTimeout. Headers have none.
	Lifetime CookieLifetime `json:"lifetime,omitempty"`
	// AbsoluteTimeout ends a session this long after its token was issued,
	// whether the client still sends it or not; zero for no end. A whole
	// number of seconds (cookies and clouds count seconds). Required for
	// Permanent cookies, whose Max-Age it is; on Session cookies and
	// headers the load balancer tracks it itself (TrackedTimeout).
	AbsoluteTimeout time.Duration `json:"absoluteTimeout,omitempty"`
}

// SessionType says what carries a session's token.
type SessionType string

// Session types, as the Gateway API names them.
const (
	// SessionCookie: the load balancer sets a cookie (Set-Cookie on the
	// response that chose the target), which browsers send back.
	SessionCookie SessionType = "Cookie"
	// SessionHeader: the load balancer sets the header Name on every
	// response of the session, and the client sends it back on the
	// requests that continue it.
	SessionHeader SessionType = "Header"
)

// CookieLifetime says whether a session cookie outlives the browser.
type CookieLifetime string

// Cookie lifetimes, as the Gateway API names them.
const (
	CookieSession   CookieLifetime = "Session"
	CookiePermanent CookieLifetime = "Permanent"
)

// MaxSessionTimeout bounds AbsoluteTimeout for every provider: a year is
// far beyond any cloud's (ALB: 7 days, GCP: 14 days) and keeps Max-Age
// well within what browsers take.
const MaxSessionTimeout = 365 * 24 * time.Hour

// SessionPersistenceCapabilities say which sessions a provider carries
// (Capabilities.SessionPersistence). Cookie is the base: a Session
// cookie at path "/" of a name the provider may choose (NameGenerated); each
// other flag adds what its name says.
type SessionPersistenceCapabilities struct {
	// Cookie says whether Type Cookie is carried at all.
	Cookie bool
	// CookieName says whether a cookie name the route gives is issued
	// under that name.
	CookieName bool
	// CookiePath says whether a cookie Path other than "/" is carried.
	CookiePath bool
	// PermanentCookie says whether Lifetime Permanent is carried: the
	// cookie's Max-Age (or Expires) is AbsoluteTimeout.
	PermanentCookie bool
	// TrackedTimeout says whether an AbsoluteTimeout on a Session cookie
	// or a header is carried: the load balancer ends the session itself
	// after it, although the client keeps the token.
	TrackedTimeout bool
	// Header says whether Type Header is carried: the load balancer
	// issues the token in the named response header and reads it back
	// from the request header.
	Header bool
	// WeightedBackends says whether a persistent Action may forward to
	// more than one target group: the session then stays on the group it
	// was first sent to, whatever the weights. Without it such a rule is
	// refused, since a per-request weighted choice would move a session
	// between groups.
	WeightedBackends bool
	// MaxAbsoluteTimeout bounds AbsoluteTimeout (0: MaxSessionTimeout).
	MaxAbsoluteTimeout time.Duration
}

// validate checks a session's own fields; nil is valid.
func (s *SessionPersistence) validate() error {
	if s == nil {
		return nil
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("session persistence: "+format, a...)) }
	if !ValidHeaderName(s.Name) {
		bad("name %q is not a token", s.Name)
	}
	if s.AbsoluteTimeout < 0 || s.AbsoluteTimeout%time.Second != 0 || s.AbsoluteTimeout > MaxSessionTimeout {
		bad("absolute timeout %v is not a whole number of seconds up to %v", s.AbsoluteTimeout, MaxSessionTimeout)
	}
	switch s.Type {
	case SessionCookie:
		if !ValidCookiePath(s.Path) {
			bad("cookie path %q does not start with / or has a control character or ;", s.Path)
		}
		switch s.Lifetime {
		case CookieSession:
		case CookiePermanent:
			if s.AbsoluteTimeout == 0 {
				bad("a permanent cookie needs an absolute timeout")
			}
		default:
			bad("unknown cookie lifetime %q", s.Lifetime)
		}
	case SessionHeader:
		if s.Path != "" || s.Lifetime != "" || s.NameGenerated {
			bad("a header session has no path, lifetime or generated name")
		}
	default:
		bad("unknown type %q", s.Type)
	}
	return errors.Join(errs...)
}

// ValidCookiePath reports whether p can be a cookie's Path attribute as
// the load balancer writes it: it starts with "/" (user agents ignore any
// other, RFC 6265 section 5.2.4) and holds no control character, space
// or ";" (which would end the attribute).
func ValidCookiePath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c == ';' || c == 0x7f {
			return false
		}
	}
	return true
}

// validateSessions checks that every target group that carries a session
// is used only by actions that ask for the same one, and that every action
// with a session forwards only to groups that carry it.
func (l *LoadBalancer) validateSessions() []error {
	var errs []error
	carried := map[string]*SessionPersistence{}
	for _, tg := range l.TargetGroups {
		if tg.SessionPersistence != nil {
			if err := tg.SessionPersistence.validate(); err != nil {
				errs = append(errs, fmt.Errorf("target group %q: %w", tg.Name, err))
			}
			carried[tg.Name] = tg.SessionPersistence
		}
	}
	for _, ls := range l.Listeners {
		for _, vh := range ls.VirtualHosts {
			for _, r := range vh.Rules {
				sp := r.Action.SessionPersistence
				if sp != nil && len(r.Action.Forward) == 0 {
					errs = append(errs, fmt.Errorf("rule %q: session persistence needs a forward action", r.Name))
				}
				if err := sp.validate(); err != nil {
					errs = append(errs, fmt.Errorf("rule %q: %w", r.Name, err))
				}
				for _, b := range r.Action.Forward {
					if b.TargetGroup == "" {
						continue
					}
					if got := carried[b.TargetGroup]; !sameSession(got, sp) {
						errs = append(errs, fmt.Errorf("rule %q: target group %q carries another session persistence than the rule's", r.Name, b.TargetGroup))
					}
				}
				for _, m := range r.Action.Mirrors {
					if carried[m.TargetGroup] != nil {
						errs = append(errs, fmt.Errorf("rule %q: mirror target group %q carries session persistence", r.Name, m.TargetGroup))
					}
				}
			}
		}
		for _, st := range ls.Streams {
			for _, b := range st.Backends {
				if carried[b.TargetGroup] != nil {
					errs = append(errs, fmt.Errorf("stream %q: target group %q carries session persistence", st.Name, b.TargetGroup))
				}
			}
		}
	}
	return errs
}

func sameSession(a, b *SessionPersistence) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
