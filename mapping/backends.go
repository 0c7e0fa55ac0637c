package mapping

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// fixed500 answers a rule whose traffic has nowhere valid to go.
func fixed500() lb.Action { return lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 500}} }

// ruleAction resolves a rule's backendRefs into a weighted forward, the
// target groups it uses and the first bad reference. An invalid reference
// keeps its share of traffic as a backend without target group (HTTP 500);
// a rule with nothing valid to forward to answers 500 outright.
func (b *builder) ruleAction(route *gwv1.HTTPRoute, rule *gwv1.HTTPRouteRule) (lb.Action, []lb.TargetGroup, problem) {
	var first problem
	var forward []lb.WeightedBackend
	var groups []lb.TargetGroup
	add := func(tg string, w int32) {
		for i := range forward {
			if forward[i].TargetGroup == tg {
				forward[i].Weight += w
				return
			}
		}
		forward = append(forward, lb.WeightedBackend{TargetGroup: tg, Weight: w})
	}
	for _, ref := range rule.BackendRefs {
		weight := int32(1)
		if ref.Weight != nil {
			weight = *ref.Weight
		}
		tg, p := b.targetGroup(route.Namespace, ref.BackendObjectReference)
		if !p.ok() && first.ok() {
			first = p
		}
		if weight <= 0 {
			continue
		}
		if !p.ok() {
			add("", weight)
			continue
		}
		if !slices.ContainsFunc(groups, func(g lb.TargetGroup) bool { return g.Name == tg.Name }) {
			groups = append(groups, tg)
		}
		add(tg.Name, weight)
	}

	valid := slices.ContainsFunc(forward, func(w lb.WeightedBackend) bool { return w.TargetGroup != "" })
	invalidShare := slices.ContainsFunc(forward, func(w lb.WeightedBackend) bool { return w.TargetGroup == "" })
	switch {
	case !valid:
		// No backendRefs, all weights 0, or every reference invalid.
		return fixed500(), nil, first
	case invalidShare && !b.caps.InvalidBackendShare:
		// The provider cannot split traffic to a 500 answer; failing all of
		// the rule's traffic is the safe reading of "the invalid share gets
		// 500" (it never sends traffic a user meant to fail to a backend).
		return fixed500(), nil, first
	}
	return lb.Action{Forward: forward}, groups, first
}

// targetGroup resolves one backend reference to a Service port and its ready
// endpoints.
func (b *builder) targetGroup(routeNamespace string, ref gwv1.BackendObjectReference) (lb.TargetGroup, problem) {
	fail := func(reason gwv1.RouteConditionReason, msg string) (lb.TargetGroup, problem) {
		return lb.TargetGroup{}, problem{reason: string(reason), message: msg}
	}
	if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Service") {
		return fail(gwv1.RouteReasonInvalidKind, "backendRefs must name core Services")
	}
	ns := routeNamespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	name := ns + "/" + string(ref.Name)
	from := objRef{group: gwv1.GroupName, kind: kindHTTPRoute, namespace: routeNamespace}
	to := objRef{group: "", kind: "Service", namespace: ns, name: string(ref.Name)}
	if !b.granted(from, to) {
		return fail(gwv1.RouteReasonRefNotPermitted, "backendRef to Service "+name+" is not permitted by any ReferenceGrant")
	}
	svc := b.services[key(ns, string(ref.Name))]
	if svc == nil {
		return fail(gwv1.RouteReasonBackendNotFound, "Service "+name+" not found")
	}
	if ref.Port == nil {
		return fail(gwv1.RouteReasonBackendNotFound, "backendRef to Service "+name+" needs a port")
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == *ref.Port {
			sp = &svc.Spec.Ports[i]
			break
		}
	}
	if sp == nil {
		return fail(gwv1.RouteReasonBackendNotFound, fmt.Sprintf("Service %s has no port %d", name, *ref.Port))
	}
	if sp.AppProtocol != nil && !strings.EqualFold(*sp.AppProtocol, "http") {
		return fail(gwv1.RouteReasonUnsupportedProtocol,
			fmt.Sprintf("Service %s port %d has appProtocol %s; only HTTP backends are supported", name, *ref.Port, *sp.AppProtocol))
	}
	return lb.TargetGroup{
		Name:     fmt.Sprintf("%s:%d", name, *ref.Port),
		Protocol: lb.ProtocolHTTP,
		Targets:  b.targets(key(ns, svc.Name), sp.Name),
	}, problem{}
}

// targets lists the ready endpoints of a Service port from its
// EndpointSlices, matched by port name as kube-proxy does. This also works
// for headless Services with hand-made EndpointSlices.
func (b *builder) targets(svc types.NamespacedName, portName string) []lb.Target {
	var out []lb.Target
	for _, es := range b.slices[svc] {
		if es.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		var port *int32
		for _, p := range es.Ports {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			if name == portName && p.Port != nil {
				port = p.Port
				break
			}
		}
		if port == nil {
			continue
		}
		for _, ep := range es.Endpoints {
			// Ready unset means ready (EndpointSlice API contract).
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, ip := range ep.Addresses {
				out = append(out, lb.Target{IP: ip, Port: *port})
			}
		}
	}
	slices.SortFunc(out, func(x, y lb.Target) int {
		return cmp.Or(cmp.Compare(x.IP, y.IP), cmp.Compare(x.Port, y.Port))
	})
	// The same address may sit in two slices while they are being updated.
	return slices.Compact(out)
}
