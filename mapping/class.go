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

// supportedFeatures lists only what Build realizes with these
// capabilities: a feature is claimed when this mapping implements it and
// the provider's capabilities cover every part the feature's conformance
// tests exercise. Session persistence has no feature name in v1.7
// (it is realized, sessions.go, but nothing claims it). Features this
// mapping does not implement (ClusterTrustBundle CA references,
// listener filters, address routability) are never claimed,
// whatever the provider can.
// GatewayRouteHostnameIntersectionPrecedence is rule and Stream order
// (comparePrecedence, streams), which every provider realizes. So is
// ListenerSet: its listeners reach providers merged into the Gateway's,
// as plain listeners of the model (listenersets.go).
// GatewayInfrastructure is every provider's too: infrastructure labels
// and annotations become tags here (gatewayParams), an unresolved
// infrastructure.parametersRef is Accepted=False/InvalidParameters, and
// the in-cluster Service that carries them (reconciler/gatewayservice.go)
// depends only on the Gateway's status addresses.
func supportedFeatures(caps lb.Capabilities) []gwv1.SupportedFeature {
	names := []features.FeatureName{features.SupportGateway, features.SupportReferenceGrant, features.SupportGatewayRouteHostnameIntersectionPrecedence,
		features.SupportListenerSet, features.SupportGatewayInfrastructure}
	if caps.StaticAddresses {
		names = append(names, features.SupportGatewayStaticAddresses, features.SupportGatewayAddressEmpty)
	}
	// HTTPRoute's Core support includes the RequestHeaderModifier and
	// RequestRedirect filters (hostname, 301 and 302), and its Core tests
	// serve routes on HTTPS listeners too; without all of that HTTPRoute,
	// and everything extending it, is not claimed. A rule with no valid
	// backend must answer 500 (Core), which needs fixed responses.
	// Limits are not read: the conformance tests stay far below any
	// cloud's, but for mirrors (two per rule).
	if caps.Protocols[lb.ProtocolHTTP] && caps.Protocols[lb.ProtocolHTTPS] && caps.RequestHeaderModifier && caps.Redirect &&
		caps.RedirectStatusCodes[301] && caps.RedirectStatusCodes[302] && caps.FixedResponse {
		names = append(names,
			features.SupportHTTPRoute,
			features.SupportGatewayPort8080,
			features.SupportHTTPRouteParentRefPort,
			// A parentRef port that no listener has gives NoMatchingParent,
			// which is all this (experimental) feature's test asks.
			features.SupportHTTPRouteDestinationPortMatching,
			// One VirtualHost per listener hostname, most specific first,
			// with shadowed copies dropped, is listener isolation.
			features.SupportGatewayHTTPListenerIsolation,
			// Rule names are accepted and carried by nothing that breaks.
			features.SupportHTTPRouteNamedRouteRule,
			features.SupportHTTPRouteSchemeRedirect,
		)
		// Its tests redirect to ports other than the scheme's.
		if caps.RedirectPort {
			names = append(names, features.SupportHTTPRoutePortRedirect)
		}
		// Its test replaces full paths and prefixes.
		if caps.PrefixRedirect {
			names = append(names, features.SupportHTTPRoutePathRedirect)
		}
		for code, f := range map[int]features.FeatureName{
			303: features.SupportHTTPRoute303RedirectStatusCode,
			307: features.SupportHTTPRoute307RedirectStatusCode,
			308: features.SupportHTTPRoute308RedirectStatusCode,
		} {
			if caps.RedirectStatusCodes[code] {
				names = append(names, f) // sorted below
			}
		}
		if caps.BackendHeaderModifier {
			names = append(names, features.SupportHTTPRouteBackendRequestHeaderModification)
		}
		// Its test rewrites full paths on PathPrefix matches, and prefixes.
		if caps.BackendURLRewrite && caps.Rewrite && caps.PrefixRewrite && caps.FullPathRewriteOnAnyMatch {
			names = append(names, features.SupportHTTPRouteBackendURLRewrite)
		}
		if caps.MethodMatch {
			names = append(names, features.SupportHTTPRouteMethodMatching)
		}
		// Its test sends a name and value in another case and expects
		// another rule to take them.
		if caps.QueryMatch[lb.MatchExact] && !caps.QueryMatchIgnoresCase {
			names = append(names, features.SupportHTTPRouteQueryParamMatching)
		}
		if caps.ResponseHeaderModifier {
			names = append(names, features.SupportHTTPRouteResponseHeaderModification)
		}
		if caps.Rewrite {
			names = append(names, features.SupportHTTPRouteHostRewrite)
			// Its test replaces full paths (on PathPrefix matches) and
			// prefixes.
			if caps.PrefixRewrite && caps.FullPathRewriteOnAnyMatch {
				names = append(names, features.SupportHTTPRoutePathRewrite)
			}
		}
		if caps.Mirror {
			names = append(names, features.SupportHTTPRouteRequestMirror)
			// Its test puts two mirrors on a rule.
			if caps.MaxMirrorsPerRule == 0 || caps.MaxMirrorsPerRule >= 2 {
				names = append(names, features.SupportHTTPRouteRequestMultipleMirrors)
			}
			if caps.MirrorPercent {
				names = append(names, features.SupportHTTPRouteRequestPercentageMirror)
			}
		}
		if caps.RequestTimeout {
			names = append(names, features.SupportHTTPRouteRequestTimeout)
		}
		if caps.BackendTimeout {
			names = append(names, features.SupportHTTPRouteBackendTimeout)
		}
		if caps.Retry {
			// lb.Retry retries on its codes and on connections that could
			// not be established. v1.7 has no feature for backoff.
			names = append(names, features.SupportHTTPRouteRetryCodes, features.SupportHTTPRouteRetryConnectionError)
		}
		// Its test speaks h2c (HTTP/2 with prior knowledge) to an HTTP
		// listener, which is what caps.GRPC[HTTP] promises: clouds that
		// take HTTP/2 from clients over TLS only (GCP: "HTTP/2 (requires
		// TLS)") still forward to H2C target groups, without the claim.
		if caps.BackendProtocols[lb.ProtocolH2C] && caps.GRPC[lb.ProtocolHTTP] {
			names = append(names, features.SupportHTTPRouteBackendProtocolH2C)
		}
		// Every provider forwards kubernetes.io/ws backends over HTTP
		// target groups (lb's contract: HTTP includes WebSocket upgrades);
		// the feature is claimed only when the provider says so by
		// listing HTTP among its backend protocols.
		if caps.BackendProtocols[lb.ProtocolHTTP] {
			names = append(names, features.SupportHTTPRouteBackendProtocolWebSocket)
		}
		// Its test sends preflights, which lb.CORS has the load balancer
		// answer itself.
		if caps.CORS {
			names = append(names, features.SupportHTTPRouteCORS)
		}
		if caps.MisdirectedRequests {
			names = append(names, features.SupportGatewayHTTPSListenerDetectMisdirectedRequests)
		}
		// Its tests serve HTTPRoutes on HTTPS listeners with per-port and
		// default validation; the fallback's add a Gateway condition
		// (InsecureFrontendValidationMode), which mapping sets.
		// Its tests check that a backend with the wrong certificate, CA
		// or hostname is not reached, which needs verification; the SAN
		// tests check subjectAltNames, which BackendTLSVerify covers.
		if caps.BackendTLS && caps.BackendTLSVerify {
			names = append(names, features.SupportBackendTLSPolicy, features.SupportBackendTLSPolicySANValidation)
			if caps.BackendClientCertificate {
				names = append(names, features.SupportGatewayBackendClientCertificate)
			}
		}
		if caps.ClientValidation {
			names = append(names, features.SupportGatewayFrontendClientCertificateValidation)
			if caps.ClientValidationInsecureFallback {
				names = append(names, features.SupportGatewayFrontendClientCertificateValidationInsecureFallback)
			}
		}
	}
	// GRPCRoute's Core is exact service and method matching (exact lb
	// paths), exact header matching, and both header modifier filters on
	// rules, on HTTP and HTTPS listeners; a rule without a method match is
	// the "/" prefix. gRPC needs HTTP/2 from the client (caps.GRPC) to
	// the backend (H2C target groups).
	if caps.GRPC[lb.ProtocolHTTP] && caps.GRPC[lb.ProtocolHTTPS] &&
		caps.Protocols[lb.ProtocolHTTP] && caps.Protocols[lb.ProtocolHTTPS] && caps.BackendProtocols[lb.ProtocolH2C] &&
		caps.PathMatch[lb.MatchExact] && caps.PathMatch[lb.MatchPrefix] && caps.HeaderMatch[lb.MatchExact] &&
		caps.RequestHeaderModifier && caps.ResponseHeaderModifier {
		names = append(names,
			features.SupportGRPCRoute,
			// Rule names are accepted and carried by nothing that breaks.
			features.SupportGRPCRouteNamedRouteRule,
			// v1.7 gives the (still Core) rule-level filter its own
			// feature for its conformance test; the condition above
			// already asks for caps.RequestHeaderModifier.
			features.SupportGRPCRouteRequestHeaderModifier,
		)
	}
	// Stream routes need their listener protocol and the target group
	// transport their backends speak (TLS forwards over TCP).
	if caps.Protocols[lb.ProtocolTCP] && caps.BackendProtocols[lb.ProtocolTCP] {
		names = append(names, features.SupportTCPRoute)
	}
	if caps.Protocols[lb.ProtocolUDP] && caps.BackendProtocols[lb.ProtocolUDP] {
		names = append(names, features.SupportUDPRoute)
	}
	// TLSRoute's Core routes connections by SNI and refuses names no route
	// serves: a provider that ignores the name serves TLSRoutes unclaimed.
	if caps.Protocols[lb.ProtocolTLS] && caps.BackendProtocols[lb.ProtocolTCP] && !caps.TLSIgnoresServerName {
		names = append(names, features.SupportTLSRoute)
		if caps.TLSTerminate {
			// Certificates live on each lb.Stream, so one TLS port can
			// carry a Passthrough and a Terminate listener: mixed modes
			// come with termination.
			names = append(names, features.SupportTLSRouteModeTerminate, features.SupportTLSRouteModeMixed)
		}
	}
	out := make([]gwv1.SupportedFeature, 0, len(names))
	for _, n := range names {
		out = append(out, gwv1.SupportedFeature{Name: gwv1.FeatureName(n)})
	}
	slices.SortFunc(out, func(a, b gwv1.SupportedFeature) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
