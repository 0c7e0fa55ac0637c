package gcp

import (
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// Session persistence (lb.SessionPersistence) is a backend service's
// session affinity: mapping gives every persistent target group a
// backend service of its own (its name carries a hash of the settings, so
// a change of settings is a new backend service and a removed session
// leaves the field behind with the old one; compareResource compares only
// the fields set here).
//
// What is carried: cookie sessions with a cookie the load balancer names
// (GCLB), as GENERATED_COOKIE, with affinityCookieTtlSec the cookie's
// lifetime: 0 for a Session cookie ("non-persistent, lasts until the end
// of the browser session", the API reference says), the absolute timeout
// for a Permanent one (at most two weeks). Generated-cookie affinity is
// GCP's best effort: a session may move when backends are added, removed
// or full, which the README says.
//
// What is not (left out of sessionCaps, so mapping refuses it on the
// route; withAffinity refuses it again as a backstop):
//   - a cookie name: GENERATED_COOKIE's cookie is GCLB; HTTP_COOKIE names
//     one, but through consistentHash, which the API reference applies to
//     regional backend services of scheme INTERNAL_MANAGED only (and
//     needs localityLbPolicy RING_HASH or MAGLEV), where this provider's
//     are EXTERNAL_MANAGED by default;
//   - a cookie path other than "/": GENERATED_COOKIE has none to set;
//   - an absolute timeout on a Session cookie: the TTL is the cookie's
//     Max-Age, which would make it Permanent;
//   - header sessions: HEADER_FIELD hashes a header the client chooses
//     (consistentHash.httpHeaderName, INTERNAL_MANAGED only as above); the
//     load balancer never hands the client a token, which the Gateway
//     API's header sessions need;
//   - a persistent rule over several Services: the URL map picks a
//     weighted backend service per request, so a session would move
//     between them.

// maxAffinityCookieTTL is affinityCookieTtlSec's maximum (two weeks).
const maxAffinityCookieTTL = 14 * 24 * time.Hour

var sessionCaps = lb.SessionPersistenceCapabilities{
	Cookie:             true,
	PermanentCookie:    true,
	MaxAbsoluteTimeout: maxAffinityCookieTTL,
}

// withAffinity sets bs's session affinity from tg's session, or refuses
// the group.
func (c *converter) withAffinity(bs *computepb.BackendService, tg lb.TargetGroup) {
	sp := tg.SessionPersistence
	if sp == nil {
		return
	}
	why := ""
	switch {
	case tg.Protocol == lb.ProtocolTCP:
		why = "session persistence on a TCP backend service"
	case sp.Type != lb.SessionCookie:
		why = "header session persistence (the load balancer never issues a header token)"
	case !sp.NameGenerated:
		why = "a named session cookie (generated-cookie affinity names its cookie GCLB)"
	case sp.Path != "/":
		why = "a session cookie path other than /"
	case sp.Lifetime == lb.CookieSession && sp.AbsoluteTimeout > 0:
		why = "an absolute timeout on a Session cookie (the affinity cookie's TTL is its Max-Age)"
	case sp.AbsoluteTimeout > maxAffinityCookieTTL:
		why = "a session longer than two weeks"
	}
	if why != "" {
		c.refusals.add(tg.Name, why+" is not supported by the GCP provider")
		return
	}
	bs.SessionAffinity = ptr("GENERATED_COOKIE")
	bs.AffinityCookieTtlSec = ptr(int32(sp.AbsoluteTimeout / time.Second))
}
