package gcp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

// sessionModel is liveModel with the first rule's group carrying sp, as
// mapping names such a group.
func sessionModel(t *testing.T, sp *lb.SessionPersistence) *lb.LoadBalancer {
	m := liveModel(t)
	const group = "default/api:80/session-1"
	tg := m.TargetGroups[0]
	tg.Name, tg.SessionPersistence = group, sp
	m.TargetGroups = append(m.TargetGroups, tg)
	a := &m.Listeners[0].VirtualHosts[0].Rules[0].Action
	a.Forward[0].TargetGroup, a.SessionPersistence = group, sp
	return m
}

// TestSessionAffinityOnDouble: a Session cookie is GENERATED_COOKIE with
// a TTL of 0, a Permanent one with the absolute timeout as TTL; plain
// backend services keep no affinity; a second Ensure writes nothing.
func TestSessionAffinityOnDouble(t *testing.T) {
	for _, tc := range []struct {
		name string
		sp   lb.SessionPersistence
		ttl  int32
	}{
		{"session", lb.SessionPersistence{Type: lb.SessionCookie, Name: "g", NameGenerated: true, Path: "/", Lifetime: lb.CookieSession}, 0},
		{"permanent", lb.SessionPersistence{Type: lb.SessionCookie, Name: "g", NameGenerated: true, Path: "/", Lifetime: lb.CookiePermanent,
			AbsoluteTimeout: 90 * time.Minute}, 5400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, gcptest.Config{})
			m := sessionModel(t, &tc.sp)
			if err := m.Validate(); err != nil {
				t.Fatal(err)
			}
			e.ensure(t, m)
			sticky := name(testOwner, tagBackend, "default/api:80/session-1")
			found := false
			for _, bs := range gcptest.Objects[*computepb.BackendService](e.d) {
				if bs.GetName() == sticky {
					found = true
					if bs.GetSessionAffinity() != "GENERATED_COOKIE" || bs.AffinityCookieTtlSec == nil || bs.GetAffinityCookieTtlSec() != tc.ttl {
						t.Errorf("backend service %s: affinity %q ttl %v, want GENERATED_COOKIE ttl %d", bs.GetName(), bs.GetSessionAffinity(), bs.AffinityCookieTtlSec, tc.ttl)
					}
				} else if bs.SessionAffinity != nil || bs.AffinityCookieTtlSec != nil {
					t.Errorf("plain backend service %s has affinity %q", bs.GetName(), bs.GetSessionAffinity())
				}
			}
			if !found {
				t.Fatalf("no backend service %s", sticky)
			}
			e.d.ResetCalls()
			e.ensure(t, m)
			if w := writes(e.d.Calls()); len(w) != 0 {
				t.Errorf("a second Ensure wrote %v", w)
			}
		})
	}
}

// TestSessionAffinityRefused: sessions outside the capabilities (a
// backstop: mapping refuses them first) are refused on their group,
// naming what.
func TestSessionAffinityRefused(t *testing.T) {
	base := lb.SessionPersistence{Type: lb.SessionCookie, Name: "g", NameGenerated: true, Path: "/", Lifetime: lb.CookieSession}
	for _, tc := range []struct {
		change func(*lb.SessionPersistence)
		want   string
	}{
		{func(s *lb.SessionPersistence) {
			s.Type, s.Path, s.Lifetime, s.NameGenerated = lb.SessionHeader, "", "", false
		}, "header"},
		{func(s *lb.SessionPersistence) { s.Name, s.NameGenerated = "shop", false }, "GCLB"},
		{func(s *lb.SessionPersistence) { s.Path = "/shop" }, "path"},
		{func(s *lb.SessionPersistence) { s.AbsoluteTimeout = time.Hour }, "Session cookie"},
		{func(s *lb.SessionPersistence) { s.Lifetime, s.AbsoluteTimeout = lb.CookiePermanent, 15*24*time.Hour }, "two weeks"},
	} {
		sp := base
		tc.change(&sp)
		_, _, err := desired(sessionModel(t, &sp), testLoc, nil)
		var inv *providers.InvalidError
		if !errors.As(err, &inv) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want an InvalidError mentioning %q", sp, err, tc.want)
		}
	}
	if sessionCaps.CookieName || sessionCaps.CookiePath || sessionCaps.TrackedTimeout || sessionCaps.Header || sessionCaps.WeightedBackends {
		t.Errorf("capabilities %+v claim what withAffinity refuses", sessionCaps)
	}
}

// TestDoubleAffinityRules: the double holds backend services to the API
// reference's affinity rules.
func TestDoubleAffinityRules(t *testing.T) {
	e := newTestEnv(t, gcptest.Config{})
	scope := "regions/" + testRegion
	bs := func(n, protocol, scheme, affinity string, mod func(*computepb.BackendService)) *computepb.BackendService {
		b := &computepb.BackendService{Name: proto.String(n), Protocol: proto.String(protocol), LoadBalancingScheme: proto.String(scheme),
			SessionAffinity: proto.String(affinity)}
		if mod != nil {
			mod(b)
		}
		return b
	}
	ttl := func(n int32) func(*computepb.BackendService) {
		return func(b *computepb.BackendService) { b.AffinityCookieTtlSec = proto.Int32(n) }
	}
	hash := func(b *computepb.BackendService) {
		b.LocalityLbPolicy = proto.String("RING_HASH")
		b.ConsistentHash = &computepb.ConsistentHashLoadBalancerSettings{HttpHeaderName: proto.String("x-session")}
	}
	for _, tc := range []struct {
		b    *computepb.BackendService
		want string // "" accepted
	}{
		{bs("a", "HTTP", "EXTERNAL_MANAGED", "GENERATED_COOKIE", ttl(3600)), ""},
		{bs("b", "TCP", "EXTERNAL_MANAGED", "GENERATED_COOKIE", nil), "needs an HTTP"},
		{bs("c", "HTTP", "EXTERNAL_MANAGED", "GENERATED_COOKIE", ttl(1209601)), "affinityCookieTtlSec"},
		{bs("d", "HTTP", "EXTERNAL_MANAGED", "CLIENT_IP", ttl(10)), "requires GENERATED_COOKIE"},
		{bs("e", "HTTP", "EXTERNAL_MANAGED", "HEADER_FIELD", nil), "RING_HASH or MAGLEV"},
		{bs("f", "HTTP", "EXTERNAL_MANAGED", "HEADER_FIELD", hash), "INTERNAL_MANAGED only"},
		{bs("g", "HTTP", "INTERNAL_MANAGED", "HEADER_FIELD", hash), ""},
		{bs("h", "HTTP", "EXTERNAL_MANAGED", "SOMETIMES", nil), "sessionAffinity"},
	} {
		_, err := e.d.Create(scope, tc.b)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.b.GetName(), err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one mentioning %q", tc.b.GetName(), err, tc.want)
		}
	}
}
