package aws

import (
	"errors"
	"maps"
	"strconv"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// Session persistence on ALB (lb.SessionPersistence) is target group
// stickiness, duration-based: the attributes stickiness.enabled=true,
// stickiness.type=lb_cookie and stickiness.lb_cookie.duration_seconds on
// every group the session's rule forwards to (mapping gives such groups
// names of their own, so no other rule shares them). ALB issues the cookie
// AWSALB, which names the target, and after the duration considers it
// stale: that is the absolute timeout of a Session cookie, tracked by the
// load balancer. Without an absolute timeout the duration is ALB's default,
// one day (it takes 1 second to 7 days).
//
// A rule forwarding to several groups also gets target group stickiness
// on its forward action (ForwardConfig.TargetGroupStickinessConfig, the
// AWSALBTG cookie) for the same duration, so that a session stays on the
// group it was first weighted to.
//
// What ALB does not carry is left out of Capabilities (sessionCaps), so
// mapping refuses it on the route; albSession refuses it again as a
// backstop:
//   - a cookie name: lb_cookie's cookie is always AWSALB; app_cookie
//     stickiness names a cookie the application sets, which ALB follows
//     (issuing AWSALBAPP-* of its own), and never issues a cookie of that
//     name itself, which the Gateway API's cookie.name asks for;
//   - a cookie path other than "/": AWSALB's path is not configurable;
//   - Permanent cookies: AWSALB's own expiry is not the absolute timeout;
//   - header sessions: ALB's stickiness is by cookie only.
//
// A caveat of the Session cookies it does carry: AWSALB carries an
// expiry of its own rather than none, so a browser may keep the session
// after it closes, until the duration ends.

const (
	// defaultStickiness is lb_cookie.duration_seconds' default.
	defaultStickiness = 24 * time.Hour
	// maxStickiness is the longest duration ALB takes, for lb_cookie and
	// target group stickiness alike.
	maxStickiness = 7 * 24 * time.Hour
)

// sessionCaps are the sessions ALB carries.
var sessionCaps = lb.SessionPersistenceCapabilities{
	Cookie:             true,
	TrackedTimeout:     true,
	WeightedBackends:   true,
	MaxAbsoluteTimeout: maxStickiness,
}

// albSession refuses a session ALB cannot carry; nil when it can.
func albSession(sp *lb.SessionPersistence) error {
	switch {
	case sp.Type != lb.SessionCookie:
		return errors.New("header session persistence is not supported: ALB stickiness is by cookie only")
	case !sp.NameGenerated:
		return errors.New("a named session cookie is not supported: ALB issues its own AWSALB cookie")
	case sp.Path != "/":
		return errors.New("a session cookie path other than / is not supported")
	case sp.Lifetime != lb.CookieSession:
		return errors.New("permanent session cookies are not supported: AWSALB's expiry is not the absolute timeout")
	case sp.AbsoluteTimeout > maxStickiness:
		return errors.New("a session longer than 7 days is not supported")
	}
	return nil
}

// stickySeconds is the stickiness duration of a session, in seconds.
func stickySeconds(sp *lb.SessionPersistence) int32 {
	d := sp.AbsoluteTimeout
	if d == 0 {
		d = defaultStickiness
	}
	return int32(d / time.Second)
}

// withStickiness sets the stickiness attributes of every group that
// carries a session, over the defaults and the parameters' attributes
// (withOptions). A group without one keeps stickiness.enabled=false from
// the defaults; the type and duration it may hold from before stay, as
// they are inert then.
func withStickiness(m *lb.LoadBalancer, s *state) {
	sessions := map[string]*lb.SessionPersistence{}
	for _, tg := range m.TargetGroups {
		if tg.SessionPersistence != nil {
			sessions[tg.Name] = tg.SessionPersistence
		}
	}
	for _, g := range s.Groups {
		sp := sessions[g.Logical]
		if sp == nil || albSession(sp) != nil {
			continue // refused on the rules that forward here (convertAction)
		}
		attrs := maps.Clone(g.Attributes)
		if attrs == nil {
			attrs = map[string]string{}
		}
		attrs["stickiness.enabled"] = "true"
		attrs["stickiness.type"] = "lb_cookie"
		attrs["stickiness.lb_cookie.duration_seconds"] = strconv.Itoa(int(stickySeconds(sp)))
		g.Attributes = attrs
	}
}

// forwardStickiness is the target group stickiness of a forward of
// groups distinct target groups: the session's duration when there are
// several, else 0 (none).
func forwardStickiness(sp *lb.SessionPersistence, groups int) (int32, error) {
	if sp == nil {
		return 0, nil
	}
	if err := albSession(sp); err != nil {
		return 0, err
	}
	if groups < 2 {
		return 0, nil
	}
	return stickySeconds(sp), nil
}
