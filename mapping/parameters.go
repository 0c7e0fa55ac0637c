package mapping

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

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

// gatewayParams is what the class's and the Gateway's parameters (merged)
// and the Gateway's own addresses and infrastructure give the model.
type gatewayParams struct {
	opts lb.Options
	tags map[string]string
	// healthCheck goes on every target group; nil keeps the provider's
	// defaults.
	healthCheck *lb.HealthCheck
	// certRefs are the cloud certificates the parameters name, which every
	// listener that terminates TLS serves after its certificateRefs'.
	certRefs []paramCertRefs
	// effective is every field the merge set, with its source, and the
	// provider's defaults of the rest (Result.Parameters).
	effective []Parameter
}

// paramCertRefs are the certificate references of one parameters field.
type paramCertRefs struct {
	field string // "aws.certificateARNs"
	kind  lb.CertificateRefKind
	ids   []string
}

// mergedParams is the class's parameters with the Gateway's laid over
// them, before conversion.
type mergedParams struct {
	opts lb.Options
	tags map[string]string
	// health holds each healthCheck field from the parameters that set it
	// last; hasHealth says whether any did.
	health    v1alpha1.HealthCheck
	hasHealth bool
	// A list is one field: the Gateway's replaces the class's.
	certificateARNs, sslCertificates []string

	// src is the parameters being laid over; from records, by path, the
	// value and source of each field as it is set, so that the last
	// writer of a field is its source (see Parameter).
	src  ParameterSource
	from map[string]Parameter
}

// set records that the parameters being merged set the field at path.
func (m *mergedParams) set(path, value string) {
	if m.from == nil {
		m.from = map[string]Parameter{}
	}
	m.from[path] = Parameter{Path: path, Value: value, Source: m.src}
}

// unset forgets the fields under prefix that a field replaced as a whole.
func (m *mergedParams) unset(prefix string) {
	maps.DeleteFunc(m.from, func(k string, _ Parameter) bool { return strings.HasPrefix(k, prefix) })
}

// effective lists the fields the merge set, then the provider's defaults
// of the fields it left unset (a default under a field replaced as a
// whole, such as a list, is not shown again), sorted by path.
func (m *mergedParams) effective(defaults map[string]string) []Parameter {
	out := slices.Collect(maps.Values(m.from))
	for path, v := range defaults {
		if _, ok := m.from[path]; !ok {
			out = append(out, Parameter{Path: path, Value: v, Source: ParameterSource{Kind: SourceDefault}})
		}
	}
	slices.SortFunc(out, func(x, y Parameter) int { return strings.Compare(x.Path, y.Path) })
	return out
}

