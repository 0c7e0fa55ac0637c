package mapping

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// maxTagKey bounds tag keys: the emulated cloud's limit, and the API
// server's for the label and annotation keys that become tags.
const maxTagKey = 253

// reservedTagPrefix marks ownership tag keys; user tags may not use it.
const reservedTagPrefix = "cloudgate.dev/"

func indexParams(params []*v1alpha1.LoadBalancerParameters) map[types.NamespacedName]*v1alpha1.LoadBalancerParameters {
	m := map[types.NamespacedName]*v1alpha1.LoadBalancerParameters{}
	for _, p := range params {
		if p != nil {
			m[key(p.Namespace, p.Name)] = p
		}
	}
	return m
}

// isParamsKind says whether a parametersRef names LoadBalancerParameters.
func isParamsKind(group gwv1.Group, kind gwv1.Kind) bool {
	return string(group) == v1alpha1.GroupVersion.Group && string(kind) == v1alpha1.KindLoadBalancerParameters
}

// resolveClassParams finds the GatewayClass's parameters. No parametersRef
// gives (nil, ok).
func resolveClassParams(class *gwv1.GatewayClass, params map[types.NamespacedName]*v1alpha1.LoadBalancerParameters) (*v1alpha1.LoadBalancerParameters, problem) {
	if class == nil || class.Spec.ParametersRef == nil {
		return nil, problem{}
	}
	ref := class.Spec.ParametersRef
	bad := func(msg string) problem {
		return problem{reason: string(gwv1.GatewayClassReasonInvalidParameters), message: msg}
	}
	if !isParamsKind(ref.Group, ref.Kind) {
		return nil, bad("parametersRef must name group cloudgate.dev, kind LoadBalancerParameters")
	}
	if ref.Namespace == nil || *ref.Namespace == "" {
		return nil, bad("parametersRef must set a namespace: LoadBalancerParameters are namespaced")
	}
	p := params[key(string(*ref.Namespace), ref.Name)]
	if p == nil {
		return nil, bad("LoadBalancerParameters " + string(*ref.Namespace) + "/" + ref.Name + " not found")
	}
	return p, problem{}
}

// gatewayOptions merges the class's and the Gateway's parameters and the
// Gateway's addresses and infrastructure into lb options and tags. A problem
// means the Gateway is not accepted.
func (b *builder) gatewayOptions() (lb.Options, map[string]string, problem) {
	invalid := func(msg string) (lb.Options, map[string]string, problem) {
		return lb.Options{}, nil, problem{reason: string(gwv1.GatewayReasonInvalidParameters), message: msg}
	}
	classParams, p := resolveClassParams(b.class, b.params)
	if !p.ok() {
		return invalid("GatewayClass parameters do not resolve: " + p.message)
	}
	var gwParams *v1alpha1.LoadBalancerParameters
	infra := b.gw.Spec.Infrastructure
	if infra != nil && infra.ParametersRef != nil {
		ref := infra.ParametersRef
		if !isParamsKind(ref.Group, ref.Kind) {
			return invalid("infrastructure.parametersRef must name group cloudgate.dev, kind LoadBalancerParameters")
		}
		gwParams = b.params[key(b.gw.Namespace, ref.Name)]
		if gwParams == nil {
			return invalid("LoadBalancerParameters " + b.gw.Namespace + "/" + ref.Name + " not found")
		}
	}

	var opts lb.Options
	tags := map[string]string{}
	var emulatedAddress string
	for _, p := range []*v1alpha1.LoadBalancerParameters{classParams, gwParams} {
		if p != nil {
			mergeParams(&opts, tags, &emulatedAddress, &p.Spec)
		}
	}

	addrs, p := b.specAddresses()
	if !p.ok() {
		return lb.Options{}, nil, p
	}
	switch {
	case len(addrs) > 0:
		opts.Addresses = addrs
	case emulatedAddress != "":
		opts.Addresses = []string{emulatedAddress}
	}

	if infra != nil {
		// Annotations first, labels last: on the same key the label wins.
		for k, v := range infra.Annotations {
			tags[string(k)] = string(v)
		}
		for k, v := range infra.Labels {
			tags[string(k)] = string(v)
		}
	}
	if msg := paramsValueProblem(opts, tags, emulatedAddress); msg != "" {
		return invalid(msg)
	}
	maps.DeleteFunc(tags, func(k, _ string) bool { return strings.HasPrefix(k, reservedTagPrefix) })
	if len(tags) == 0 {
		tags = nil
	}
	return opts, tags, problem{}
}

