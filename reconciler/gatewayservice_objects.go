package reconciler

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The pure half of the in-cluster Service (gatewayservice.go does the
// writes): its name, its shape from the Gateway's status addresses, and the
// metadata it carries.

const (
	// serviceSuffix ends every Gateway Service's name, so that the name says
	// what made it and a user's Service named after the Gateway is left alone.
	serviceSuffix = "-cloudgate"
	// LabelManagedBy, value ManagedBy, marks the Services and EndpointSlices
	// this controller made. With the controller owner reference to the
	// Gateway it is what makes one ours; a name alone never does.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "cloudgate"
	// sliceManagedBy is the EndpointSlices' endpointslice.kubernetes.io/managed-by:
	// anything but the EndpointSlice controller's own value keeps that
	// controller (and the mirroring one) away from them.
	sliceManagedBy = "gateway-service.cloudgate.dev"
	// annotationInfraKeys records which labels and annotations of the
	// object came from the Gateway's spec.infrastructure, so that a key
	// removed there is removed here while keys others added stay.
	annotationInfraKeys = "cloudgate.dev/infrastructure-keys"
)

// ConditionInClusterService is the Gateway condition that says why its
// in-cluster Service is missing or incomplete. It is there only while that
// is so (status False); a Gateway whose Service matches its addresses
// carries none, so that most Gateways' status stays as it was.
const ConditionInClusterService = "cloudgate.dev/InClusterService"

// Reasons of ConditionInClusterService.
const (
	// ReasonServiceNameTaken: a Service that is not ours has the name.
	ReasonServiceNameTaken = "NameTaken"
	// ReasonNoEndpointAddress: every address is one Kubernetes refuses in
	// an EndpointSlice (loopback, link-local, unspecified), as the
	// emulated cloud's 127.0.0.0/8 addresses are.
	ReasonNoEndpointAddress = "NoEndpointAddress"
	// ReasonAddressesLeftOut: some addresses cannot be reached through the
	// Service (an ExternalName holds one hostname; IPs and hostnames do
	// not mix in one Service).
	ReasonAddressesLeftOut = "AddressesLeftOut"
)

// GatewayServiceName is the name of the Service through which in-cluster
// clients reach Gateway gw: "<gw>-cloudgate" when that is a valid Service
// name (a DNS-1035 label of at most 63 characters); otherwise the name is
// made one (dots become dashes, a leading digit gets "gw-", cut to fit) and
// an 8-digit hash of the Gateway's name keeps it unique.
func GatewayServiceName(gw string) string {
	plain := gw + serviceSuffix
	if len(validation.IsDNS1035Label(plain)) == 0 {
		return plain
	}
	sum := sha256.Sum256([]byte(gw))
	hash := hex.EncodeToString(sum[:4])
	base := strings.ReplaceAll(gw, ".", "-")
	if base == "" || base[0] < 'a' || base[0] > 'z' {
		base = "gw-" + base
	}
	if limit := validation.DNS1035LabelMaxLength - len(serviceSuffix) - 1 - len(hash); len(base) > limit {
		base = base[:limit]
	}
	return strings.TrimRight(base, "-") + "-" + hash + serviceSuffix
}

// serviceKind is how a Gateway's addresses are reached by name.
type serviceKind int

const (
	// noService: the Gateway has no address.
	noService serviceKind = iota
	// externalName: a CNAME to the load balancer's hostname (an ALB's DNS name).
	externalName
	// headless: A/AAAA records of the load balancer's IPs, from EndpointSlices.
	//
	// Headless rather than a ClusterIP with the same EndpointSlices: CoreDNS
	// answers a headless Service's name with the endpoint addresses
	// themselves, so a client connects to the load balancer's own address and
	// listener port, as clients outside the cluster do (the load balancer's
	// source ranges, TLS and Host routing see the same connection), and it is
	// the IP counterpart of the ExternalName's CNAME: DNS only, no virtual IP
	// taken from the Service range and no kube-proxy rules on every node for
	// traffic that leaves the cluster anyway. kube-proxy ignores headless
	// Services; the EndpointSlice controller ignores selectorless ones.
	headless
)

// serviceProblem is what ConditionInClusterService says, when it says anything.
type serviceProblem struct {
	reason, message string
}

// gatewayService is what a Gateway's status makes of its Service.
type gatewayService struct {
	name     string
	kind     serviceKind
	hostname string
	ports    []corev1.ServicePort
	// ips are the endpoint addresses by family.
	ips     map[discoveryv1.AddressType][]string
	problem *serviceProblem
}

// desiredGatewayService reads the Gateway's status addresses and listeners.
// IP addresses win over hostnames (no Service holds both); of several
// hostnames the first is taken (a CNAME names one host). The ports are the
// listeners' distinct ports and transport protocols.
func desiredGatewayService(gw *gwv1.Gateway) gatewayService {
	out := gatewayService{name: GatewayServiceName(gw.Name), ports: servicePorts(gw.Spec.Listeners),
		ips: map[discoveryv1.AddressType][]string{}}
	var hostnames, refused []string
	ips := 0
	for _, a := range gw.Status.Addresses {
		switch t := ptr.Deref(a.Type, gwv1.IPAddressType); t {
		case gwv1.HostnameAddressType:
			hostnames = append(hostnames, strings.ToLower(strings.TrimSuffix(a.Value, ".")))
		case gwv1.IPAddressType:
			ip, err := netip.ParseAddr(a.Value)
			if err != nil {
				continue
			}
			ips++
			ip = ip.Unmap().WithZone("")
			if !endpointIP(ip) {
				refused = append(refused, ip.String())
				continue
			}
			family := discoveryv1.AddressTypeIPv6
			if ip.Is4() {
				family = discoveryv1.AddressTypeIPv4
			}
			if !slices.Contains(out.ips[family], ip.String()) {
				out.ips[family] = append(out.ips[family], ip.String())
			}
		}
	}
	usable := len(out.ips[discoveryv1.AddressTypeIPv4]) + len(out.ips[discoveryv1.AddressTypeIPv6])
	switch {
	case ips > 0:
		out.kind = headless
		var left []string
		left = append(left, refused...)
		left = append(left, hostnames...)
		switch {
		case usable == 0:
			out.problem = &serviceProblem{ReasonNoEndpointAddress, fmt.Sprintf(
				"Service %s has no endpoints: the Gateway's addresses (%s) are loopback, link-local or unspecified, which Kubernetes refuses in EndpointSlices, so in-cluster clients cannot reach the Gateway by the Service's name",
				out.name, strings.Join(listed(left), ", "))}
		case len(left) > 0:
			out.problem = &serviceProblem{ReasonAddressesLeftOut, fmt.Sprintf(
				"Service %s resolves to the Gateway's usable IP addresses only; left out: %s (loopback, link-local and unspecified addresses cannot be endpoints, and a Service resolves to IP addresses or to a hostname, not both)",
				out.name, strings.Join(listed(left), ", "))}
		}
	case len(hostnames) > 0:
		out.kind = externalName
		out.hostname = hostnames[0]
		if len(hostnames) > 1 {
			out.problem = &serviceProblem{ReasonAddressesLeftOut, fmt.Sprintf(
				"Service %s is an alias of %s; left out: %s (an ExternalName Service names one host)",
				out.name, hostnames[0], strings.Join(listed(hostnames[1:]), ", "))}
		}
	}
	return out
}

// listed bounds a list of addresses for a message (status holds at most 16).
func listed(s []string) []string {
	const most = 8
	if len(s) <= most {
		return s
	}
	return append(slices.Clone(s[:most]), fmt.Sprintf("… and %d more", len(s)-most))
}

// endpointIP reports whether the API server takes ip in an EndpointSlice
// (its ValidateEndpointIP refuses the others).
func endpointIP(ip netip.Addr) bool {
	return !ip.IsLoopback() && !ip.IsLinkLocalUnicast() && !ip.IsLinkLocalMulticast() && !ip.IsUnspecified()
}

// servicePorts lists each listener port once per transport protocol, named
// "tcp-443" or "udp-53": a Service with several ports needs names, and these
// stay the same when listeners come and go on other ports.
func servicePorts(listeners []gwv1.Listener) []corev1.ServicePort {
	var out []corev1.ServicePort
	for _, l := range listeners {
		proto := corev1.ProtocolTCP
		if l.Protocol == gwv1.UDPProtocolType {
			proto = corev1.ProtocolUDP
		}
		p := corev1.ServicePort{
			Name:     fmt.Sprintf("%s-%d", strings.ToLower(string(proto)), l.Port),
			Protocol: proto, Port: int32(l.Port), TargetPort: intstr.FromInt32(int32(l.Port)),
		}
		if !slices.ContainsFunc(out, func(q corev1.ServicePort) bool { return q.Name == p.Name }) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b corev1.ServicePort) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol))
	})
	return out
}

