package mapping

import (
	"cmp"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// BuildClass computes a GatewayClass's status: Accepted (False with
// InvalidParameters when its parametersRef does not resolve) and the
// features this mapping and the provider's capabilities realize together.
func BuildClass(class *gwv1.GatewayClass, params []*v1alpha1.LoadBalancerParameters, caps lb.Capabilities) ClassResult {
	if class == nil {
		return ClassResult{}
	}
	accepted := condition(string(gwv1.GatewayClassConditionStatusAccepted), string(gwv1.GatewayClassReasonAccepted), true,
		"GatewayClass is accepted", class.Generation)
	if _, p := resolveClassParams(class, indexParams(params)); !p.ok() {
		accepted = condition(string(gwv1.GatewayClassConditionStatusAccepted), p.reason, false, p.message, class.Generation)
	}
	return ClassResult{
		Conditions:        []metav1.Condition{accepted},
		SupportedFeatures: supportedFeatures(caps),
	}
}

// supportedFeatures lists only what Build really realizes with these
// capabilities. Features this mapping does not implement (filters, timeouts,
// TLSRoute, static addresses) are never claimed, whatever the provider can.
func supportedFeatures(caps lb.Capabilities) []gwv1.SupportedFeature {
	names := []features.FeatureName{features.SupportGateway, features.SupportReferenceGrant}
	if caps.Protocols[lb.ProtocolHTTP] {
		names = append(names,
			features.SupportHTTPRoute,
			features.SupportGatewayPort8080,
			features.SupportHTTPRouteParentRefPort,
			// One VirtualHost per listener hostname, most specific first,
			// with shadowed copies dropped, is listener isolation.
			features.SupportGatewayHTTPListenerIsolation,
		)
		if caps.MethodMatch {
			names = append(names, features.SupportHTTPRouteMethodMatching)
		}
		if caps.QueryMatch[lb.MatchExact] {
			names = append(names, features.SupportHTTPRouteQueryParamMatching)
		}
	}
	out := make([]gwv1.SupportedFeature, 0, len(names))
	for _, n := range names {
		out = append(out, gwv1.SupportedFeature{Name: gwv1.FeatureName(n)})
	}
	slices.SortFunc(out, func(a, b gwv1.SupportedFeature) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
