package gcptest

import (
	"cloud.google.com/go/compute/apiv1/computepb"
)

// checkAffinity holds a backend service's session affinity to the API
// reference's rules (BackendService's sessionAffinity,
// affinityCookieTtlSec, consistentHash and localityLbPolicy): a known
// kind; cookie and header affinity for HTTP, HTTPS and HTTP2 services
// only; the cookie TTL from 0 to two weeks and only with GENERATED_COOKIE
// or HTTP_COOKIE; HTTP_COOKIE and HEADER_FIELD (and consistentHash) on a
// localityLbPolicy of RING_HASH or MAGLEV, which for a regional backend
// service applies to INTERNAL_MANAGED only; the strong cookie with its
// cookie's name.
func checkAffinity(b *computepb.BackendService, regional bool) *apiError {
	a := b.GetSessionAffinity()
	if _, known := computepb.BackendService_SessionAffinity_value[a]; b.SessionAffinity != nil && (!known || a == "UNDEFINED_SESSION_AFFINITY") {
		return invalid("Invalid value for field 'resource.sessionAffinity': '%s'", a)
	}
	http := map[string]bool{"HTTP": true, "HTTPS": true, "HTTP2": true, "H2C": true}[b.GetProtocol()]
	cookie := a == "GENERATED_COOKIE" || a == "HTTP_COOKIE"
	hash := a == "HTTP_COOKIE" || a == "HEADER_FIELD"
	switch {
	case (cookie || hash || a == "STRONG_COOKIE_AFFINITY") && !http:
		return invalid("Invalid value for field 'resource.sessionAffinity': '%s' needs an HTTP, HTTPS or HTTP2 backend service", a)
	case b.AffinityCookieTtlSec != nil && !cookie:
		return invalid("Invalid value for field 'resource.affinityCookieTtlSec': it requires GENERATED_COOKIE or HTTP_COOKIE session affinity")
	case b.GetAffinityCookieTtlSec() < 0 || b.GetAffinityCookieTtlSec() > 1209600:
		return invalid("Invalid value for field 'resource.affinityCookieTtlSec': %d is not between 0 and 1209600", b.GetAffinityCookieTtlSec())
	case a == "STRONG_COOKIE_AFFINITY" && b.GetStrongSessionAffinityCookie().GetName() == "":
		return invalid("Invalid value for field 'resource.strongSessionAffinityCookie': STRONG_COOKIE_AFFINITY needs a cookie name")
	}
	policy := b.GetLocalityLbPolicy()
	if hash || b.ConsistentHash != nil {
		if policy != "RING_HASH" && policy != "MAGLEV" {
			return invalid("Invalid value for field 'resource.localityLbPolicy': consistent hashing needs RING_HASH or MAGLEV, not '%s'", policy)
		}
	}
	if (b.LocalityLbPolicy != nil || b.ConsistentHash != nil) && regional && b.GetLoadBalancingScheme() != "INTERNAL_MANAGED" {
		return invalid("Invalid value for field 'resource.localityLbPolicy': applies to regional backend services of scheme INTERNAL_MANAGED only, not '%s'",
			b.GetLoadBalancingScheme())
	}
	return nil
}
