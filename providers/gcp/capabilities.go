package gcp

import "github.com/cloudgate-dev/cloudgate/mapping/lb"

// ControllerName is the GatewayClass controllerName the provider serves.
const ControllerName = "cloudgate.dev/gcp"

// capabilities are what this slice realizes on a regional Application
// Load Balancer, no more.
func capabilities() lb.Capabilities {
	exactRegex := map[lb.MatchType]bool{lb.MatchExact: true, lb.MatchRegex: true}
	return lb.Capabilities{
		Provider: "gcp",
		// TCP is a target TCP proxy (a regional external proxy Network
		// Load Balancer). UDP and TLS passthrough need passthrough Network
		// Load Balancers, whose backends are VMs or instance groups, not
		// Pod IPs: not offered.
		Protocols: map[lb.Protocol]bool{lb.ProtocolHTTP: true, lb.ProtocolHTTPS: true, lb.ProtocolTCP: true},
		// Regexes are RE2, as GCP's are, matched against the whole value.
		PathMatch:   map[lb.MatchType]bool{lb.MatchExact: true, lb.MatchPrefix: true, lb.MatchRegex: true},
		HeaderMatch: exactRegex,
		QueryMatch:  exactRegex,
		// Invalid backends and fixed responses are fault-injection aborts
		// in front of an empty backend service (urlmap.go).
		InvalidBackendShare:    true,
		FixedResponse:          true,
		RequestHeaderModifier:  true,
		ResponseHeaderModifier: true,
		BackendHeaderModifier:  true,
		Redirect:               true,
		RedirectStatusCodes:    map[int]bool{301: true, 302: true, 303: true, 307: true, 308: true},
		// A full-path rewrite is realized on exact path matches only (GCP
		// rewrites the matched prefix): FullPathRewriteOnAnyMatch below.
		Rewrite: true,
		// Prefix replacements on PathPrefix matches: one route rule per
		// match rule, the full path and the prefix (splitPrefixRule).
		PrefixRewrite:  true,
		PrefixRedirect: true,
		Mirror:         true,
		MirrorPercent:  true,
		RequestTimeout: true,
		// A requested IP is a reserved regional address's, used by every
		// forwarding rule; one the rules cannot use is
		// ErrAddressNotUsable (addresses.go).
		StaticAddresses: true,
		// Cookie sessions as generated-cookie affinity (affinity.go).
		SessionPersistence: sessionCaps,
		CertificateRefs:    map[lb.CertificateRefKind]bool{lb.CertificateRefGCP: true},
		BackendProtocols: map[lb.Protocol]bool{lb.ProtocolHTTP: true, lb.ProtocolHTTPS: true,
			lb.ProtocolH2C: true, lb.ProtocolTCP: true},
		// HTTP and H2C groups with TLS are HTTPS and HTTP2 backend
		// services with tlsSettings.sni and subjectAltNames (convert.go,
		// backendTLS); their certificates' chains are not checked against
		// the policies' CAs (that needs a BackendAuthenticationConfig of
		// the Network Security API), so BackendTLSVerify stays unset and
		// no client certificate is presented.
		BackendTLS: true,

		// Not realized, so that mapping refuses them by route or Gateway:
		// redirects keep the request's port or use the scheme's (no port
		// to set); GCP rewrites the prefix a route rule matched, the whole
		// path on exact matches only; HTTP health checks count 200 alone
		// as healthy.
		RedirectPort:              false,
		FullPathRewriteOnAnyMatch: false,
		HealthCheckSuccessCodes:   false,

		MaxRulesPerListener:        maxRouteRulesPerMatch,
		MaxTargetGroupsPerAction:   maxBackendsPerURLMap,
		MaxMirrorsPerRule:          1,
		MaxCertificatesPerListener: maxCertsPerProxy,
		// What an unset field becomes, for describe (convert.go).
		ParameterDefaults: map[string]string{
			"scheme":        string(lb.SchemeInternetFacing) + " (EXTERNAL_MANAGED)",
			"ipAddressType": "ipv4",
		},
	}
}
