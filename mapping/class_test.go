package mapping

import (
	"slices"
	"testing"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// A provider whose query matches ignore case does not claim the query
// matching feature (its conformance test tells cases apart), and still
// realizes the matches.
func TestQueryMatchIgnoringCaseIsNotClaimed(t *testing.T) {
	caps := lb.Capabilities{
		Provider:              "p",
		Protocols:             map[lb.Protocol]bool{lb.ProtocolHTTP: true, lb.ProtocolHTTPS: true},
		RequestHeaderModifier: true, Redirect: true, FixedResponse: true,
		RedirectStatusCodes: map[int]bool{301: true, 302: true},
		PathMatch:           map[lb.MatchType]bool{lb.MatchExact: true, lb.MatchPrefix: true},
		HeaderMatch:         map[lb.MatchType]bool{lb.MatchExact: true},
		QueryMatch:          map[lb.MatchType]bool{lb.MatchExact: true},
	}
	claims := func(c lb.Capabilities) bool {
		return slices.ContainsFunc(supportedFeatures(c), func(f gwv1.SupportedFeature) bool {
			return f.Name == gwv1.FeatureName(features.SupportHTTPRouteQueryParamMatching)
		})
	}
	if !claims(caps) {
		t.Fatal("exact query matches are not claimed")
	}
	caps.QueryMatchIgnoresCase = true
	if claims(caps) {
		t.Error("query matches that ignore case are claimed as the Gateway API's query matching")
	}
}

// The address features are claimed with StaticAddresses alone: a provider
// that uses spec.addresses without refusing an unusable one as the
// Gateway API asks (AWS, GCP) claims neither.
func TestAddressFeaturesFollowStaticAddresses(t *testing.T) {
	has := func(c lb.Capabilities, n features.FeatureName) bool {
		return slices.ContainsFunc(supportedFeatures(c), func(f gwv1.SupportedFeature) bool { return f.Name == gwv1.FeatureName(n) })
	}
	caps := lb.Capabilities{Provider: "p"}
	for _, n := range []features.FeatureName{features.SupportGatewayStaticAddresses, features.SupportGatewayAddressEmpty} {
		if has(caps, n) {
			t.Errorf("%s claimed without StaticAddresses", n)
		}
	}
	caps.StaticAddresses = true
	for _, n := range []features.FeatureName{features.SupportGatewayStaticAddresses, features.SupportGatewayAddressEmpty} {
		if !has(caps, n) {
			t.Errorf("%s not claimed with StaticAddresses", n)
		}
	}
}

// A provider whose TLS listeners forward every connection whatever its
// server name claims no TLSRoute feature, still serves the routes, and
// tells each accepted TLSRoute that its hostnames keep no connection out;
// routes it does not accept get no such condition.
func TestTLSIgnoringServerName(t *testing.T) {
	s := loadSnapshot(t, "testdata/tls-routes.in.yaml")
	notEnforced := func(res Result) (accepted, flagged int) {
		for _, parents := range res.TLSRoutes {
			for _, p := range parents {
				ok := apimeta.IsStatusConditionTrue(p.Conditions, string(gwv1.RouteConditionAccepted))
				c := apimeta.FindStatusCondition(p.Conditions, ConditionServerNameEnforced)
				if ok {
					accepted++
				}
				if c != nil {
					if !ok || c.Status != metav1.ConditionFalse || c.Reason != ReasonNotEnforcedByProvider {
						t.Errorf("unexpected %s on a parent status (accepted %v): %+v", ConditionServerNameEnforced, ok, c)
					}
					flagged++
				}
			}
		}
		return accepted, flagged
	}
	claimsTLS := func(c lb.Capabilities) bool {
		return slices.ContainsFunc(supportedFeatures(c), func(f gwv1.SupportedFeature) bool {
			return f.Name == gwv1.FeatureName(features.SupportTLSRoute) || f.Name == gwv1.FeatureName(features.SupportTLSRouteModeMixed)
		})
	}
	if !claimsTLS(s.Capabilities) {
		t.Fatal("TLSRoute is not claimed by a provider that routes by SNI")
	}
	if _, flagged := notEnforced(Build(s)); flagged != 0 {
		t.Errorf("%d parent statuses say the server name is not enforced by a provider that enforces it", flagged)
	}
	s.Capabilities.TLSIgnoresServerName = true
	if claimsTLS(s.Capabilities) {
		t.Error("TLSRoute features are claimed by a provider that ignores the server name")
	}
	res := Build(s)
	accepted, flagged := notEnforced(res)
	if accepted == 0 || flagged != accepted {
		t.Errorf("%d accepted parent statuses, %d say the server name is not enforced: want all of them", accepted, flagged)
	}
	// Port 8883 mixes a Passthrough and a Terminate listener: without
	// SNI routing both are refused, as the Gateway API asks of an
	// implementation without TLSRouteModeMixed.
	for _, name := range []gwv1.SectionName{"tls-terminate", "tls-passthrough"} {
		i := slices.IndexFunc(res.Gateway.Listeners, func(l gwv1.ListenerStatus) bool { return l.Name == name })
		if i < 0 {
			t.Fatalf("no status for listener %s", name)
		}
		l := res.Gateway.Listeners[i]
		c := apimeta.FindStatusCondition(l.Conditions, string(gwv1.ListenerConditionAccepted))
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != string(gwv1.ListenerReasonProtocolConflict) || len(l.SupportedKinds) != 0 {
			t.Errorf("listener %s: Accepted %+v, supportedKinds %v; want False/ProtocolConflict and none", name, c, l.SupportedKinds)
		}
	}
}
