package dataplane

import (
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// sessionFixture serves rules with sessions through the handler to three
// real backends, each answering with its name.
type sessionFixture struct {
	t       *testing.T
	h       handler
	targets []lb.Target
	names   map[string]string // host:port -> backend name
	rules   []lb.Rule
}

func newSessionFixture(t *testing.T, rules ...lb.Rule) *sessionFixture {
	t.Helper()
	f := &sessionFixture{t: t, names: map[string]string{}, rules: rules}
	for _, name := range []string{"a", "b", "c"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, name)
		}))
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		host, port, _ := net.SplitHostPort(u.Host)
		p, _ := strconv.Atoi(port)
		f.targets = append(f.targets, lb.Target{IP: host, Port: int32(p)})
		f.names[u.Host] = name
	}
	f.compile(f.targets)
	return f
}

// compile serves the fixture's rules with the target group "g" holding
// targets, as a routing table swap would.
func (f *sessionFixture) compile(targets []lb.Target) {
	f.t.Helper()
	c, err := Compile(Spec{
		TargetGroups: []lb.TargetGroup{{Name: "g", Protocol: lb.ProtocolHTTP, Targets: targets}},
		Listeners:    []lb.Listener{{Name: "http", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: f.rules}}}},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	tr := &http.Transport{}
	f.t.Cleanup(tr.CloseIdleConnections)
	f.h = handler{current: func() *table { return c.tables[0] }, fwd: newForwarder(tr, tr, f.t.Logf)}
}

// get sends one request and returns the backend that answered and the
// response's headers.
func (f *sessionFixture) get(path string, header http.Header) (string, http.Header) {
	f.t.Helper()
	r := httptest.NewRequest("GET", "http://gw.example"+path, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		f.t.Fatalf("GET %s: status %d", path, w.Code)
	}
	return w.Body.String(), w.Result().Header
}

func sessionRule(path string, sp *lb.SessionPersistence) lb.Rule {
	return lb.Rule{Name: path, Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: path}},
		Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "g", Weight: 1}}, SessionPersistence: sp}}
}

func cookieSession(name string) *lb.SessionPersistence {
	return &lb.SessionPersistence{Type: lb.SessionCookie, Name: name, Path: "/", Lifetime: lb.CookieSession}
}

