package aws

import (
	"errors"
	"slices"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

func backendTLS(policy string) *lb.BackendTLS {
	return &lb.BackendTLS{Policy: policy, ServerName: "abc.example.com", SystemRoots: true}
}

// Groups with TLS to their targets (BackendTLSPolicy) are HTTPS target
// groups on moto: HTTP1 for HTTP, HTTP2 and GRPC for H2C, health-checked
// over HTTPS; a plain group of the same Service port is another group.
func TestBackendTLSGroups(t *testing.T) {
	te := start(t)
	ctx := t.Context()
	m := h2cModel(t)
	for i := range m.TargetGroups {
		m.TargetGroups[i].TLS = backendTLS("shop/p")
	}
	m.TargetGroups = append(m.TargetGroups, lb.TargetGroup{Name: "shop/web:443", Protocol: lb.ProtocolHTTP,
		TLS: backendTLS("shop/web"), Targets: []lb.Target{{IP: "10.0.1.12", Port: 8443}}})
	m.Listeners[0].VirtualHosts[0].Rules = append(m.Listeners[0].VirtualHosts[0].Rules,
		lb.Rule{Name: "shop/web/rule-1/match-0", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/web"}}, Action: fwd("shop/web:443", 1)})
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := te.prov.Ensure(ctx, m); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i, v := range []string{versionHTTP2, versionGRPC, versionHTTP1} {
		g, err := convertGroup(m, m.TargetGroups[i])
		if err != nil {
			t.Fatal(err)
		}
		want[g.Name] = v
	}
	plain, err := convertGroup(m, lb.TargetGroup{Name: "shop/web:443", Protocol: lb.ProtocolHTTP})
	if err != nil {
		t.Fatal(err)
	}
	if _, clash := want[plain.Name]; clash {
		t.Errorf("the HTTP group and the HTTPS one of shop/web:443 share the name %s", plain.Name)
	}
	tgs, err := te.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: slices.Collect(func(yield func(string) bool) {
		for n := range want {
			if !yield(n) {
				return
			}
		}
	})})
	if err != nil {
		t.Fatal(err)
	}
	if len(tgs.TargetGroups) != len(want) {
		t.Fatalf("%d target groups, want %d", len(tgs.TargetGroups), len(want))
	}
	for _, g := range tgs.TargetGroups {
		if g.Protocol != elbtypes.ProtocolEnumHttps || awssdk.ToString(g.ProtocolVersion) != want[*g.TargetGroupName] ||
			g.HealthCheckProtocol != elbtypes.ProtocolEnumHttps {
			t.Errorf("group %s: %s %s (health %s), want HTTPS %s (health HTTPS)", *g.TargetGroupName, g.Protocol,
				awssdk.ToString(g.ProtocolVersion), g.HealthCheckProtocol, want[*g.TargetGroupName])
		}
	}
	if err := te.prov.Delete(ctx, gatewayOwner); err != nil {
		t.Fatal(err)
	}
	te.checkNothingOwned(t, ctx, gatewayOwner)
}

// What an ALB cannot do with TLS to targets is refused naming the group:
// a client certificate, and TLS to a layer-4 group.
func TestBackendTLSRefusals(t *testing.T) {
	m := h2cModel(t)
	m.TargetGroups[0].TLS = backendTLS("shop/p")
	m.TargetGroups[0].TLS.ClientCertificate = &lb.Certificate{Name: "shop/client", CertPEM: []byte("c"), KeyPEM: []byte("k")}
	p, _ := New(Config{})
	_, err := p.desired(m, []string{"s1", "s2"})
	var refusal *providers.InvalidError
	if !errors.As(err, &refusal) || !slices.Contains(refusal.Elements, "shop/api:8080") {
		t.Errorf("a client certificate: %v, want group shop/api:8080 refused", err)
	}
	if _, err := convertGroup(m, lb.TargetGroup{Name: "shop/db:5432/tcp", Protocol: lb.ProtocolTCP, TLS: backendTLS("shop/db")}); err == nil {
		t.Error("TLS to a TCP group was converted, want it refused")
	}
}