// fixedLabels are the labels every object of the Gateway's carries, over
// any infrastructure label of the same key. The spec's gateway-name label
// holds the Gateway's name when it fits a label value (63 characters);
// ownership is decided by the owner reference, which holds any name.
func fixedLabels(gw *gwv1.Gateway) map[string]string {
	out := map[string]string{LabelManagedBy: ManagedBy}
	if len(validation.IsValidLabelValue(gw.Name)) == 0 {
		out[gwv1.GatewayNameLabelKey] = gw.Name
	}
	return out
}

// infraKeys is annotationInfraKeys' value.
type infraKeys struct {
	Labels      []string `json:"labels,omitempty"`
	Annotations []string `json:"annotations,omitempty"`
}

// setMetadata makes obj carry the Gateway's labels and its infrastructure
// labels and annotations, removing the infrastructure keys it carried before
// that the Gateway no longer has, and keeping every other key (another
// tool's). It reports whether anything changed.
func setMetadata(obj metav1.Object, gw *gwv1.Gateway) bool {
	fixed := fixedLabels(gw)
	var infraLabels, infraAnnotations map[string]string
	if in := gw.Spec.Infrastructure; in != nil {
		infraLabels = make(map[string]string, len(in.Labels))
		for k, v := range in.Labels {
			// The spec's label names the Gateway, ours marks what we own:
			// neither is the user's, even where fixedLabels leaves one out.
			if string(k) != gwv1.GatewayNameLabelKey && string(k) != LabelManagedBy {
				infraLabels[string(k)] = string(v)
			}
		}
		infraAnnotations = make(map[string]string, len(in.Annotations))
		for k, v := range in.Annotations {
			if string(k) != annotationInfraKeys {
				infraAnnotations[string(k)] = string(v)
			}
		}
	}
	var before infraKeys
	// A value someone broke reads as no keys: nothing of theirs is removed.
	_ = json.Unmarshal([]byte(obj.GetAnnotations()[annotationInfraKeys]), &before)

	labels := maps.Clone(obj.GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	for _, k := range before.Labels {
		delete(labels, k)
	}
	maps.Copy(labels, infraLabels)
	maps.Copy(labels, fixed)

	annotations := maps.Clone(obj.GetAnnotations())
	if annotations == nil {
		annotations = map[string]string{}
	}
	for _, k := range before.Annotations {
		delete(annotations, k)
	}
	maps.Copy(annotations, infraAnnotations)
	delete(annotations, annotationInfraKeys)
	now := infraKeys{Labels: slices.Sorted(maps.Keys(infraLabels)), Annotations: slices.Sorted(maps.Keys(infraAnnotations))}
	if len(now.Labels)+len(now.Annotations) > 0 {
		b, _ := json.Marshal(now)
		annotations[annotationInfraKeys] = string(b)
	}
	if len(annotations) == 0 {
		annotations = nil
	}
	changed := !maps.Equal(labels, obj.GetLabels()) || !maps.Equal(annotations, obj.GetAnnotations())
	obj.SetLabels(labels)
	obj.SetAnnotations(annotations)
	return changed
}

// setServiceSpec makes svc's spec the one want describes, keeping the fields
// the API server defaults (IP families, session affinity) as they are. It
// reports whether anything changed, and whether the change needs a new
// Service: a Service cannot become headless or stop being so in place
// (clusterIP is immutable).
func setServiceSpec(svc *corev1.Service, want gatewayService) (changed, recreate bool) {
	spec := &svc.Spec
	before := spec.DeepCopy()
	switch want.kind {
	case externalName:
		if spec.Type != corev1.ServiceTypeExternalName && svc.ResourceVersion != "" {
			return true, true
		}
		spec.Type = corev1.ServiceTypeExternalName
		spec.ExternalName = want.hostname
		spec.ClusterIP, spec.ClusterIPs = "", nil
	case headless:
		if svc.ResourceVersion != "" && (spec.Type != corev1.ServiceTypeClusterIP || spec.ClusterIP != corev1.ClusterIPNone) {
			return true, true
		}
		spec.Type = corev1.ServiceTypeClusterIP
		spec.ClusterIP = corev1.ClusterIPNone
		if len(spec.ClusterIPs) == 0 {
			spec.ClusterIPs = []string{corev1.ClusterIPNone}
		}
		spec.ExternalName = ""
	}
	spec.Selector = nil
	// Listener ports on ExternalName Services too: they say which ports the
	// alias serves (and SRV records name them).
	spec.Ports = want.ports
	return !equalServiceSpec(before, spec), false
}

// equalServiceSpec compares the fields setServiceSpec sets.
func equalServiceSpec(a, b *corev1.ServiceSpec) bool {
	return a.Type == b.Type && a.ExternalName == b.ExternalName && a.ClusterIP == b.ClusterIP &&
		slices.Equal(a.ClusterIPs, b.ClusterIPs) && len(a.Selector) == 0 && len(b.Selector) == 0 &&
		slices.EqualFunc(a.Ports, b.Ports, func(x, y corev1.ServicePort) bool {
			return x.Name == y.Name && x.Protocol == y.Protocol && x.Port == y.Port && x.TargetPort == y.TargetPort &&
				x.NodePort == y.NodePort && ptr.Equal(x.AppProtocol, y.AppProtocol)
		})
}

// sliceName names the Service's EndpointSlice of one address family.
func sliceName(service string, family discoveryv1.AddressType) string {
	return service + "-" + strings.ToLower(string(family))
}

// setSlice makes es the Service's EndpointSlice of family: one ready
// endpoint per address, the Service's ports.
func setSlice(es *discoveryv1.EndpointSlice, want gatewayService, family discoveryv1.AddressType) bool {
	before := es.DeepCopy()
	es.AddressType = family
	es.Endpoints = nil
	for _, ip := range want.ips[family] {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	es.Ports = nil
	for _, p := range want.ports {
		es.Ports = append(es.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Protocol: ptr.To(p.Protocol), Port: ptr.To(p.Port)})
	}
	labels := maps.Clone(es.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[discoveryv1.LabelServiceName] = want.name
	labels[discoveryv1.LabelManagedBy] = sliceManagedBy
	es.Labels = labels
	return !equalSlice(before, es)
}

func equalSlice(a, b *discoveryv1.EndpointSlice) bool {
	return a.AddressType == b.AddressType && maps.Equal(a.Labels, b.Labels) &&
		slices.EqualFunc(a.Endpoints, b.Endpoints, func(x, y discoveryv1.Endpoint) bool {
			return slices.Equal(x.Addresses, y.Addresses) && ptr.Equal(x.Conditions.Ready, y.Conditions.Ready) &&
				ptr.Equal(x.Conditions.Serving, y.Conditions.Serving) && ptr.Equal(x.Conditions.Terminating, y.Conditions.Terminating)
		}) &&
		slices.EqualFunc(a.Ports, b.Ports, func(x, y discoveryv1.EndpointPort) bool {
			return ptr.Equal(x.Name, y.Name) && ptr.Equal(x.Protocol, y.Protocol) && ptr.Equal(x.Port, y.Port) && ptr.Equal(x.AppProtocol, y.AppProtocol)
		})
}

// controlledBy reports whether obj is one this controller made for a
// Gateway named name (of any UID: a Gateway deleted and created again
// under the same name takes over what the old one left).
func controlledBy(obj metav1.Object, name string) bool {
	if obj.GetLabels()[LabelManagedBy] != ManagedBy {
		return false
	}
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.Kind == "Gateway" && strings.HasPrefix(ref.APIVersion, gwv1.GroupName+"/") && ref.Name == name
}
