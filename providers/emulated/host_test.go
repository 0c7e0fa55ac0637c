package emulated_test

import (
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// TestHostHeader sends real requests to rules that match and modify the Host
// header. net/http keeps Host out of the header map (in Request.Host), so the
// data plane must read and write it there: a match on Host sees the request's
// host, and a modifier's Host is the host the backend (and a mirror) gets.
func TestHostHeader(t *testing.T) {
	t.Parallel()
	srv := startCloud(t)
	p := newProvider(t, srv)
	matched, set, mirrored := newEcho(t, "matched", false), newEcho(t, "set", false), newEcho(t, "mirror", false)
	fwd := func(g string) []lb.WeightedBackend { return []lb.WeightedBackend{to(g, 1)} }
	m := &lb.LoadBalancer{
		Owner:        owner("host-header"),
		TargetGroups: []lb.TargetGroup{group("matched", matched.target), group("mirror", mirrored.target), group("set", set.target)},
		Listeners: []lb.Listener{{Name: "http", Port: 8080, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
			{Name: "match-host", Match: lb.Match{Path: prefix("/match"),
				Headers: []lb.HeaderMatch{{Name: "host", Type: lb.MatchExact, Value: "foo.example.com"}}},
				Action: lb.Action{Forward: fwd("matched")}},
			{Name: "match-host-regex", Match: lb.Match{Path: prefix("/regex"),
				Headers: []lb.HeaderMatch{{Name: "HOST", Type: lb.MatchRegex, Value: `.*\.example\.org`}}},
				Action: lb.Action{Forward: fwd("matched")}},
			rule("set-host", "/set", lb.Action{Forward: fwd("set"),
				RequestHeaders: &lb.HeaderModifier{Set: []lb.Header{{Name: "Host", Value: "backend.internal"}}},
				Mirrors:        []lb.Mirror{{TargetGroup: "mirror", Percent: 100}}}),
			rule("backend-sets-host", "/per-backend", lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "set", Weight: 1,
				RequestHeaders: &lb.HeaderModifier{Add: []lb.Header{{Name: "host", Value: "added.internal"}}}}}}),
			rule("remove-host", "/remove", lb.Action{Forward: fwd("set"),
				RequestHeaders: &lb.HeaderModifier{Remove: []string{"host"}}}),
		}}}}},
	}
	st := ensure(t, p, m)
	base := "http://" + st.Addresses[0].Value + ":8080"
	c := httpClient()

	if r := do(t, c, "GET", base+"/match", "foo.example.com", nil); r.status != http.StatusOK || decode(t, r).Backend != "matched" {
		t.Errorf("Host foo.example.com on a Host match: %d %s", r.status, r.body)
	}
	if r := do(t, c, "GET", base+"/match", "bar.example.com", nil); r.status != http.StatusNotFound {
		t.Errorf("Host bar.example.com on a Host: foo.example.com match: %d, want 404", r.status)
	}
	if r := do(t, c, "GET", base+"/regex", "a.example.org", nil); r.status != http.StatusOK {
		t.Errorf("Host a.example.org on a Host regex match: %d", r.status)
	}

	if got := decode(t, do(t, c, "GET", base+"/set", "client.example", nil)); got.Host != "backend.internal" {
		t.Errorf("a request header set of Host reached the backend as %q, want backend.internal", got.Host)
	}
	deadline := time.Now().Add(5 * time.Second)
	for mirrored.count.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := mirrored.lastSeen(); got.Host != "backend.internal" {
		t.Errorf("the mirror got Host %q, want backend.internal", got.Host)
	}
	if got := decode(t, do(t, c, "GET", base+"/per-backend", "client.example", nil)); got.Host != "added.internal" {
		t.Errorf("a backend's Host add reached it as %q, want added.internal (one Host per request)", got.Host)
	}
	// A request needs a Host: without one the backend is asked by its address.
	if got := decode(t, do(t, c, "GET", base+"/remove", "client.example", nil)); got.Host != net.JoinHostPort(set.target.IP, strconv.Itoa(int(set.target.Port))) {
		t.Errorf("a removed Host reached the backend as %q, want its address", got.Host)
	}
}
