package gcp

import "github.com/cloudgate-dev/cloudgate/mapping/lb"

// Client certificate validation (lb.Listener.ClientValidation) is not in
// Capabilities, so mapping refuses the listeners that ask for it; this is
// the backstop should a model carry it anyway.
//
// Why not: mutual TLS on a regional Application Load Balancer is a
// ServerTlsPolicy (Network Security API, networksecurity.googleapis.com)
// with an mtlsPolicy naming a TrustConfig (Certificate Manager API) that
// holds the CA bundles, attached to the target HTTPS proxy's
// serverTlsPolicy. Both modes would map (REJECT_INVALID,
// ALLOW_INVALID_OR_MISSING_CLIENT_CERT), but both resources live outside
// Compute Engine, which is all this provider (and its double) speaks.
func clientValidationRefusal(l lb.Listener) string {
	if l.ClientValidation == nil {
		return ""
	}
	return "client certificate validation (a ServerTlsPolicy of the Network Security API with a Certificate Manager TrustConfig, which the GCP provider does not create)"
}
