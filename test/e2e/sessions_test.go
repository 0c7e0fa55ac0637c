package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// pods starts n servers in the backend namespace, each answering with its
// name ("<svc>-<i>") in X-Backend, and publishes them as the endpoints of
// one Service (port 8080): one EndpointSlice per Pod, since each listens
// on a port of its own. Each slice has its Pod's name, so that a test can
// take a Pod away.
func pods(t *testing.T, ns, svc string, n int) {
	t.Helper()
	portName, proto, ready := "http", corev1.ProtocolTCP, true
	create(t, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: portName, Port: 8080, Protocol: proto}}},
	})
	for i := range n {
		name := fmt.Sprintf("%s-%d", svc, i)
		l, err := suite.host.Listen(0)
		must(t, err)
		srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Backend", name)
			_, _ = io.WriteString(w, name)
		})}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { _ = srv.Close() })
		port := int32(l.Addr().(*net.TCPAddr).Port)
		create(t, &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{suite.host.Addr.String()}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
			Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port, Protocol: &proto}},
		})
	}
}

// sessionCookie returns the Set-Cookie of a response whose name starts with
// prefix, nil for none.
func sessionCookie(h http.Header, prefix string) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if strings.HasPrefix(c.Name, prefix) {
			return c
		}
	}
	return nil
}

// TestSessionPersistence drives traffic through a route with three
// session-persistent rules over a Service of three Pods: a cookie session
// (the API's defaults, a generated cookie name), a header session, and a
// cookie session with a 2s absolute timeout. Every request that carries
// its session's token reaches the same Pod while requests without one are
// spread; the timed-out session is refused and a new one started; taking
// the pinned Pod away moves the session to another Pod, which then holds.
func TestSessionPersistence(t *testing.T) {
	ns := namespace(t)
	pods(t, ns, "app", 3)
	cookieRule := rule(pathMatch(gwv1.PathMatchPathPrefix, "/cookie"), backendRef("app", 1))
	//lint:ignore SA1019 deprecated in v1.7 (for XBackend) but still served, and what this test drives
	cookieRule.SessionPersistence = &gwv1.SessionPersistence{Cookie: &gwv1.CookieConfig{}}
	headerType := gwv1.HeaderBasedSessionPersistence
	headerRule := rule(pathMatch(gwv1.PathMatchPathPrefix, "/header"), backendRef("app", 1))
	//lint:ignore SA1019 deprecated in v1.7 (for XBackend) but still served, and what this test drives
	headerRule.SessionPersistence = &gwv1.SessionPersistence{Type: &headerType, Header: &gwv1.HeaderConfig{Name: "X-Session"}}
	timeout := gwv1.Duration("2s")
	shortRule := rule(pathMatch(gwv1.PathMatchPathPrefix, "/short"), backendRef("app", 1))
	//lint:ignore SA1019 deprecated in v1.7 (for XBackend) but still served, and what this test drives
	shortRule.SessionPersistence = &gwv1.SessionPersistence{AbsoluteTimeout: &timeout, Cookie: &gwv1.CookieConfig{}}
	create(t, gateway(ns, "gw", httpListener("http", 80)), route(ns, "app", "gw", nil, cookieRule, headerRule, shortRule))
	base := "http://" + programmedAddress(t, ns, "gw")
	routeParentCondition(t, ns, "app", string(gwv1.RouteConditionAccepted), metav1.ConditionTrue, string(gwv1.RouteReasonAccepted))
	eventually(t, 15*time.Second, func() error {
		r, err := send("GET", base+"/cookie", "", nil)
		if err == nil && r.status != http.StatusOK {
			err = fmt.Errorf("status %d", r.status)
		}
		return err
	})

	// Without a token, requests are spread and each starts a session.
	spread := map[string]bool{}
	var cookie *http.Cookie
	var pinned string
	for range 9 {
		r, err := send("GET", base+"/cookie", "", nil)
		must(t, err)
		spread[r.backend] = true
		c := sessionCookie(r.header, "cloudgate-session-")
		if c == nil {
			t.Fatalf("no session cookie in %v", r.header)
		}
		if c.Path != "/" || c.MaxAge != 0 {
			t.Errorf("cookie %s: want Path=/ and no Max-Age (a Session cookie)", c)
		}
		cookie, pinned = c, r.backend
	}
	if len(spread) != 3 {
		t.Errorf("requests without a cookie reached %v, want all three Pods", spread)
	}
	withCookie := func(c *http.Cookie) http.Header { return hdr("Cookie", c.Name+"="+c.Value) }
	for range 30 {
		r, err := send("GET", base+"/cookie", "", withCookie(cookie))
		must(t, err)
		if r.backend != pinned {
			t.Fatalf("a request with the session cookie reached %s, want %s", r.backend, pinned)
		}
		if c := sessionCookie(r.header, "cloudgate-session-"); c != nil {
			t.Fatalf("a pinned request got a new cookie %s", c)
		}
	}

	// Header: the token comes back in X-Session and pins as the cookie does.
	r, err := send("GET", base+"/header", "", nil)
	must(t, err)
	token, headerPod := r.header.Get("X-Session"), r.backend
	if token == "" {
		t.Fatalf("no X-Session in %v", r.header)
	}
	for range 30 {
		r, err := send("GET", base+"/header", "", hdr("X-Session", token))
		must(t, err)
		if r.backend != headerPod || r.header.Get("X-Session") != token {
			t.Fatalf("a request with the session header reached %s (token %q), want %s (token %q)",
				r.backend, r.header.Get("X-Session"), headerPod, token)
		}
	}

	// Absolute timeout: pinned at first, then refused and renewed.
	r, err = send("GET", base+"/short", "", nil)
	must(t, err)
	short := sessionCookie(r.header, "cloudgate-session-")
	if short == nil || short.Name == cookie.Name {
		t.Fatalf("the /short rule's cookie %v: want one of its own name", short)
	}
	start := time.Now()
	r, err = send("GET", base+"/short", "", withCookie(short))
	must(t, err)
	if c := sessionCookie(r.header, "cloudgate-session-"); c != nil && time.Since(start) < time.Second {
		t.Fatalf("a fresh session was renewed: %s", c)
	}
	time.Sleep(time.Until(start.Add(2100 * time.Millisecond)))
	r, err = send("GET", base+"/short", "", withCookie(short))
	must(t, err)
	if c := sessionCookie(r.header, "cloudgate-session-"); c == nil || c.Value == short.Value {
		t.Fatalf("after the absolute timeout the session cookie was %v, want a new session", c)
	}

	// The pinned Pod goes away: the session moves, once, and holds.
	es := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: pinned}}
	must(t, suite.c.Delete(ctxFor(t), es))
	var moved *http.Cookie
	var movedTo string
	eventually(t, 15*time.Second, func() error {
		r, err := send("GET", base+"/cookie", "", withCookie(cookie))
		if err != nil {
			return err
		}
		if r.backend == pinned {
			return fmt.Errorf("still on %s", pinned)
		}
		moved, movedTo = sessionCookie(r.header, "cloudgate-session-"), r.backend
		if moved == nil || moved.Value == cookie.Value {
			return fmt.Errorf("moved to %s without a new cookie: %v", r.backend, r.header)
		}
		return nil
	})
	for range 20 {
		r, err := send("GET", base+"/cookie", "", withCookie(moved))
		must(t, err)
		if r.backend != movedTo {
			t.Fatalf("the moved session reached %s, want %s", r.backend, movedTo)
		}
	}
}
