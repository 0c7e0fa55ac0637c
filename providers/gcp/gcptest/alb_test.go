package gcptest_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

// albGraph creates a regional external Application Load Balancer leaves
// up, as the provider does, and returns the selfLinks in creation order.
func albGraph(t *testing.T, e *env) []string {
	t.Helper()
	ctx := context.Background()
	scheme := proto.String("EXTERNAL_MANAGED")

	o, err := e.checks.Insert(ctx, &computepb.InsertRegionHealthCheckRequest{Project: project, Region: region,
		HealthCheckResource: &computepb.HealthCheck{Name: proto.String("hc"), Type: proto.String("HTTP"),
			HttpHealthCheck: &computepb.HTTPHealthCheck{PortSpecification: proto.String("USE_SERVING_PORT")}}})
	wait(t, o, err)

	o, err = e.negs.Insert(ctx, &computepb.InsertNetworkEndpointGroupRequest{Project: project, Zone: zone,
		NetworkEndpointGroupResource: &computepb.NetworkEndpointGroup{Name: proto.String("neg"),
			NetworkEndpointType: proto.String("GCE_VM_IP_PORT"), Network: proto.String("global/networks/default")}})
	wait(t, o, err)
	o, err = e.negs.AttachNetworkEndpoints(ctx, &computepb.AttachNetworkEndpointsNetworkEndpointGroupRequest{
		Project: project, Zone: zone, NetworkEndpointGroup: "neg",
		NetworkEndpointGroupsAttachEndpointsRequestResource: &computepb.NetworkEndpointGroupsAttachEndpointsRequest{
			NetworkEndpoints: []*computepb.NetworkEndpoint{
				{IpAddress: proto.String("10.0.0.1"), Port: proto.Int32(8080), Instance: proto.String("vm-1")},
				{IpAddress: proto.String("10.0.0.2"), Port: proto.Int32(8080), Instance: proto.String("vm-1")},
			}}})
	wait(t, o, err)

	o, err = e.backends.Insert(ctx, &computepb.InsertRegionBackendServiceRequest{Project: project, Region: region,
		BackendServiceResource: &computepb.BackendService{Name: proto.String("be"), LoadBalancingScheme: scheme,
			Protocol: proto.String("HTTP"), HealthChecks: []string{regional("healthChecks", "hc")},
			Backends: []*computepb.Backend{{Group: proto.String(zonal("networkEndpointGroups", "neg")),
				BalancingMode: proto.String("RATE"), MaxRatePerEndpoint: proto.Float32(100)}}}})
	wait(t, o, err)

	o, err = e.urlMaps.Insert(ctx, &computepb.InsertRegionUrlMapRequest{Project: project, Region: region,
		UrlMapResource: &computepb.UrlMap{Name: proto.String("um"), DefaultService: proto.String(regional("backendServices", "be")),
			HostRules: []*computepb.HostRule{{Hosts: []string{"example.com"}, PathMatcher: proto.String("pm")}},
			PathMatchers: []*computepb.PathMatcher{{Name: proto.String("pm"),
				DefaultService: proto.String("regions/" + region + "/backendServices/be"),
				RouteRules: []*computepb.HttpRouteRule{{Priority: proto.Int32(10),
					MatchRules: []*computepb.HttpRouteRuleMatch{{PrefixMatch: proto.String("/api")}},
					RouteAction: &computepb.HttpRouteAction{WeightedBackendServices: []*computepb.WeightedBackendService{
						{BackendService: proto.String(regional("backendServices", "be")), Weight: proto.Uint32(100)}}}}}}}}})
	wait(t, o, err)

	cert, key := selfSigned(t, "example.com")
	o, err = e.certs.Insert(ctx, &computepb.InsertRegionSslCertificateRequest{Project: project, Region: region,
		SslCertificateResource: &computepb.SslCertificate{Name: proto.String("cert"), Certificate: proto.String(cert), PrivateKey: proto.String(key)}})
	wait(t, o, err)

	o, err = e.http.Insert(ctx, &computepb.InsertRegionTargetHttpProxyRequest{Project: project, Region: region,
		TargetHttpProxyResource: &computepb.TargetHttpProxy{Name: proto.String("http"), UrlMap: proto.String(regional("urlMaps", "um"))}})
	wait(t, o, err)
	o, err = e.https.Insert(ctx, &computepb.InsertRegionTargetHttpsProxyRequest{Project: project, Region: region,
		TargetHttpsProxyResource: &computepb.TargetHttpsProxy{Name: proto.String("https"), UrlMap: proto.String(regional("urlMaps", "um")),
			SslCertificates: []string{regional("sslCertificates", "cert")}}})
	wait(t, o, err)

	o, err = e.addresses.Insert(ctx, &computepb.InsertAddressRequest{Project: project, Region: region,
		AddressResource: &computepb.Address{Name: proto.String("ip"), NetworkTier: proto.String("STANDARD"),
			Labels: map[string]string{"cloudgate-dev_gateway": "ns-gw"}}})
	wait(t, o, err)
	for _, fr := range []struct{ name, port, target string }{{"fr-80", "80", "targetHttpProxies/http"}, {"fr-443", "443", "targetHttpsProxies/https"}} {
		o, err = e.rules.Insert(ctx, &computepb.InsertForwardingRuleRequest{Project: project, Region: region,
			ForwardingRuleResource: &computepb.ForwardingRule{Name: proto.String(fr.name), LoadBalancingScheme: scheme,
				IPAddress: proto.String(regional("addresses", "ip")), PortRange: proto.String(fr.port), IPProtocol: proto.String("TCP"),
				Target: proto.String("projects/" + project + "/regions/" + region + "/" + fr.target), Network: proto.String("global/networks/default"),
				Labels: map[string]string{"team": "edge"}}})
		wait(t, o, err)
	}
	return []string{regional("healthChecks", "hc"), zonal("networkEndpointGroups", "neg"), regional("backendServices", "be"),
		regional("urlMaps", "um"), regional("sslCertificates", "cert"), regional("targetHttpProxies", "http"),
		regional("targetHttpsProxies", "https"), regional("addresses", "ip"), regional("forwardingRules", "fr-80"),
		regional("forwardingRules", "fr-443")}
}

