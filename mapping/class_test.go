package mapping

import (
	"slices"
	"testing"

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
