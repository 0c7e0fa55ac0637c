package gcp

import (
	"fmt"
	"slices"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudgate-dev/cloudgate/providers"
)

// URL map limits this adapter keeps to. They are the figures of GCP's
// "URL maps" quota table as this package's authors read it, not checked
// against a live project: a project with raised limits is not yet
// configurable.
const (
	maxHostRules          = 1000
	maxPathMatchers       = 1000
	maxRouteRulesPerMatch = 200 // route rules per path matcher
	maxMatchRulesPerRule  = 5   // match rules per route rule
	maxBackendsPerURLMap  = 500 // distinct backend services one URL map names
	maxCertsPerProxy      = 15  // SSL certificates per regional target HTTPS proxy
)

// checkLimits refuses a desired state over a URL map limit before any
// call, naming the listener (for counts of the whole map) or the rules at
// fault, the lowest in precedence first.
func checkLimits(s *state) error {
	var r refusals
	for _, um := range s.URLMaps {
		listener := logicalOf(um.GetDescription())
		if n := len(um.HostRules); n > maxHostRules {
			r.add(listener, fmt.Sprintf("%d host rules in one URL map (at most %d)", n, maxHostRules))
		}
		if n := len(um.PathMatchers); n > maxPathMatchers {
			r.add(listener, fmt.Sprintf("%d path matchers in one URL map (at most %d)", n, maxPathMatchers))
		}
		backends := map[string]bool{}
		for _, pm := range um.PathMatchers {
			if n := len(pm.RouteRules); n > maxRouteRulesPerMatch {
				for _, rr := range slices.Backward(pm.RouteRules[maxRouteRulesPerMatch:]) {
					r.add(rr.GetDescription(), fmt.Sprintf("%d route rules in one path matcher (at most %d)", n, maxRouteRulesPerMatch))
				}
			}
			for _, rr := range pm.RouteRules {
				if n := len(rr.MatchRules); n > maxMatchRulesPerRule {
					r.add(rr.GetDescription(), fmt.Sprintf("%d match rules in one route rule (at most %d)", n, maxMatchRulesPerRule))
				}
				for _, b := range routeBackends(rr) {
					backends[b] = true
				}
			}
		}
		if n := len(backends); n > maxBackendsPerURLMap {
			r.add(listener, fmt.Sprintf("%d backend services in one URL map (at most %d)", n, maxBackendsPerURLMap))
		}
	}
	for _, p := range s.HTTPSProxies {
		if n := len(p.SslCertificates); n > maxCertsPerProxy {
			r.add(logicalOf(p.GetDescription()), fmt.Sprintf("%d certificates on one HTTPS listener (at most %d)", n, maxCertsPerProxy))
		}
	}
	if err := r.err(); err != nil {
		ie := err.(*providers.InvalidError)
		ie.Message = "over a GCP limit: " + ie.Message[len("GCP cannot express "):]
		return ie
	}
	return nil
}

func routeBackends(rr *computepb.HttpRouteRule) []string {
	var out []string
	ra := rr.GetRouteAction()
	for _, w := range ra.GetWeightedBackendServices() {
		out = append(out, w.GetBackendService())
	}
	if m := ra.GetRequestMirrorPolicy(); m != nil {
		out = append(out, m.GetBackendService())
	}
	return out
}
