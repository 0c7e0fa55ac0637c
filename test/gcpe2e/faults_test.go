package gcpe2e

import (
	"testing"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

// An insert whose answer is lost (the double applies it, then answers 503)
// is retried, meets 409 alreadyExists, and the provider reads the resource
// back, finds its own record and carries on: every resource exists once,
// and the Gateway is programmed.
func TestLostAnswersToInserts(t *testing.T) {
	ns := namespace(t)
	service(t, ns, "app", 8080, "10.0.5.10")
	create(t, certSecret(t, ns, "lost-tls", "lost.example.com", 1),
		route(ns, "r", "lost", "", nil, rule(prefix("/"), backendRef("app", 8080, 1))))
	kinds := []string{"regionHealthChecks", "networkEndpointGroups", "regionBackendServices", "regionUrlMaps", "regionSslCertificates",
		"regionTargetHttpProxies", "regionTargetHttpsProxies", "addresses", "forwardingRules"}
	for _, k := range kinds {
		must(t, suite.d.InjectFault(gcptest.Fault{Code: 503, Method: "compute." + k + ".insert", Count: 1, AfterApply: true}))
	}
	t.Cleanup(suite.d.ClearFaults)
	quiesce(t)

	create(t, gateway(ns, "lost", listener("http", gwv1.HTTPProtocolType, 80), httpsListener("https", 443, "lost-tls")))
	programmed(t, ns, "lost")
	calls := callsUntilQuiet(t, always)
	uid := string(getGateway(t, ns, "lost").UID)
	v := viewOf(t, uid)
	// One of each but the two forwarding rules and backend services (the
	// app's and the sink).
	if len(v.HealthChecks) != 1 || len(v.NEGs) != 1 || len(v.Backends) != 2 || len(v.URLMaps) != 2 || len(v.Certificates) != 1 ||
		len(v.HTTPProxies) != 1 || len(v.HTTPSProxies) != 1 || len(v.Addresses) != 1 || len(v.Rules) != 2 {
		t.Errorf("after lost answers: %s", v)
	}
	for _, k := range kinds {
		if calls[k+".get"] == 0 {
			t.Errorf("%s: no get after the lost answer to its insert (calls: %s)", k, formatCalls(calls))
		}
	}
	t.Logf("create with every first insert's answer lost: %s", formatCalls(calls))
	deleteGateway(t, ns, "lost")
	must(t, leftovers(t, uid))
}
