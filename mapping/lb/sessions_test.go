package lb

import (
	"strings"
	"testing"
	"time"
)

// sessionModel is an HTTP listener whose one rule forwards to a group
// carrying sp, with the rule carrying ruleSP, and mirrors to a plain one.
func sessionModel(sp, ruleSP *SessionPersistence) *LoadBalancer {
	return &LoadBalancer{
		Owner: Owner{Namespace: "ns", Name: "gw"},
		TargetGroups: []TargetGroup{
			{Name: "ns/svc:80", Protocol: ProtocolHTTP},
			{Name: "ns/svc:80/session-1", Protocol: ProtocolHTTP, SessionPersistence: sp},
		},
		Listeners: []Listener{{Name: "http-80", Port: 80, Protocol: ProtocolHTTP, VirtualHosts: []VirtualHost{{Rules: []Rule{{Name: "r",
			Action: Action{Forward: []WeightedBackend{{TargetGroup: "ns/svc:80/session-1", Weight: 1}}, SessionPersistence: ruleSP,
				Mirrors: []Mirror{{TargetGroup: "ns/svc:80", Percent: 100}}}}}}}}},
	}
}

func TestValidateSessions(t *testing.T) {
	ok := SessionPersistence{Type: SessionCookie, Name: "s", Path: "/", Lifetime: CookieSession}
	with := func(change func(*SessionPersistence)) *SessionPersistence {
		s := ok
		change(&s)
		return &s
	}
	header := &SessionPersistence{Type: SessionHeader, Name: "x-session", AbsoluteTimeout: time.Minute}
	for _, tc := range []struct {
		name       string
		group, act *SessionPersistence
		want       string // "" valid
	}{
		{"cookie", &ok, &ok, ""},
		{"header", header, header, ""},
		{"group without the rule's", nil, &ok, "carries another session persistence"},
		{"rule without the group's", &ok, nil, "carries another session persistence"},
		{"different", &ok, header, "carries another session persistence"},
		{"name", with(func(s *SessionPersistence) { s.Name = "a b" }), nil, "not a token"},
		{"path", with(func(s *SessionPersistence) { s.Path = "/a;b" }), nil, "cookie path"},
		{"permanent", with(func(s *SessionPersistence) { s.Lifetime = CookiePermanent }), nil, "needs an absolute timeout"},
		{"fraction", with(func(s *SessionPersistence) { s.AbsoluteTimeout = 1500 * time.Millisecond }), nil, "whole number of seconds"},
		{"header with a path", &SessionPersistence{Type: SessionHeader, Name: "x", Path: "/"}, nil, "has no path"},
	} {
		err := sessionModel(tc.group, tc.act).Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	// A mirror's group never carries a session; a fixed response has none.
	m := sessionModel(&ok, &ok)
	m.TargetGroups[0].SessionPersistence = &ok
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "mirror target group") {
		t.Errorf("a persistent mirror group: %v", err)
	}
	m = sessionModel(nil, &ok)
	m.Listeners[0].VirtualHosts[0].Rules[0].Action = Action{FixedResponse: &FixedResponse{StatusCode: 500}, SessionPersistence: &ok}
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "needs a forward action") {
		t.Errorf("a fixed response with a session: %v", err)
	}
}