// The whole ALB graph is created leaves up with the real clients, reads
// back what the API fills in, refuses to delete what is in use, and
// deletes in reverse down to nothing.
func TestALBGraphCreateAndDelete(t *testing.T) {
	e := newEnv(t, gcptest.Config{}, nil)
	ctx := context.Background()
	links := albGraph(t, e)

	for _, l := range links {
		obj, ok := gcptest.Get[proto.Message](e.d, l)
		if !ok {
			t.Fatalf("%s is not stored", l)
		}
		if got := obj.ProtoReflect().Get(obj.ProtoReflect().Descriptor().Fields().ByName("self_link")).String(); got != l {
			t.Errorf("selfLink %q, want %q", got, l)
		}
	}

	um, err := e.urlMaps.Get(ctx, &computepb.GetRegionUrlMapRequest{Project: project, Region: region, UrlMap: "um"})
	if err != nil {
		t.Fatal(err)
	}
	if um.GetFingerprint() == "" || um.GetId() == 0 || um.GetCreationTimestamp() == "" || um.GetKind() != "compute#urlMap" {
		t.Errorf("URL map lacks server fields: fingerprint %q id %d created %q kind %q", um.GetFingerprint(), um.GetId(), um.GetCreationTimestamp(), um.GetKind())
	}

	addr, err := e.addresses.Get(ctx, &computepb.GetAddressRequest{Project: project, Region: region, Address: "ip"})
	if err != nil {
		t.Fatal(err)
	}
	fr, err := e.rules.Get(ctx, &computepb.GetForwardingRuleRequest{Project: project, Region: region, ForwardingRule: "fr-443"})
	if err != nil {
		t.Fatal(err)
	}
	if addr.GetAddress() == "" || fr.GetIPAddress() != addr.GetAddress() {
		t.Errorf("forwarding rule IP %q, want the reserved address %q", fr.GetIPAddress(), addr.GetAddress())
	}
	if fr.GetPortRange() != "443-443" {
		t.Errorf("port range %q, want the API's normal form 443-443", fr.GetPortRange())
	}
	if addr.GetStatus() != "IN_USE" || !slices.Equal(addr.GetUsers(), []string{regional("forwardingRules", "fr-443"), regional("forwardingRules", "fr-80")}) {
		t.Errorf("address status %q users %v, want IN_USE by both forwarding rules", addr.GetStatus(), addr.GetUsers())
	}
	neg, err := e.negs.Get(ctx, &computepb.GetNetworkEndpointGroupRequest{Project: project, Zone: zone, NetworkEndpointGroup: "neg"})
	if err != nil {
		t.Fatal(err)
	}
	if neg.GetSize() != 2 {
		t.Errorf("NEG size %d, want 2", neg.GetSize())
	}
	cert, err := e.certs.Get(ctx, &computepb.GetRegionSslCertificateRequest{Project: project, Region: region, SslCertificate: "cert"})
	if err != nil {
		t.Fatal(err)
	}
	if cert.PrivateKey != nil || !slices.Equal(cert.GetSubjectAlternativeNames(), []string{"example.com"}) || cert.GetExpireTime() == "" {
		t.Errorf("certificate read back with key %v, SANs %v, expiry %q", cert.PrivateKey != nil, cert.GetSubjectAlternativeNames(), cert.GetExpireTime())
	}

	// Each object in use refuses deletion while its user exists.
	_, err = e.backends.Delete(ctx, &computepb.DeleteRegionBackendServiceRequest{Project: project, Region: region, BackendService: "be"})
	wantAPIError(t, err, http.StatusBadRequest, "resourceInUseByAnotherResource")
	_, err = e.urlMaps.Delete(ctx, &computepb.DeleteRegionUrlMapRequest{Project: project, Region: region, UrlMap: "um"})
	wantAPIError(t, err, http.StatusBadRequest, "resourceInUseByAnotherResource")
	_, err = e.addresses.Delete(ctx, &computepb.DeleteAddressRequest{Project: project, Region: region, Address: "ip"})
	wantAPIError(t, err, http.StatusBadRequest, "resourceInUseByAnotherResource")
	_, err = e.negs.Delete(ctx, &computepb.DeleteNetworkEndpointGroupRequest{Project: project, Zone: zone, NetworkEndpointGroup: "neg"})
	wantAPIError(t, err, http.StatusBadRequest, "resourceInUseByAnotherResource")

	// Reverse order succeeds.
	for _, fr := range []string{"fr-443", "fr-80"} {
		o, err := e.rules.Delete(ctx, &computepb.DeleteForwardingRuleRequest{Project: project, Region: region, ForwardingRule: fr})
		wait(t, o, err)
	}
	o, err := e.addresses.Delete(ctx, &computepb.DeleteAddressRequest{Project: project, Region: region, Address: "ip"})
	wait(t, o, err)
	o, err = e.https.Delete(ctx, &computepb.DeleteRegionTargetHttpsProxyRequest{Project: project, Region: region, TargetHttpsProxy: "https"})
	wait(t, o, err)
	o, err = e.http.Delete(ctx, &computepb.DeleteRegionTargetHttpProxyRequest{Project: project, Region: region, TargetHttpProxy: "http"})
	wait(t, o, err)
	o, err = e.certs.Delete(ctx, &computepb.DeleteRegionSslCertificateRequest{Project: project, Region: region, SslCertificate: "cert"})
	wait(t, o, err)
	o, err = e.urlMaps.Delete(ctx, &computepb.DeleteRegionUrlMapRequest{Project: project, Region: region, UrlMap: "um"})
	wait(t, o, err)
	o, err = e.backends.Delete(ctx, &computepb.DeleteRegionBackendServiceRequest{Project: project, Region: region, BackendService: "be"})
	wait(t, o, err)
	o, err = e.negs.Delete(ctx, &computepb.DeleteNetworkEndpointGroupRequest{Project: project, Zone: zone, NetworkEndpointGroup: "neg"})
	wait(t, o, err)
	o, err = e.checks.Delete(ctx, &computepb.DeleteRegionHealthCheckRequest{Project: project, Region: region, HealthCheck: "hc"})
	wait(t, o, err)

	if got, want := e.d.Refs(), []string{"projects/" + project + "/regions/" + region + "/subnetworks/proxy-only"}; !slices.Equal(got, want) {
		t.Errorf("left after deleting the graph: %v, want only %v", got, want)
	}
	_, err = e.urlMaps.Get(ctx, &computepb.GetRegionUrlMapRequest{Project: project, Region: region, UrlMap: "um"})
	wantAPIError(t, err, http.StatusNotFound, "notFound")
}