// mergeParams lays spec over opts field by field; maps merge by key. Called
// with the class's parameters first, then the Gateway's.
func mergeParams(opts *lb.Options, tags map[string]string, emulatedAddress *string, spec *v1alpha1.LoadBalancerParametersSpec) {
	if spec.Scheme != nil {
		opts.Scheme = lb.Scheme(*spec.Scheme)
	}
	if spec.IPAddressType != nil {
		opts.IPAddressType = *spec.IPAddressType
	}
	if spec.IdleTimeout != nil {
		opts.IdleTimeout = spec.IdleTimeout.Duration
	}
	if spec.DeletionProtection != nil {
		opts.DeletionProtection = *spec.DeletionProtection
	}
	maps.Copy(tags, spec.Tags)
	// AccessLogs has no place in lb.Options yet; see the package report.
	if e := spec.Emulated; e != nil {
		if e.Address != nil {
			*emulatedAddress = *e.Address
		}
		if len(e.ResponseHeaders) > 0 {
			if opts.Emulated == nil {
				opts.Emulated = &lb.EmulatedOptions{}
			}
			if opts.Emulated.ResponseHeaders == nil {
				opts.Emulated.ResponseHeaders = map[string]string{}
			}
			maps.Copy(opts.Emulated.ResponseHeaders, e.ResponseHeaders)
		}
	}
	if a := spec.AWS; a != nil && len(a.Attributes) > 0 {
		if opts.AWS == nil {
			opts.AWS = &lb.AWSOptions{}
		}
		if opts.AWS.Attributes == nil {
			opts.AWS.Attributes = map[string]string{}
		}
		maps.Copy(opts.AWS.Attributes, a.Attributes)
	}
	if g := spec.GCP; g != nil && g.Region != "" {
		if opts.GCP == nil {
			opts.GCP = &lb.GCPOptions{}
		}
		opts.GCP.Region = g.Region
	}
}

// specAddresses returns the Gateway's requested IP addresses. Only
// IPAddress is supported: a load balancer's address is what the cloud
// allocates, a hostname or a named address cannot be requested.
func (b *builder) specAddresses() ([]string, problem) {
	var out []string
	for _, a := range b.gw.Spec.Addresses {
		if a.Type != nil && *a.Type != gwv1.IPAddressType {
			return nil, problem{reason: string(gwv1.GatewayReasonUnsupportedAddress),
				message: "only addresses of type IPAddress are supported"}
		}
		// Routability (v1.7, experimental) asks for a reachability scope
		// the providers cannot promise.
		if a.Routability != gwv1.GatewayAddressRoutabilityDefault {
			return nil, problem{reason: string(gwv1.GatewayReasonUnsupportedAddress),
				message: "address routability is not supported"}
		}
		ip, err := netip.ParseAddr(a.Value)
		if err != nil {
			return nil, problem{reason: string(gwv1.GatewayReasonUnsupportedAddress),
				message: "address " + a.Value + " is not an IP address"}
		}
		out = append(out, ip.String())
	}
	return out, problem{}
}

// paramsValueProblem checks the merged parameters' values (and tags, which
// spec.infrastructure labels and annotations add to) that reach a provider
// verbatim and that the CRD leaves open: the emulated data plane refuses a
// whole load balancer for a response header it cannot send, and clouds
// take tag keys of 1 to 253 bytes at most (the emulated cloud's bound; the
// API server's for label and annotation keys). The message lists every bad
// value, bounded, in key order so it stays the same.
func paramsValueProblem(opts lb.Options, tags map[string]string, emulatedAddress string) string {
	var bad []string
	if emulatedAddress != "" {
		if _, err := netip.ParseAddr(emulatedAddress); err != nil {
			bad = append(bad, "emulated.address: "+quote(emulatedAddress)+" is not an IP address")
		}
	}
	if e := opts.Emulated; e != nil {
		for _, k := range slices.Sorted(maps.Keys(e.ResponseHeaders)) {
			if p := headerNameProblem(k); p != "" {
				bad = append(bad, "emulated.responseHeaders: "+p)
			}
			if p := headerValueProblem(e.ResponseHeaders[k]); p != "" {
				bad = append(bad, "emulated.responseHeaders["+quote(k)+"]: "+p)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		if k == "" || len(k) > maxTagKey {
			bad = append(bad, fmt.Sprintf("tags: key %s must have 1 to %d bytes", quote(k), maxTagKey))
		}
	}
	if len(bad) == 0 {
		return ""
	}
	return "parameters have invalid values: " + boundedList(bad, "; ", maxMessageBytes)
}
