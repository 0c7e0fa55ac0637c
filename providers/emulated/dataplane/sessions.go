package dataplane

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// This file realizes lb.SessionPersistence: a rule's session pins each
// client to one target of one of its backends.
//
// The token (a cookie value or a header value) is opaque and cannot be
// forged into an address: it holds the id of a target (a hash of the
// target group's name and the target's ip:port, looked up among the
// rule's current targets only), the time the session started, and a MAC
// over both and the session's name under a key of this process. A token
// whose MAC is wrong, whose session is older than the absolute timeout,
// or whose target is no longer in the rule's groups is ignored: the
// request is balanced as usual and gets a new token. The key is made at
// start, so sessions do not survive a restart of the data plane, as the
// API allows (a session is best kept, never promised past the backend).
//
// Cookies: a new session's response gets Set-Cookie (Path, HttpOnly,
// SameSite=Lax, Secure on TLS, Max-Age for Permanent cookies); a request
// with a valid token gets none, since the cookie it holds is still
// good. Headers: every response of the session carries the token in the
// named header, the request's own when it was valid, so a client can
// always send back the last one it saw; the session's start stays in it,
// so echoing a token never extends an absolute timeout.

// sessionKey is this process's MAC key for session tokens.
var sessionKey = func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never fails (Go 1.24+)
	return k
}()

const (
	tokenIDLen  = 8
	tokenMACLen = 16
	tokenLen    = tokenIDLen + 8 + tokenMACLen
)

// sessionPolicy is a compiled lb.SessionPersistence with the rule's
// targets by id.
type sessionPolicy struct {
	cookie    bool
	name      string // the cookie's name, or the canonical header name
	path      string
	permanent bool
	timeout   time.Duration // 0: none
	pins      map[uint64]pin
}

// pin is where a target id leads: a backend of the rule and its target.
type pin struct {
	backend *backend
	target  *url.URL
}

// compileSession compiles the action's session over its compiled
// backends; nil for none.
func compileSession(sp *lb.SessionPersistence, backends []backend) (*sessionPolicy, error) {
	if sp == nil {
		return nil, nil
	}
	if len(backends) == 0 {
		return nil, errors.New("session persistence needs a forward action")
	}
	if !lb.ValidHeaderName(sp.Name) {
		return nil, fmt.Errorf("session name %q is not a token", sp.Name)
	}
	if sp.AbsoluteTimeout < 0 {
		return nil, errors.New("negative session timeout")
	}
	p := &sessionPolicy{name: sp.Name, timeout: sp.AbsoluteTimeout, pins: map[uint64]pin{}}
	switch sp.Type {
	case lb.SessionCookie:
		if !lb.ValidCookiePath(sp.Path) {
			return nil, fmt.Errorf("invalid cookie path %q", sp.Path)
		}
		p.cookie, p.path = true, sp.Path
		switch sp.Lifetime {
		case lb.CookieSession:
		case lb.CookiePermanent:
			if sp.AbsoluteTimeout <= 0 {
				return nil, errors.New("a permanent cookie needs an absolute timeout")
			}
			p.permanent = true
		default:
			return nil, fmt.Errorf("unknown cookie lifetime %q", sp.Lifetime)
		}
	case lb.SessionHeader:
		p.name = http.CanonicalHeaderKey(sp.Name)
	default:
		return nil, fmt.Errorf("unknown session type %q", sp.Type)
	}
	for i := range backends {
		b := &backends[i]
		if b.group == nil {
			continue
		}
		for _, t := range b.group.targets {
			p.pins[targetID(b.group.name, t.Host)] = pin{backend: b, target: t}
		}
	}
	return p, nil
}

func targetID(group, hostport string) uint64 {
	sum := sha256.Sum256([]byte(group + "\x00" + hostport))
	return binary.BigEndian.Uint64(sum[:tokenIDLen])
}

