package aws

import "github.com/cloudgate-dev/cloudgate/mapping/lb"

// Client certificate validation (lb.Listener.ClientValidation) is not in
// Capabilities, so mapping refuses the listeners that ask for it; this is
// the backstop should a model carry it anyway, since serving the listener
// without validation would let in the clients the user meant to keep out.
//
// Why not: ALB mutual TLS in verify mode checks client certificates
// against a trust store (CreateTrustStore), which is made from a CA
// bundle object in S3; this provider writes no S3 object and creates no
// trust store, and moto (5.2.1) models neither trust stores nor a
// listener's MutualAuthentication, so none of it could be tested here.
// Mode AllowInsecureFallback is closest to ALB's passthrough mode (the
// certificate is asked for and forwarded, never checked, and every client
// is let in), but the Capabilities flag for it stands under the one for
// AllowValidOnly: not claimed either.
func clientValidationRefusal(l lb.Listener) string {
	if l.ClientValidation == nil {
		return ""
	}
	return "client certificate validation (ALB mutual TLS needs a trust store made from a CA bundle in S3, which the aws provider does not create)"
}
