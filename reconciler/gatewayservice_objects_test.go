package reconciler

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestGatewayServiceNameIsAValidServiceName(t *testing.T) {
	long := strings.Repeat("a", 253)
	names := map[string]string{}
	for _, gw := range []string{"gw", "same-namespace", "a.b", "a-b", "1gw", long, long[:252] + "b", strings.Repeat("a.", 30) + "b", "x"} {
		got := GatewayServiceName(gw)
		if errs := validation.IsDNS1035Label(got); len(errs) > 0 {
			t.Errorf("GatewayServiceName(%q) = %q: %v", gw, got, errs)
		}
		if other, ok := names[got]; ok {
			t.Errorf("Gateways %q and %q share the Service name %q", other, gw, got)
		}
		names[got] = gw
	}
	if got := GatewayServiceName("same-namespace"); got != "same-namespace-cloudgate" {
		t.Errorf("a name that fits is kept as it is: got %q", got)
	}
}

func gatewayWith(addrs ...gwv1.GatewayStatusAddress) *gwv1.Gateway {
	return &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "gw"},
		Spec: gwv1.GatewaySpec{Listeners: []gwv1.Listener{
			{Name: "https", Port: 443, Protocol: gwv1.HTTPSProtocolType},
			{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType},
			{Name: "http-other", Port: 80, Protocol: gwv1.HTTPProtocolType, Hostname: ptr.To(gwv1.Hostname("a.example"))},
			{Name: "dns", Port: 53, Protocol: gwv1.UDPProtocolType},
			{Name: "dns-tcp", Port: 53, Protocol: gwv1.TCPProtocolType},
		}},
		Status: gwv1.GatewayStatus{Addresses: addrs},
	}
}

func ipAddr(v string) gwv1.GatewayStatusAddress {
	return gwv1.GatewayStatusAddress{Type: ptr.To(gwv1.IPAddressType), Value: v}
}

func hostAddr(v string) gwv1.GatewayStatusAddress {
	return gwv1.GatewayStatusAddress{Type: ptr.To(gwv1.HostnameAddressType), Value: v}
}

func TestDesiredGatewayService(t *testing.T) {
	for _, tc := range []struct {
		name     string
		addrs    []gwv1.GatewayStatusAddress
		kind     serviceKind
		hostname string
		ips      map[discoveryv1.AddressType][]string
		reason   string
	}{
		{name: "none", kind: noService},
		{name: "ips", addrs: []gwv1.GatewayStatusAddress{ipAddr("203.0.113.7"), ipAddr("2001:db8::1"), {Value: "198.51.100.2"}},
			kind: headless, ips: map[discoveryv1.AddressType][]string{"IPv4": {"203.0.113.7", "198.51.100.2"}, "IPv6": {"2001:db8::1"}}},
		{name: "mapped IPv4 is IPv4", addrs: []gwv1.GatewayStatusAddress{ipAddr("::ffff:203.0.113.7")},
			kind: headless, ips: map[discoveryv1.AddressType][]string{"IPv4": {"203.0.113.7"}}},
		{name: "loopback only", addrs: []gwv1.GatewayStatusAddress{ipAddr("127.70.0.3")},
			kind: headless, ips: map[discoveryv1.AddressType][]string{}, reason: ReasonNoEndpointAddress},
		{name: "loopback beside a usable one", addrs: []gwv1.GatewayStatusAddress{ipAddr("169.254.1.1"), ipAddr("203.0.113.7")},
			kind: headless, ips: map[discoveryv1.AddressType][]string{"IPv4": {"203.0.113.7"}}, reason: ReasonAddressesLeftOut},
		{name: "hostname", addrs: []gwv1.GatewayStatusAddress{hostAddr("My-LB-1.elb.amazonaws.com.")},
			kind: externalName, hostname: "my-lb-1.elb.amazonaws.com", ips: map[discoveryv1.AddressType][]string{}},
		{name: "two hostnames", addrs: []gwv1.GatewayStatusAddress{hostAddr("alb.example"), hostAddr("nlb.example")},
			kind: externalName, hostname: "alb.example", ips: map[discoveryv1.AddressType][]string{}, reason: ReasonAddressesLeftOut},
		{name: "IPs win over hostnames", addrs: []gwv1.GatewayStatusAddress{hostAddr("alb.example"), ipAddr("203.0.113.7")},
			kind: headless, ips: map[discoveryv1.AddressType][]string{"IPv4": {"203.0.113.7"}}, reason: ReasonAddressesLeftOut},
		{name: "named addresses are no address", addrs: []gwv1.GatewayStatusAddress{{Type: ptr.To(gwv1.NamedAddressType), Value: "x"}}, kind: noService},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := desiredGatewayService(gatewayWith(tc.addrs...))
			if got.kind != tc.kind || got.hostname != tc.hostname {
				t.Errorf("kind %v hostname %q, want %v %q", got.kind, got.hostname, tc.kind, tc.hostname)
			}
			if tc.kind != noService {
				if d := cmp.Diff(tc.ips, got.ips); d != "" {
					t.Errorf("ips (-want +got):\n%s", d)
				}
			}
			reason := ""
			if got.problem != nil {
				reason = got.problem.reason
			}
			if reason != tc.reason {
				t.Errorf("problem %v, want reason %q", got.problem, tc.reason)
			}
		})
	}
	ports := desiredGatewayService(gatewayWith(ipAddr("203.0.113.7"))).ports
	var names []string
	for _, p := range ports {
		names = append(names, p.Name)
		if p.TargetPort.IntVal != p.Port {
			t.Errorf("port %s: targetPort %v", p.Name, p.TargetPort)
		}
	}
	if d := cmp.Diff([]string{"tcp-53", "udp-53", "tcp-80", "tcp-443"}, names); d != "" {
		t.Errorf("ports (-want +got):\n%s", d)
	}
}

