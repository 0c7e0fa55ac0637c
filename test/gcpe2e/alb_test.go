package gcpe2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

// TestGatewayBecomesARegionalALB follows one Gateway through its life on
// the Compute Engine double: created with routes, a route changed,
// endpoints scaled, its certificate rotated, deleted; each step checked in
// the double's objects and its call counts.
func TestGatewayBecomesARegionalALB(t *testing.T) {
	ns := namespace(t)
	service(t, ns, "web", 8080, "10.0.1.10", "10.0.1.11")
	service(t, ns, "canary", 8080, "10.0.1.20")
	service(t, ns, "api", 9090, "10.0.2.10")
	create(t, certSecret(t, ns, "shop-tls", "shop.example.com", 1))

	staging := rule(prefix("/"), backendRef("canary", 8080, 1))
	staging.Matches[0].Headers = []gwv1.HTTPHeaderMatch{header("X-Env", "staging")}
	create(t, gateway(ns, "shop", listener("http", gwv1.HTTPProtocolType, 80), httpsListener("https", 443, "shop-tls")),
		// store serves both listeners, api the HTTP one only.
		route(ns, "store", "shop", "", []string{"shop.example.com"},
			rule(prefix("/"), backendRef("web", 8080, 90), backendRef("canary", 8080, 10)), staging),
		route(ns, "api", "shop", "http", []string{"shop.example.com"}, rule(prefix("/api"), backendRef("api", 9090, 1))))
	cond, ip := programmed(t, ns, "shop")
	uid := string(getGateway(t, ns, "shop").UID)
	t.Logf("Programmed: %s (%s)", cond.Message, ip)
	// The routes may reach the controller after the Gateway: a later
	// reconcile adds them.
	quiesce(t)

	v := viewOf(t, uid)
	web, canary, api := ns+"/web:8080", ns+"/canary:8080", ns+"/api:9090"

	// One address, its IP the Gateway's, and a forwarding rule per
	// listener port on it, each to its listener's proxy.
	if len(v.Addresses) != 1 {
		t.Fatalf("%d addresses, want 1: %s", len(v.Addresses), v)
	}
	addr := v.Addresses[0]
	if addr.GetAddress() != ip || addr.GetAddressType() != "EXTERNAL" {
		t.Errorf("address %s %s, want the Gateway's %s, EXTERNAL", addr.GetAddress(), addr.GetAddressType(), ip)
	}
	if len(v.Rules) != 2 || len(v.HTTPProxies) != 1 || len(v.HTTPSProxies) != 1 {
		t.Fatalf("want 2 forwarding rules, 1 HTTP proxy and 1 HTTPS proxy: %s", v)
	}
	rules := map[string]*computepb.ForwardingRule{}
	for _, r := range v.Rules {
		rules[r.GetPortRange()] = r
		if r.GetIPAddress() != ip || r.GetLoadBalancingScheme() != "EXTERNAL_MANAGED" || r.GetIPProtocol() != "TCP" {
			t.Errorf("forwarding rule %s: IP %s scheme %s protocol %s, want %s EXTERNAL_MANAGED TCP", r.GetName(), r.GetIPAddress(), r.GetLoadBalancingScheme(), r.GetIPProtocol(), ip)
		}
	}
	httpProxy, httpsProxy := v.HTTPProxies[0], v.HTTPSProxies[0]
	if r := rules["80-80"]; r == nil || name(r.GetTarget()) != httpProxy.GetName() {
		t.Errorf("port 80's forwarding rule %v, want one to the HTTP proxy %s", r, httpProxy.GetName())
	}
	if r := rules["443-443"]; r == nil || name(r.GetTarget()) != httpsProxy.GetName() {
		t.Errorf("port 443's forwarding rule %v, want one to the HTTPS proxy %s", r, httpsProxy.GetName())
	}

	// A URL map per listener, each proxy on its own.
	if len(v.URLMaps) != 2 {
		t.Fatalf("%d URL maps, want one per listener", len(v.URLMaps))
	}
	httpMap, httpsMap := v.urlMap(t, "http-80"), v.urlMap(t, "https-443")
	if name(httpProxy.GetUrlMap()) != httpMap.GetName() || name(httpsProxy.GetUrlMap()) != httpsMap.GetName() {
		t.Errorf("proxies on URL maps %s and %s, want %s and %s", httpProxy.GetUrlMap(), httpsProxy.GetUrlMap(), httpMap.GetName(), httpsMap.GetName())
	}
	// Gateway API precedence within the host: the longest prefix, then
	// the header match before the bare "/"; what matches no rule, on the
	// routes' host or any other ("*"), is answered 404 by the URL map
	// itself.
	host := "shop.example.com: "
	defaults := []string{"default -> answer 404", "*: default -> answer 404", host + "default -> answer 404"}
	storeRules := []string{
		host + "prefix=/ header:x-env=staging -> forward " + canary + "*1",
		host + "prefix=/ -> forward " + canary + "*10 " + web + "*90",
	}
	wantHTTP := slices.Concat(defaults, []string{host + "full=/api | prefix=/api/ -> forward " + api + "*1"}, storeRules)
	wantHTTPS := slices.Concat(defaults, storeRules)
	for _, c := range []struct {
		u    *computepb.UrlMap
		want []string
	}{{httpMap, wantHTTP}, {httpsMap, wantHTTPS}} {
		if got := v.rendered(c.u); !slices.Equal(got, c.want) {
			t.Errorf("URL map %s:\n  %s\nwant\n  %s", v.logical[c.u.GetName()], strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
		}
	}

	// A backend service per backend (and the sink that answers what the
	// URL map answers itself), each with its health check and its NEG,
	// which holds the EndpointSlice's endpoints.
	wantEndpoints := map[string][]string{web: {"10.0.1.10:8080", "10.0.1.11:8080"}, canary: {"10.0.1.20:8080"}, api: {"10.0.2.10:9090"}}
	if len(v.Backends) != 4 || len(v.HealthChecks) != 3 || len(v.NEGs) != 3 {
		t.Fatalf("want 4 backend services (3 and the sink), 3 health checks, 3 NEGs: %s", v)
	}
	for _, b := range v.Backends {
		logical := v.logical[b.GetName()]
		if logical == "sink" {
			if len(b.GetBackends()) != 0 || len(b.GetHealthChecks()) != 0 {
				t.Errorf("the sink backend service has backends %v and health checks %v, want none", b.GetBackends(), b.GetHealthChecks())
			}
			continue
		}
		if len(b.GetHealthChecks()) != 1 || v.ref(b.GetHealthChecks()[0]) != logical || len(b.GetBackends()) != 1 || v.ref(b.GetBackends()[0].GetGroup()) != logical {
			t.Errorf("backend service %s: health checks %v, backends %v, want its own health check and NEG", logical, b.GetHealthChecks(), b.GetBackends())
		}
		if b.GetLoadBalancingScheme() != "EXTERNAL_MANAGED" || b.GetProtocol() != "HTTP" {
			t.Errorf("backend service %s: scheme %s protocol %s, want EXTERNAL_MANAGED HTTP", logical, b.GetLoadBalancingScheme(), b.GetProtocol())
		}
	}
	for _, h := range v.HealthChecks {
		if h.GetType() != "HTTP" || h.GetHttpHealthCheck().GetPortSpecification() != "USE_SERVING_PORT" {
			t.Errorf("health check %s: %s %v, want HTTP on the serving port", v.logical[h.GetName()], h.GetType(), h.GetHttpHealthCheck())
		}
	}
	for _, n := range v.NEGs {
		if n.GetNetworkEndpointType() != "GCE_VM_IP_PORT" || name(n.GetZone()) != zone {
			t.Errorf("NEG %s: type %s in %s, want GCE_VM_IP_PORT in %s", v.logical[n.GetName()], n.GetNetworkEndpointType(), n.GetZone(), zone)
		}
	}
	if !maps.EqualFunc(v.Endpoints, wantEndpoints, slices.Equal) {
		t.Errorf("NEG endpoints %v, want %v", v.Endpoints, wantEndpoints)
	}

	// The Secret's certificate, on the HTTPS proxy.
	if len(v.Certificates) != 1 || len(httpsProxy.GetSslCertificates()) != 1 || name(httpsProxy.GetSslCertificates()[0]) != v.Certificates[0].GetName() {
		t.Fatalf("HTTPS proxy certificates %v, certificates %d: want the one from the Secret", httpsProxy.GetSslCertificates(), len(v.Certificates))
	}
	oldCert := v.Certificates[0]
	if sans := oldCert.GetSubjectAlternativeNames(); !slices.Equal(sans, []string{"shop.example.com"}) {
		t.Errorf("certificate names %v, want shop.example.com", sans)
	}

	t.Run("a route change is one URL map update", func(t *testing.T) {
		before := priorities(v.urlMap(t, "http-80"))
		// A new rule, and a changed match: /api becomes /apis.
		update(t, &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"}}, func(r *gwv1.HTTPRoute) {
			r.Spec.Rules[0].Matches = []gwv1.HTTPRouteMatch{prefix("/apis")}
			r.Spec.Rules = append(r.Spec.Rules, rule(exact("/status"), backendRef("web", 8080, 1)))
		})
		want := slices.Concat(defaults, []string{
			host + "full=/status -> forward " + web + "*1",
			host + "full=/apis | prefix=/apis/ -> forward " + api + "*1",
		}, storeRules)
		var after *lbView
		eventually(t, 30*time.Second, func() error {
			after = viewOf(t, uid)
			if got := after.rendered(after.urlMap(t, "http-80")); !slices.Equal(got, want) {
				return fmt.Errorf("URL map:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			return nil
		})
		calls := callsUntilQuiet(t, always)
		if w := writesOf(calls); !maps.Equal(w, map[string]int{"regionUrlMaps.update": 1}) {
			t.Errorf("a route change wrote %v, want one regionUrlMaps.update", w)
		}
		// The store rules kept their priorities.
		now := priorities(after.urlMap(t, "http-80"))
		kept := 0
		for k, p := range before {
			if !strings.Contains(k, " "+ns+"/store/") {
				continue
			}
			kept++
			if q, ok := now[k]; !ok || p != q {
				t.Errorf("rule %s: priority %d -> %d; an unchanged rule keeps its priority", k, p, q)
			}
		}
		if kept != 2 {
			t.Errorf("%d rules of store, want 2 (priorities before %v, after %v)", kept, before, now)
		}
		t.Logf("route change: %s", formatCalls(calls))
	})

	t.Run("scaling endpoints attaches and detaches NEG endpoints", func(t *testing.T) {
		scale(t, ns, "web", "10.0.1.11", "10.0.1.12", "10.0.1.13")
		want := []string{"10.0.1.11:8080", "10.0.1.12:8080", "10.0.1.13:8080"}
		eventually(t, 30*time.Second, func() error {
			if got := viewOf(t, uid).Endpoints[web]; !slices.Equal(got, want) {
				return fmt.Errorf("web endpoints %v, want %v", got, want)
			}
			return nil
		})
		calls := callsUntilQuiet(t, always)
		if w := writesOf(calls); !maps.Equal(w, map[string]int{"networkEndpointGroups.attachNetworkEndpoints": 1, "networkEndpointGroups.detachNetworkEndpoints": 1}) {
			t.Errorf("an endpoint change wrote %v, want one attachNetworkEndpoints and one detachNetworkEndpoints", w)
		}
		if got := viewOf(t, uid).Endpoints; !slices.Equal(got[canary], wantEndpoints[canary]) || !slices.Equal(got[api], wantEndpoints[api]) {
			t.Errorf("the other NEGs changed: %v", got)
		}
		t.Logf("endpoint change: %s", formatCalls(calls))
	})

	t.Run("rotating the Secret switches the proxy to a new certificate before the old goes", func(t *testing.T) {
		_, from := suite.log.since(0)
		fresh := certSecret(t, ns, "shop-tls", "shop.example.com", 2)
		update(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop-tls"}}, func(s *corev1.Secret) { s.Data = fresh.Data })
		var newCert *computepb.SslCertificate
		eventually(t, 30*time.Second, func() error {
			after := viewOf(t, uid)
			if len(after.Certificates) != 1 || after.Certificates[0].GetName() == oldCert.GetName() {
				return fmt.Errorf("%d certificates, want only a new one", len(after.Certificates))
			}
			newCert = after.Certificates[0]
			return nil
		})
		calls := callsUntilQuiet(t, always)
		if w := writesOf(calls); !maps.Equal(w, map[string]int{"regionSslCertificates.insert": 1, "regionTargetHttpsProxies.setSslCertificates": 1, "regionSslCertificates.delete": 1}) {
			t.Errorf("a rotation wrote %v, want an insert, a setSslCertificates and a delete", w)
		}
		p, ok := gcptest.Get[*computepb.TargetHttpsProxy](suite.d, httpsProxy.GetSelfLink())
		if !ok || len(p.GetSslCertificates()) != 1 || name(p.GetSslCertificates()[0]) != newCert.GetName() {
			t.Errorf("the HTTPS proxy serves %v, want %s", p.GetSslCertificates(), newCert.GetName())
		}
		// The order the double answered the writes in: the new certificate
		// exists before the proxy names it, and the proxy names it before
		// the old one goes, so the proxy never lacks a certificate (the
		// double refuses a proxy without one, and the deletion of a
		// certificate a proxy names).
		log, _ := suite.log.since(from)
		step := func(want func(call) bool) int {
			for i, c := range log {
				if want(c) {
					return i
				}
			}
			return -1
		}
		certs := "regions/" + region + "/sslCertificates"
		inserted := step(func(c call) bool { return c.Method == "POST" && strings.HasSuffix(c.Path, certs) && c.Status == 200 })
		switched := step(func(c call) bool {
			return strings.HasSuffix(c.Path, "/"+httpsProxy.GetName()+"/setSslCertificates") && c.Status == 200 &&
				strings.Contains(string(c.Body), newCert.GetName()) && !strings.Contains(string(c.Body), oldCert.GetName())
		})
		deleted := step(func(c call) bool {
			return c.Method == "DELETE" && strings.HasSuffix(c.Path, certs+"/"+oldCert.GetName()) && c.Status == 200
		})
		if inserted < 0 || switched < 0 || deleted < 0 || !(inserted < switched && switched < deleted) {
			var seen []string
			for _, c := range log {
				if c.Method != "GET" {
					seen = append(seen, fmt.Sprintf("%s %s %d", c.Method, c.Path, c.Status))
				}
			}
			t.Errorf("insert at %d, setSslCertificates (to the new one only) at %d, delete of the old at %d: want them in that order; writes:\n  %s",
				inserted, switched, deleted, strings.Join(seen, "\n  "))
		}
		t.Logf("rotation: %s", formatCalls(calls))
	})

	t.Run("deleting the Gateway leaves nothing of it", func(t *testing.T) {
		deleteGateway(t, ns, "shop")
		must(t, leftovers(t, uid))
	})
}