// setCookie returns the response's cookie of that name, nil for none.
func setCookie(h http.Header, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestCookieSessionPinsTarget: without a cookie requests are balanced over
// the three targets, each getting a session cookie; with one, every
// request goes to the target that issued it, and no new cookie is set.
func TestCookieSessionPinsTarget(t *testing.T) {
	f := newSessionFixture(t, sessionRule("/s", cookieSession("sticky")), sessionRule("/p", &lb.SessionPersistence{
		Type: lb.SessionCookie, Name: "perm", Path: "/p", Lifetime: lb.CookiePermanent, AbsoluteTimeout: time.Hour}))
	seen := map[string]bool{}
	var first *http.Cookie
	var firstBackend string
	for range 6 {
		b, h := f.get("/s", nil)
		seen[b] = true
		c := setCookie(h, "sticky")
		if c == nil {
			t.Fatalf("no session cookie from %s: %v", b, h)
		}
		if c.Path != "/" || !c.HttpOnly || c.MaxAge != 0 || !c.Expires.IsZero() {
			t.Errorf("session cookie %s: want Path=/, HttpOnly, no Max-Age or Expires", c)
		}
		if first == nil {
			first, firstBackend = c, b
		}
	}
	if len(seen) != 3 {
		t.Errorf("requests without a cookie reached %v, want all three targets", seen)
	}
	for range 20 {
		b, h := f.get("/s", http.Header{"Cookie": {first.Name + "=" + first.Value}})
		if b != firstBackend {
			t.Fatalf("pinned request reached %s, want %s", b, firstBackend)
		}
		if c := setCookie(h, "sticky"); c != nil {
			t.Fatalf("pinned request got a new cookie %s", c)
		}
	}
	// A Permanent cookie lasts the absolute timeout, at its own path.
	_, h := f.get("/p", nil)
	if c := setCookie(h, "perm"); c == nil || c.MaxAge != 3600 || c.Path != "/p" {
		t.Errorf("permanent cookie %v, want Max-Age=3600 Path=/p", c)
	}
}

// TestHeaderSessionBothWays: the token comes in the named response header,
// and sent back pins the request; the response carries the same token.
func TestHeaderSessionBothWays(t *testing.T) {
	f := newSessionFixture(t, sessionRule("/", &lb.SessionPersistence{Type: lb.SessionHeader, Name: "x-session", AbsoluteTimeout: time.Hour}))
	b0, h := f.get("/", nil)
	tok := h.Get("X-Session")
	if tok == "" {
		t.Fatalf("no X-Session in %v", h)
	}
	for range 20 {
		b, h := f.get("/", http.Header{"X-Session": {tok}})
		if b != b0 {
			t.Fatalf("pinned request reached %s, want %s", b, b0)
		}
		if got := h.Get("X-Session"); got != tok {
			t.Fatalf("pinned response token %q, want the request's %q", got, tok)
		}
	}
}

// TestSessionTokenRefused: a token that has timed out, was tampered with,
// comes from another session's name, or names an address is ignored: the
// request is balanced and gets a new token.
func TestSessionTokenRefused(t *testing.T) {
	sp := &lb.SessionPersistence{Type: lb.SessionHeader, Name: "x-session", AbsoluteTimeout: time.Minute}
	f := newSessionFixture(t, sessionRule("/", sp))
	p, err := compileSession(sp, nil)
	if err == nil || p != nil {
		t.Fatalf("a session without backends compiled")
	}
	p, _ = compileSession(sp, []backend{{group: &group{name: "g"}}})
	target := net.JoinHostPort(f.targets[0].IP, strconv.Itoa(int(f.targets[0].Port)))
	fresh := p.token("g", target, time.Now())
	expired := p.token("g", target, time.Now().Add(-2*time.Minute))
	raw, _ := base64.RawURLEncoding.DecodeString(fresh)
	raw[0] ^= 1
	tampered := base64.RawURLEncoding.EncodeToString(raw)
	other, _ := compileSession(&lb.SessionPersistence{Type: lb.SessionHeader, Name: "x-other"}, []backend{{group: &group{name: "g"}}})
	foreign := other.token("g", target, time.Now())

	pinned := 0
	for range 12 {
		if b, _ := f.get("/", http.Header{"X-Session": {fresh}}); b == "a" {
			pinned++
		}
	}
	if pinned != 12 {
		t.Fatalf("a fresh token pinned %d of 12 requests to a", pinned)
	}
	for name, tok := range map[string]string{"expired": expired, "tampered": tampered, "foreign": foreign, "address": target} {
		seen := map[string]bool{}
		for range 6 {
			b, h := f.get("/", http.Header{"X-Session": {tok}})
			seen[b] = true
			if got := h.Get("X-Session"); got == tok || got == "" {
				t.Errorf("%s token: response token %q, want a new one", name, got)
			}
		}
		if len(seen) != 3 {
			t.Errorf("%s token: requests reached %v, want all three targets (balanced)", name, seen)
		}
	}
}

// TestSessionRepinsWhenTargetLeaves: after the pinned target leaves the
// group (a routing table swap), the session's requests go to another
// target and get a cookie naming it, which then holds.
func TestSessionRepinsWhenTargetLeaves(t *testing.T) {
	f := newSessionFixture(t, sessionRule("/", cookieSession("sticky")))
	b0, h := f.get("/", nil)
	c := setCookie(h, "sticky")
	var rest []lb.Target
	for _, tg := range f.targets {
		if f.names[net.JoinHostPort(tg.IP, strconv.Itoa(int(tg.Port)))] != b0 {
			rest = append(rest, tg)
		}
	}
	f.compile(rest)
	b1, h := f.get("/", http.Header{"Cookie": {c.Name + "=" + c.Value}})
	if b1 == b0 {
		t.Fatalf("request reached %s, which left the group", b1)
	}
	c1 := setCookie(h, "sticky")
	if c1 == nil || c1.Value == c.Value {
		t.Fatalf("re-pinned request got cookie %v, want a new one", c1)
	}
	for range 10 {
		if b, _ := f.get("/", http.Header{"Cookie": {c1.Name + "=" + c1.Value}}); b != b1 {
			t.Fatalf("re-pinned request reached %s, want %s", b, b1)
		}
	}
}

func TestCompileSessionErrors(t *testing.T) {
	bs := []backend{{group: &group{name: "g"}}}
	for _, tc := range []struct {
		sp   lb.SessionPersistence
		want string
	}{
		{lb.SessionPersistence{Type: "ClientIP", Name: "s"}, "unknown session type"},
		{lb.SessionPersistence{Type: lb.SessionCookie, Name: "a b", Path: "/", Lifetime: lb.CookieSession}, "not a token"},
		{lb.SessionPersistence{Type: lb.SessionCookie, Name: "s", Path: "x", Lifetime: lb.CookieSession}, "invalid cookie path"},
		{lb.SessionPersistence{Type: lb.SessionCookie, Name: "s", Path: "/", Lifetime: lb.CookiePermanent}, "needs an absolute timeout"},
		{lb.SessionPersistence{Type: lb.SessionCookie, Name: "s", Path: "/", Lifetime: "Forever"}, "unknown cookie lifetime"},
	} {
		_, err := compileSession(&tc.sp, bs)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.sp, err, tc.want)
		}
	}
}