func TestSetMetadataRemovesOnlyWhatTheGatewayGave(t *testing.T) {
	gw := gatewayWith()
	gw.Spec.Infrastructure = &gwv1.GatewayInfrastructure{
		Labels:      map[gwv1.LabelKey]gwv1.LabelValue{"team": "a", "old": "x", gwv1.GatewayNameLabelKey: "spoofed"},
		Annotations: map[gwv1.AnnotationKey]gwv1.AnnotationValue{"note": "n"},
	}
	svc := &corev1.Service{}
	if !setMetadata(svc, gw) {
		t.Fatal("setMetadata on an empty object reports no change")
	}
	if svc.Labels[gwv1.GatewayNameLabelKey] != "gw" || svc.Labels["team"] != "a" || svc.Labels[LabelManagedBy] != ManagedBy {
		t.Errorf("labels %v", svc.Labels)
	}
	// Another tool adds its own keys; the Gateway drops one of its.
	svc.Labels["argocd"] = "tracked"
	svc.Annotations["kubectl"] = "y"
	delete(gw.Spec.Infrastructure.Labels, "old")
	gw.Spec.Infrastructure.Annotations = nil
	if !setMetadata(svc, gw) {
		t.Fatal("no change reported")
	}
	want := map[string]string{gwv1.GatewayNameLabelKey: "gw", LabelManagedBy: ManagedBy, "team": "a", "argocd": "tracked"}
	if d := cmp.Diff(want, svc.Labels); d != "" {
		t.Errorf("labels (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{"kubectl": "y", annotationInfraKeys: `{"labels":["team"]}`}, svc.Annotations); d != "" {
		t.Errorf("annotations (-want +got):\n%s", d)
	}
	if setMetadata(svc, gw) {
		t.Error("a second setMetadata reports a change")
	}
	// A Gateway name too long for a label value has no gateway-name label.
	gw.Name = strings.Repeat("g", 64)
	long := &corev1.Service{}
	setMetadata(long, gw)
	if _, ok := long.Labels[gwv1.GatewayNameLabelKey]; ok {
		t.Errorf("a 64-character name went into a label: %v", long.Labels)
	}
}