// gatewayParams merges the class's and the Gateway's parameters and the
// Gateway's addresses and infrastructure into lb options, tags, the health
// check and the certificate references. A problem means the Gateway is not
// accepted.
func (b *builder) gatewayParams() (gatewayParams, problem) {
	invalid := func(msg string) (gatewayParams, problem) {
		return gatewayParams{}, problem{reason: string(gwv1.GatewayReasonInvalidParameters), message: msg}
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

	m := mergedParams{tags: map[string]string{}}
	for _, p := range []struct {
		kind   SourceKind
		params *v1alpha1.LoadBalancerParameters
	}{{SourceClass, classParams}, {SourceGateway, gwParams}} {
		if p.params != nil {
			m.src = ParameterSource{Kind: p.kind, Ref: p.params.Namespace + "/" + p.params.Name}
			mergeParams(&m, &p.params.Spec)
		}
	}

	addrs, p := b.specAddresses()
	if !p.ok() {
		return gatewayParams{}, p
	}
	m.opts.Addresses = addrs
	if len(addrs) > 0 {
		m.src = ParameterSource{Kind: SourceGatewaySpec, Ref: "spec.addresses"}
		m.set("addresses", strings.Join(addrs, ","))
	}

	if infra != nil {
		// Annotations first, labels last: on the same key the label wins.
		m.src = ParameterSource{Kind: SourceGatewaySpec, Ref: "spec.infrastructure.annotations"}
		for k, v := range infra.Annotations {
			m.tags[string(k)] = string(v)
			m.set(tagPath(string(k)), string(v))
		}
		m.src = ParameterSource{Kind: SourceGatewaySpec, Ref: "spec.infrastructure.labels"}
		for k, v := range infra.Labels {
			m.tags[string(k)] = string(v)
			m.set(tagPath(string(k)), string(v))
		}
	}
	// Reserved keys never become tags (the CRD refuses them in the
	// parameters; labels may carry them), so they are no parameter either.
	maps.DeleteFunc(m.from, func(k string, _ Parameter) bool { return strings.HasPrefix(k, "tags["+reservedTagPrefix) })
	out := gatewayParams{opts: m.opts, tags: m.tags, effective: m.effective(b.caps.ParameterDefaults)}
	bad := paramsValueProblems(m)
	var unsupported []string
	if m.hasHealth {
		hc, hcBad := healthCheck(m.health)
		out.healthCheck = hc
		bad = append(bad, hcBad...)
		if hc != nil && !b.caps.HealthCheckSuccessCodes && len(hc.SuccessCodes) > 0 &&
			!slices.Equal(hc.SuccessCodes, []lb.CodeRange{{From: 200, To: 200}}) {
			unsupported = append(unsupported, "healthCheck.successCodes "+quote(*m.health.SuccessCodes)+` (only "200" is)`)
		}
	}
	refs, refsBad := certRefs(m)
	out.certRefs = refs
	bad = append(bad, refsBad...)
	if len(bad) > 0 || len(unsupported) > 0 {
		// What the provider lacks comes first: it is short (success
		// codes are bounded), and the invalid values share the bound.
		var msg []string
		if len(unsupported) > 0 {
			msg = append(msg, fmt.Sprintf("parameters ask for what provider %s does not support: %s", b.caps.Provider, strings.Join(unsupported, "; ")))
		}
		if len(bad) > 0 {
			msg = append(msg, "parameters have invalid values: "+boundedList(bad, "; ", maxMessageBytes-len(strings.Join(msg, ""))))
		}
		// The merged fields stay visible: they show where a bad value
		// came from.
		g, p := invalid(strings.Join(msg, "; "))
		g.effective = out.effective
		return g, p
	}
	maps.DeleteFunc(out.tags, func(k, _ string) bool { return strings.HasPrefix(k, reservedTagPrefix) })
	if len(out.tags) == 0 {
		out.tags = nil
	}
	return out, problem{}
}

// mergeParams lays spec over m field by field; maps merge by key. Called
// with the class's parameters first, then the Gateway's.
//
// Provider sections (emulated, aws, gcp) go to their own lb.Options
// section, or to model elements only a provider that declares them gets
// (certificate references, through Capabilities.CertificateRefs); generic
// fields never take a provider's option. So emulated.address goes to
// lb.EmulatedOptions.Address, which the emulated cloud uses when
// Options.Addresses (the Gateway's spec.addresses, the more specific
// request) is empty: folding it into Options.Addresses would hand an AWS
// or GCP provider an address meant for the emulated cloud's range.
func mergeParams(m *mergedParams, spec *v1alpha1.LoadBalancerParametersSpec) {
	opts := &m.opts
	if spec.Scheme != nil {
		opts.Scheme = lb.Scheme(*spec.Scheme)
		m.set("scheme", string(*spec.Scheme))
	}
	if spec.IPAddressType != nil {
		opts.IPAddressType = *spec.IPAddressType
		m.set("ipAddressType", *spec.IPAddressType)
	}
	if spec.IdleTimeout != nil {
		opts.IdleTimeout = spec.IdleTimeout.Duration
		m.set("idleTimeout", seconds(opts.IdleTimeout))
	}
	if spec.DeletionProtection != nil {
		opts.DeletionProtection = *spec.DeletionProtection
		m.set("deletionProtection", strconv.FormatBool(*spec.DeletionProtection))
	}
	for k, v := range spec.Tags {
		m.tags[k] = v
		m.set(tagPath(k), v)
	}
	// accessLogs is one field: the Gateway's replaces the class's, and
	// one that is not enabled turns the class's off.
	if al := spec.AccessLogs; al != nil {
		opts.AccessLogs = nil
		m.unset("accessLogs.")
		m.set("accessLogs.enabled", strconv.FormatBool(al.Enabled))
		if al.Enabled {
			opts.AccessLogs = &lb.AccessLogs{Bucket: al.Bucket, Prefix: al.Prefix}
			m.set("accessLogs.bucket", al.Bucket)
			if al.Prefix != "" {
				m.set("accessLogs.prefix", al.Prefix)
			}
		}
	}
	if h := spec.HealthCheck; h != nil {
		m.hasHealth = true
		mergeHealthCheck(&m.health, h, func(field, value string) { m.set("healthCheck."+field, value) })
	}
	if e := spec.Emulated; e != nil {
		if e.Address != nil {
			emulatedOptions(opts).Address = *e.Address
			m.set("emulated.address", *e.Address)
		}
		if len(e.ResponseHeaders) > 0 {
			eo := emulatedOptions(opts)
			if eo.ResponseHeaders == nil {
				eo.ResponseHeaders = map[string]string{}
			}
			for k, v := range e.ResponseHeaders {
				eo.ResponseHeaders[k] = v
				m.set("emulated.responseHeaders["+k+"]", v)
			}
		}
	}
	if a := spec.AWS; a != nil {
		mergeAWS(m, a)
	}
	if g := spec.GCP; g != nil {
		if g.Region != "" {
			if opts.GCP == nil {
				opts.GCP = &lb.GCPOptions{}
			}
			opts.GCP.Region = g.Region
			m.set("gcp.region", g.Region)
		}
		if len(g.SSLCertificates) > 0 {
			m.sslCertificates = g.SSLCertificates
			m.set("gcp.sslCertificates", strings.Join(g.SSLCertificates, ","))
		}
	}
}

// tagPath is a tag's path among the parameters: keys may hold dots.
func tagPath(key string) string { return "tags[" + key + "]" }

// mergeAWS lays the aws section over m: lists replace, maps merge by key,
// quotas merge one by one.
func mergeAWS(m *mergedParams, a *v1alpha1.AWSParameters) {
	o := func() *lb.AWSOptions {
		if m.opts.AWS == nil {
			m.opts.AWS = &lb.AWSOptions{}
		}
		return m.opts.AWS
	}
	mergeMap := func(field string, dst *map[string]string, src map[string]string) {
		if *dst == nil {
			*dst = map[string]string{}
		}
		for k, v := range src {
			(*dst)[k] = v
			m.set("aws."+field+"["+k+"]", v)
		}
	}
	list := func(field string, dst *[]string, src []string) {
		*dst = slices.Clone(src)
		m.set("aws."+field, strings.Join(src, ","))
	}
	str := func(field string, dst *string, src string) {
		*dst = src
		m.set("aws."+field, src)
	}
	if len(a.Attributes) > 0 {
		mergeMap("attributes", &o().Attributes, a.Attributes)
	}
	if len(a.TargetGroupAttributes) > 0 {
		mergeMap("targetGroupAttributes", &o().TargetGroupAttributes, a.TargetGroupAttributes)
	}
	if len(a.Subnets) > 0 {
		list("subnets", &o().Subnets, a.Subnets)
	}
	if len(a.SecurityGroups) > 0 {
		list("securityGroups", &o().SecurityGroups, a.SecurityGroups)
	}
	if len(a.SourceRanges) > 0 {
		list("sourceRanges", &o().SourceRanges, a.SourceRanges)
	}
	if a.BackendSecurityGroup != nil {
		str("backendSecurityGroup", &o().BackendSecurityGroup, *a.BackendSecurityGroup)
	}
	if a.SSLPolicy != nil {
		str("sslPolicy", &o().SSLPolicy, *a.SSLPolicy)
	}
	if a.TargetType != nil {
		str("targetType", &o().TargetType, *a.TargetType)
	}
	if a.DeregistrationDelay != nil {
		d := a.DeregistrationDelay.Duration.Truncate(time.Second)
		o().DeregistrationDelay = &d
		m.set("aws.deregistrationDelay", seconds(d))
	}
	if q := a.Quotas; q != nil {
		for _, f := range []struct {
			field string
			dst   *int
			src   *int32
		}{
			{"rulesPerLoadBalancer", &o().Quotas.RulesPerLoadBalancer, q.RulesPerLoadBalancer},
			{"certificatesPerLoadBalancer", &o().Quotas.CertificatesPerLoadBalancer, q.CertificatesPerLoadBalancer},
			{"targetGroupsPerLoadBalancer", &o().Quotas.TargetGroupsPerLoadBalancer, q.TargetGroupsPerLoadBalancer},
			{"listenersPerLoadBalancer", &o().Quotas.ListenersPerLoadBalancer, q.ListenersPerLoadBalancer},
		} {
			if f.src != nil {
				*f.dst = int(*f.src)
				m.set("aws.quotas."+f.field, strconv.Itoa(int(*f.src)))
			}
		}
	}
	if len(a.CertificateARNs) > 0 {
		m.certificateARNs = a.CertificateARNs
		m.set("aws.certificateARNs", strings.Join(a.CertificateARNs, ","))
	}
}

func emulatedOptions(opts *lb.Options) *lb.EmulatedOptions {
	if opts.Emulated == nil {
		opts.Emulated = &lb.EmulatedOptions{}
	}
	return opts.Emulated
}

// Certificate references as the clouds name them: ACM and IAM server
// certificate ARNs, and Compute Engine resource names (RFC 1035 labels).
// The CRD holds the same patterns; they are checked again after the
// merge, for objects stored under older CRDs.
var (
	certificateARN = regexp.MustCompile(`^arn:aws[a-z-]*:(acm|iam):[a-z0-9-]*:[0-9]{12}:(certificate|server-certificate)/[A-Za-z0-9/+=,.@_-]+$`)
	gcpName        = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
)

// Bounds of the certificate lists: the CRD's, an ALB listener's 25
// certificates and a GCP target proxy's 15.
const (
	maxCertificateARNs = 25
	maxARN             = 2048
	maxSSLCertificates = 15
)

// certRefs checks the merged certificate references and lists them by
// field, each list in its order without repeats.
func certRefs(m mergedParams) ([]paramCertRefs, []string) {
	var out []paramCertRefs
	var bad []string
	add := func(field string, kind lb.CertificateRefKind, ids []string, limit int, valid func(string) bool) {
		if len(ids) == 0 {
			return
		}
		if len(ids) > limit {
			bad = append(bad, fmt.Sprintf("%s: at most %d certificates", field, limit))
		}
		r := paramCertRefs{field: field, kind: kind}
		for _, id := range ids {
			switch {
			case !valid(id):
				bad = append(bad, fmt.Sprintf("%s: %s is not a valid reference", field, quote(id)))
			case !slices.Contains(r.ids, id):
				r.ids = append(r.ids, id)
			}
		}
		out = append(out, r)
	}
	add("aws.certificateARNs", lb.CertificateRefACM, m.certificateARNs, maxCertificateARNs,
		func(id string) bool { return len(id) <= maxARN && certificateARN.MatchString(id) })
	add("gcp.sslCertificates", lb.CertificateRefGCP, m.sslCertificates, maxSSLCertificates, gcpName.MatchString)
	return out, bad
}

// specAddresses returns the Gateway's requested IP addresses. Only
// IPAddress is supported: a load balancer's address is what the cloud
// allocates, a hostname or a named address cannot be requested. An
// address with an empty value requests nothing.
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
		// An empty value asks for any address of the type (v1.7,
		// GatewayAddressEmpty): the cloud's own choice, as with no
		// request at all.
		if a.Value == "" {
			continue
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

// paramsValueProblems checks the merged parameters' values (and tags, which
// spec.infrastructure labels and annotations add to) that reach a provider
// verbatim and that the CRD leaves open: the emulated data plane refuses a
// whole load balancer for a response header it cannot send, and clouds
// take tag keys of 1 to 253 bytes at most (the emulated cloud's bound; the
// API server's for label and annotation keys). It lists every bad value,
// in key order so the message stays the same; healthCheck and certRefs
// check their own.
func paramsValueProblems(m mergedParams) []string {
	var bad []string
	if e := m.opts.Emulated; e != nil {
		if e.Address != "" {
			if _, err := netip.ParseAddr(e.Address); err != nil {
				bad = append(bad, "emulated.address: "+quote(e.Address)+" is not an IP address")
			}
		}
		for _, k := range slices.Sorted(maps.Keys(e.ResponseHeaders)) {
			if p := headerNameProblem(k); p != "" {
				bad = append(bad, "emulated.responseHeaders: "+p)
			}
			if p := headerValueProblem(e.ResponseHeaders[k]); p != "" {
				bad = append(bad, "emulated.responseHeaders["+quote(k)+"]: "+p)
			}
		}
	}
	bad = append(bad, awsValueProblems(m.opts.AWS)...)
	for _, k := range slices.Sorted(maps.Keys(m.tags)) {
		if k == "" || len(k) > maxTagKey {
			bad = append(bad, fmt.Sprintf("tags: key %s must have 1 to %d bytes", quote(k), maxTagKey))
		}
	}
	return bad
}

// The aws section's identifiers, as the CRD checks them; checked again
// after the merge for objects stored under older CRDs.
var (
	subnetID        = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	securityGroupID = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)
	sslPolicy       = regexp.MustCompile(`^ELBSecurityPolicy-[A-Za-z0-9-]+$`)
	attributeKey    = regexp.MustCompile(`^[a-z0-9_]+([.][a-z0-9_]+)+$`)
)

// awsValueProblems checks the merged aws section's values that reach the
// cloud verbatim.
func awsValueProblems(a *lb.AWSOptions) []string {
	if a == nil {
		return nil
	}
	var bad []string
	ids := func(field string, vs []string, re *regexp.Regexp) {
		for _, v := range vs {
			if !re.MatchString(v) {
				bad = append(bad, fmt.Sprintf("aws.%s: %s is not an id that matches %s", field, quote(v), re))
			}
		}
	}
	ids("subnets", a.Subnets, subnetID)
	ids("securityGroups", a.SecurityGroups, securityGroupID)
	if a.BackendSecurityGroup != "" {
		ids("backendSecurityGroup", []string{a.BackendSecurityGroup}, securityGroupID)
	}
	if a.SSLPolicy != "" {
		ids("sslPolicy", []string{a.SSLPolicy}, sslPolicy)
	}
	for _, r := range a.SourceRanges {
		if _, err := netip.ParsePrefix(r); err != nil {
			bad = append(bad, "aws.sourceRanges: "+quote(r)+" is not a CIDR")
		}
	}
	if len(a.SecurityGroups) > 0 && (len(a.SourceRanges) > 0 || a.BackendSecurityGroup != "") {
		// The class may give security groups and the Gateway source
		// ranges (or the other way round): each is valid alone.
		bad = append(bad, "aws.sourceRanges and aws.backendSecurityGroup configure the security group Cloudgate creates, which aws.securityGroups replaces")
	}
	if d := a.DeregistrationDelay; d != nil && (*d < 0 || *d > time.Hour) {
		bad = append(bad, "aws.deregistrationDelay: must be between 0s and 3600s")
	}
	for _, k := range slices.Sorted(maps.Keys(a.Attributes)) {
		if !attributeKey.MatchString(k) {
			bad = append(bad, "aws.attributes: key "+quote(k)+" is not an attribute name")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a.TargetGroupAttributes)) {
		if !attributeKey.MatchString(k) {
			bad = append(bad, "aws.targetGroupAttributes: key "+quote(k)+" is not an attribute name")
		}
	}
	return bad
}
