package aws

import (
	"errors"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// stickyModel is a Gateway with two persistent rules, as mapping builds
// them: one to a group of its own with a 1h session, one weighted over two
// groups with no timeout; and a plain rule to the plain group of the same
// Service.
func stickyModel(web *lb.SessionPersistence) *lb.LoadBalancer {
	split := &lb.SessionPersistence{Type: lb.SessionCookie, Name: "cloudgate-session-2", NameGenerated: true, Path: "/", Lifetime: lb.CookieSession}
	rule := func(name, path string, a lb.Action) lb.Rule {
		return lb.Rule{Name: name, Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: path}}, Action: a}
	}
	sticky := fwd("shop/web:80/session-1", 1)
	sticky.SessionPersistence = web
	weighted := fwd("shop/api:8080/session-2", 90, "shop/canary:8080/session-2", 10)
	weighted.SessionPersistence = split
	group := func(name string, sp *lb.SessionPersistence, ip string) lb.TargetGroup {
		return lb.TargetGroup{Name: name, Protocol: lb.ProtocolHTTP, Targets: []lb.Target{{IP: ip, Port: 8080}}, SessionPersistence: sp}
	}
	return &lb.LoadBalancer{
		Owner: gatewayOwner,
		TargetGroups: []lb.TargetGroup{
			group("shop/api:8080/session-2", split, "10.0.1.11"),
			group("shop/canary:8080/session-2", split, "10.0.1.21"),
			group("shop/web:80", nil, "10.0.1.31"),
			group("shop/web:80/session-1", web, "10.0.1.31"),
		},
		Listeners: []lb.Listener{{Name: "http-80", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{
			rule("shop/s/rule-0/match-0", "/sticky", sticky),
			rule("shop/s/rule-1/match-0", "/split", weighted),
			rule("shop/s/rule-2/match-0", "/", fwd("shop/web:80", 1)),
		}}}}},
	}
}

// TestStickinessOnMoto: the persistent groups get lb_cookie stickiness
// with the session's duration (ALB's default day without one), the plain
// group none, and the weighted rule target group stickiness on its
// forward; a second Ensure writes nothing; a new duration is one
// attribute write.
func TestStickinessOnMoto(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	web := &lb.SessionPersistence{Type: lb.SessionCookie, Name: "cloudgate-session-1", NameGenerated: true, Path: "/",
		Lifetime: lb.CookieSession, AbsoluteTimeout: time.Hour}
	m := stickyModel(web)
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	name := func(logical string) string {
		for _, g := range m.TargetGroups {
			if g.Name == logical {
				return tgName(m.Owner, g)
			}
		}
		t.Fatalf("no group %s", logical)
		return ""
	}
	check := func(webSeconds string) {
		t.Helper()
		attrs := te.options(t, ctx).groupAttrs
		for logical, want := range map[string]string{
			"shop/web:80/session-1": webSeconds, "shop/api:8080/session-2": "86400", "shop/canary:8080/session-2": "86400",
		} {
			a := attrs[name(logical)]
			if a["stickiness.enabled"] != "true" || a["stickiness.type"] != "lb_cookie" || a["stickiness.lb_cookie.duration_seconds"] != want {
				t.Errorf("group %s: stickiness attributes %v, want enabled lb_cookie for %ss", logical, a, want)
			}
		}
		if a := attrs[name("shop/web:80")]; a["stickiness.enabled"] != "false" {
			t.Errorf("the plain group is sticky: %v", a)
		}
		v := te.view(t, ctx)
		split := v.rule(t, 80, ruleLogical("http-80", "shop/s/rule-1/match-0")).rule.Actions[0].ForwardConfig
		if c := split.TargetGroupStickinessConfig; c == nil || !awssdk.ToBool(c.Enabled) || awssdk.ToInt32(c.DurationSeconds) != 86400 {
			t.Errorf("weighted rule's target group stickiness %+v, want enabled for 86400s", c)
		}
		one := v.rule(t, 80, ruleLogical("http-80", "shop/s/rule-0/match-0")).rule.Actions[0].ForwardConfig
		if c := one.TargetGroupStickinessConfig; c != nil && awssdk.ToBool(c.Enabled) {
			t.Errorf("a one-group rule has target group stickiness %+v", c)
		}
	}
	check("3600")

	te.calls.take()
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	if w := writes(te.calls.take()); len(w) != 0 {
		t.Errorf("a second Ensure wrote %s", format(w))
	}

	longer := *web
	longer.AbsoluteTimeout = 2 * time.Hour
	if _, err := te.prov.Ensure(ctx, stickyModel(&longer)); err != nil {
		t.Fatal(err)
	}
	if w := writes(te.calls.take()); len(w) != 1 || w["ModifyTargetGroupAttributes"] != 1 {
		t.Errorf("a new duration wrote %s, want one ModifyTargetGroupAttributes", format(w))
	}
	check("7200")
}

// TestStickinessRefusesWhatALBCannotCarry: a session outside the
// capabilities (a backstop: mapping refuses them first) is refused on
// the rule that asks for it, naming it and why.
func TestStickinessRefusesWhatALBCannotCarry(t *testing.T) {
	base := lb.SessionPersistence{Type: lb.SessionCookie, Name: "cloudgate-session-1", NameGenerated: true, Path: "/", Lifetime: lb.CookieSession}
	for _, tc := range []struct {
		change func(*lb.SessionPersistence)
		want   string
	}{
		{func(s *lb.SessionPersistence) {
			s.Type, s.Path, s.Lifetime, s.NameGenerated = lb.SessionHeader, "", "", false
		}, "by cookie only"},
		{func(s *lb.SessionPersistence) { s.Name, s.NameGenerated = "shop", false }, "AWSALB"},
		{func(s *lb.SessionPersistence) { s.Path = "/shop" }, "path"},
		{func(s *lb.SessionPersistence) { s.Lifetime, s.AbsoluteTimeout = lb.CookiePermanent, time.Hour }, "permanent"},
		{func(s *lb.SessionPersistence) { s.AbsoluteTimeout = 8 * 24 * time.Hour }, "7 days"},
	} {
		sp := base
		tc.change(&sp)
		m := stickyModel(&sp)
		_, err := (&Provider{}).desired(m, []string{"subnet-1"})
		var inv *providers.InvalidError
		if !errors.As(err, &inv) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want an InvalidError mentioning %q", sp, err, tc.want)
			continue
		}
		if len(inv.Elements) != 1 || inv.Elements[0] != "shop/s/rule-0/match-0" {
			t.Errorf("%+v: refused %v, want the sticky rule alone", sp, inv.Elements)
		}
	}
	if sessionCaps.CookieName || sessionCaps.CookiePath || sessionCaps.PermanentCookie || sessionCaps.Header {
		t.Errorf("capabilities %+v claim what albSession refuses", sessionCaps)
	}
}