// httpSession is one request's session: the token it came with, when valid.
type httpSession struct {
	policy *sessionPolicy
	// valid says the request's token named a target of the rule;
	// target and started are then that target and the session's start.
	valid   bool
	target  *url.URL
	started time.Time
	tls     bool
}

// choose picks the backend and target of a forwarded request: the pinned
// ones when the request carries a valid token, else a backend by weight
// and its next target. target is nil when the backend has no target or
// is an invalid reference (b nil or b.group nil).
func (a *action) choose(r *http.Request, now time.Time) (b *backend, target *url.URL, s *httpSession) {
	if p := a.session; p != nil {
		s = &httpSession{policy: p, tls: r.TLS != nil}
		if id, started, ok := p.read(r, now); ok {
			if pn, found := p.pins[id]; found {
				s.valid, s.target, s.started = true, pn.target, started
				return pn.backend, pn.target, s
			}
		}
	}
	b = a.pick()
	if b != nil && b.group != nil && len(b.group.targets) > 0 {
		target = b.group.nextTarget()
	}
	return b, target, s
}

// read returns the target id and start of the request's token, when it
// has one whose MAC holds and whose session has not timed out.
func (p *sessionPolicy) read(r *http.Request, now time.Time) (uint64, time.Time, bool) {
	var raw string
	if p.cookie {
		c, err := r.Cookie(p.name)
		if err != nil {
			return 0, time.Time{}, false
		}
		raw = c.Value
	} else {
		raw = r.Header.Get(p.name)
	}
	tok, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(tok) != tokenLen {
		return 0, time.Time{}, false
	}
	if !hmac.Equal(tok[tokenIDLen+8:], p.mac(tok[:tokenIDLen+8])) {
		return 0, time.Time{}, false
	}
	id := binary.BigEndian.Uint64(tok[:tokenIDLen])
	started := time.UnixMilli(int64(binary.BigEndian.Uint64(tok[tokenIDLen : tokenIDLen+8])))
	if p.timeout > 0 && now.Sub(started) >= p.timeout {
		return 0, time.Time{}, false
	}
	return id, started, true
}

func (p *sessionPolicy) mac(body []byte) []byte {
	m := hmac.New(sha256.New, sessionKey)
	m.Write([]byte(p.name + "\x00"))
	m.Write(body)
	return m.Sum(nil)[:tokenMACLen]
}

// token encodes a session on target of group, started at started.
func (p *sessionPolicy) token(group, hostport string, started time.Time) string {
	tok := make([]byte, tokenIDLen+8, tokenLen)
	binary.BigEndian.PutUint64(tok, targetID(group, hostport))
	// Milliseconds: seconds would end a session up to a second early.
	binary.BigEndian.PutUint64(tok[tokenIDLen:], uint64(started.UnixMilli()))
	tok = append(tok, p.mac(tok)...)
	return base64.RawURLEncoding.EncodeToString(tok)
}

// respond hands the client the session's token on a response that
// answered, from target host, for group (the retrier may have moved the
// request to another target than the pinned one, which then gets the
// session).
func (s *httpSession) respond(h http.Header, group, host string, now time.Time) {
	if s == nil {
		return
	}
	p := s.policy
	started := now
	if s.valid {
		if s.target.Host == host && p.cookie {
			return // the client's cookie still names this target
		}
		started = s.started
	}
	tok := p.token(group, host, started)
	if !p.cookie {
		h.Set(p.name, tok)
		return
	}
	c := &http.Cookie{Name: p.name, Value: tok, Path: p.path, HttpOnly: true, Secure: s.tls, SameSite: http.SameSiteLaxMode}
	if p.permanent {
		// The session's end, not a fresh lifetime: a cookie re-issued
		// for a new target keeps the session's start.
		left := p.timeout - now.Sub(started)
		c.MaxAge = max(int(left/time.Second), 1)
	}
	h.Add("Set-Cookie", c.String())
}
