package gcp

import (
	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// redirectSchemeRefusal says why a listener's redirect cannot be what the
// model asks, "" when it can. GCP's redirect (urlRedirect) switches the
// scheme to https or keeps the request's ("httpsRedirect: ... If set to
// false, the URL scheme of the redirected request remains the same as
// that of the request"): a redirect to http on an HTTPS listener cannot
// switch back to http. Only the listener shows that, so mapping cannot
// refuse it; this names the rule.
//
// Not refused, and not exact either: GCP keeps the request's port (it
// has no port to set), so a redirect to https from an HTTP listener on
// another port than 80 keeps that port, where the model's zero Port asks
// for 443. Capabilities has no flag for that case (RedirectPort covers
// explicit ports only), and the provider contract has such a model
// accepted.
func redirectSchemeRefusal(l lb.Listener, rd *lb.Redirect) string {
	if rd.Scheme == "http" && l.Protocol == lb.ProtocolHTTPS {
		return "a redirect from https to http (GCP's redirects switch the scheme to https only)"
	}
	return ""
}

// httpsListenerRedirects clears httpsRedirect on the redirects of an
// HTTPS listener's URL map: "Setting this true for TargetHttpsProxy is not
// permitted" (HttpRedirectAction.httpsRedirect), and false keeps the
// request's scheme, https, which is what a redirect to https asks there.
func httpsListenerRedirects(l lb.Listener, um *computepb.UrlMap) {
	if l.Protocol != lb.ProtocolHTTPS {
		return
	}
	for _, pm := range um.GetPathMatchers() {
		for _, rr := range pm.GetRouteRules() {
			if rd := rr.GetUrlRedirect(); rd.GetHttpsRedirect() {
				rd.HttpsRedirect = nil
			}
		}
	}
}

// checkRedirects refuses, by rule, the redirects of l that GCP would
// answer with another scheme than the model's.
func (c *converter) checkRedirects(l lb.Listener) {
	for _, vh := range l.VirtualHosts {
		for _, r := range vh.Rules {
			if rd := r.Action.Redirect; rd != nil {
				if why := redirectSchemeRefusal(l, rd); why != "" {
					c.refusals.add(r.Name, why)
				}
			}
		}
	}
}
