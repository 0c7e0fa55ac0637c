package gcp

import (
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cloudgate-dev/cloudgate/providers"
)

// Kinds of the Compute Engine resources this adapter writes, beside the
// shared ones: the address is the load balancer (it carries the address
// clients use), a forwarding rule is a listener, a backend service is a
// target group, an SSL certificate a certificate.
const (
	kindHealthCheck providers.Kind = "health check"
	kindNEG         providers.Kind = "network endpoint group"
	kindEndpoint    providers.Kind = "network endpoint"
	kindURLMap      providers.Kind = "URL map"
	kindHTTPProxy   providers.Kind = "target HTTP proxy"
	kindHTTPSProxy  providers.Kind = "target HTTPS proxy"
	kindTCPProxy    providers.Kind = "target TCP proxy"
)

// resource is one Compute Engine resource of a load balancer: its kind,
// its logical id in the model (what its description records) and its
// computepb value.
type resource struct {
	Kind    providers.Kind
	Logical string
	Msg     proto.Message
}

// Name is the resource's name field.
func (r resource) Name() string { return stringField(r.Msg, "name") }

func stringField(m proto.Message, field string) string {
	f := m.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(field))
	if f == nil {
		return ""
	}
	return m.ProtoReflect().Get(f).String()
}

// state is a load balancer's resources, desired or observed, by kind in
// the order they are created; deletes run in the reverse order. A
// resource refers only to resources of kinds before its own.
type state struct {
	HealthChecks []*computepb.HealthCheck
	NEGs         []*computepb.NetworkEndpointGroup
	// Endpoints by the name of the NEG that holds them.
	Endpoints    map[string][]*computepb.NetworkEndpoint
	Backends     []*computepb.BackendService
	URLMaps      []*computepb.UrlMap
	Certificates []*computepb.SslCertificate
	HTTPProxies  []*computepb.TargetHttpProxy
	HTTPSProxies []*computepb.TargetHttpsProxy
	TCPProxies   []*computepb.TargetTcpProxy
	Addresses    []*computepb.Address
	Rules        []*computepb.ForwardingRule
}

// resources lists s's resources (endpoints apart) in creation order, with
// the logical ids their descriptions give (the desired state's own
// descriptions, or the observed ones').
func (s *state) resources() []resource {
	var out []resource
	add := func(kind providers.Kind, m proto.Message) {
		out = append(out, resource{Kind: kind, Logical: logicalOf(stringField(m, "description")), Msg: m})
	}
	for _, r := range s.HealthChecks {
		add(kindHealthCheck, r)
	}
	for _, r := range s.NEGs {
		add(kindNEG, r)
	}
	for _, r := range s.Backends {
		add(providers.KindTargetGroup, r)
	}
	for _, r := range s.URLMaps {
		add(kindURLMap, r)
	}
	for _, r := range s.Certificates {
		add(providers.KindCertificate, r)
	}
	for _, r := range s.HTTPProxies {
		add(kindHTTPProxy, r)
	}
	for _, r := range s.HTTPSProxies {
		add(kindHTTPSProxy, r)
	}
	for _, r := range s.TCPProxies {
		add(kindTCPProxy, r)
	}
	for _, r := range s.Addresses {
		add(providers.KindLoadBalancer, r)
	}
	for _, r := range s.Rules {
		add(providers.KindListener, r)
	}
	return out
}

// logicalOf is the logical id an ownership description records, or "".
func logicalOf(desc string) string {
	rec, ok := parseOwnership(desc)
	if !ok {
		return ""
	}
	return rec.Resource
}
