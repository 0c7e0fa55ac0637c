package lb

import "time"

// Protocol is what a Listener speaks to clients.
type Protocol string

// Protocols a Listener can carry.
const (
	ProtocolHTTP  Protocol = "HTTP"  // plain HTTP/1.1, and HTTP/2 with prior knowledge
	ProtocolHTTPS Protocol = "HTTPS" // TLS terminated at the load balancer, then HTTP
	ProtocolTLS   Protocol = "TLS"   // TLS passed through, routed by SNI
	ProtocolTCP   Protocol = "TCP"
	ProtocolUDP   Protocol = "UDP"
	// ProtocolH2C is HTTP/2 without TLS, with prior knowledge. Only target
	// groups use it (Service appProtocol kubernetes.io/h2c).
	ProtocolH2C Protocol = "H2C"
)

// LoadBalancer is the desired state of one Gateway's load balancer.
type LoadBalancer struct {
	// Owner identifies the Gateway this load balancer belongs to. Providers write
	// it as ownership tags and find their resources by it.
	Owner Owner `json:"owner"`
	// Tags are user tags: the Gateway's spec.infrastructure labels and
	// annotations and the parameters' tags. They never override Owner's tags.
	Tags map[string]string `json:"tags,omitempty"`
	// Options are the merged LoadBalancerParameters.
	Options Options `json:"options,omitzero"`
	// Listeners, sorted by port, one per port except that a TCP and a
	// UDP listener may share one (mapping puts them there only for a
	// provider whose Capabilities.TCPUDPSharedPort is set).
	Listeners []Listener `json:"listeners,omitempty"`
	// TargetGroups, sorted by name. Every TargetGroup is referenced by at least
	// one Action.
	TargetGroups []TargetGroup `json:"targetGroups,omitempty"`
}

// Owner names the Gateway that owns a load balancer.
type Owner struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
}

// Ownership tag keys, written on every cloud resource Cloudgate creates. A
// resource without them is never changed or deleted.
const (
	TagCluster    = "cloudgate.dev/cluster"
	TagGateway    = "cloudgate.dev/gateway"
	TagGatewayUID = "cloudgate.dev/gateway-uid"
	TagResource   = "cloudgate.dev/resource"
)

// Key is the owner's "namespace/name".
func (o Owner) Key() string { return o.Namespace + "/" + o.Name }

// Tags returns the ownership tags for the resource with the given logical id.
func (o Owner) Tags(resource string) map[string]string {
	t := map[string]string{
		TagCluster:    o.Cluster,
		TagGateway:    o.Key(),
		TagGatewayUID: o.UID,
	}
	if resource != "" {
		t[TagResource] = resource
	}
	return t
}

// AllTags merges user tags under the ownership tags of resource: a user tag
// never replaces an ownership tag.
func (l *LoadBalancer) AllTags(resource string) map[string]string {
	t := make(map[string]string, len(l.Tags)+4)
	for k, v := range l.Tags {
		t[k] = v
	}
	for k, v := range l.Owner.Tags(resource) {
		t[k] = v
	}
	return t
}

// Scheme says who can reach the load balancer.
type Scheme string

// Schemes.
const (
	SchemeInternetFacing Scheme = "internet-facing"
	SchemeInternal       Scheme = "internal"
)

// Options are the provider options from LoadBalancerParameters, already merged
// (Gateway over GatewayClass). Zero values mean "provider default".
type Options struct {
	Scheme             Scheme        `json:"scheme,omitempty"`
	IPAddressType      string        `json:"ipAddressType,omitempty"` // ipv4 or dualstack
	IdleTimeout        time.Duration `json:"idleTimeout,omitempty"`
	DeletionProtection bool          `json:"deletionProtection,omitempty"`
	// Addresses are requested static IP addresses: the Gateway's
	// spec.addresses. Empty means the provider allocates one (or reads
	// its own section, as EmulatedOptions.Address).
	Addresses []string `json:"addresses,omitempty"`
	// AccessLogs, when set, asks for request logs in a bucket.
	AccessLogs *AccessLogs `json:"accessLogs,omitempty"`

	Emulated *EmulatedOptions `json:"emulated,omitempty"`
	AWS      *AWSOptions      `json:"aws,omitempty"`
	GCP      *GCPOptions      `json:"gcp,omitempty"`
}

// EmulatedOptions are options only the emulated cloud understands.
type EmulatedOptions struct {
	// Address is the IP the parameters ask for (emulated.address), used
	// when Options.Addresses is empty: the Gateway's own spec.addresses
	// are the more specific request.
	Address string `json:"address,omitempty"`
	// ResponseHeaders are added to every response the emulated proxy sends, which
	// lets a test see which parameters reached the data plane.
	ResponseHeaders map[string]string `json:"responseHeaders,omitempty"`
}

// AccessLogs asks for request logs.
type AccessLogs struct {
	Bucket string `json:"bucket"`
	Prefix string `json:"prefix,omitempty"`
}

// AWSOptions are ALB/NLB options (the parameters' aws section). Zero
// values mean the provider's default.
type AWSOptions struct {
	// Attributes and TargetGroupAttributes are raw ELBv2 attributes of
	// the load balancer and of every target group.
	Attributes            map[string]string `json:"attributes,omitempty"`
	TargetGroupAttributes map[string]string `json:"targetGroupAttributes,omitempty"`
	// Subnets replace the provider's configured or discovered ones.
	Subnets []string `json:"subnets,omitempty"`
	// SecurityGroups are attached as given; empty makes the provider
	// create and own one that admits SourceRanges on the listener ports,
	// and admit it on BackendSecurityGroup.
	SecurityGroups       []string `json:"securityGroups,omitempty"`
	SourceRanges         []string `json:"sourceRanges,omitempty"`
	BackendSecurityGroup string   `json:"backendSecurityGroup,omitempty"`
	SSLPolicy            string   `json:"sslPolicy,omitempty"`
	TargetType           string   `json:"targetType,omitempty"` // ip or instance
	// DeregistrationDelay is nil for the default (0 is a valid delay).
	DeregistrationDelay *time.Duration `json:"deregistrationDelay,omitempty"`
	// Quotas are the account's raised quotas; zero fields keep AWS's
	// defaults.
	Quotas Quotas `json:"quotas,omitzero"`
}

// Quotas are cloud account quotas, which an account may have raised above
// a provider's defaults. Zero means the default.
type Quotas struct {
	RulesPerLoadBalancer        int `json:"rulesPerLoadBalancer,omitempty"`
	CertificatesPerLoadBalancer int `json:"certificatesPerLoadBalancer,omitempty"`
	TargetGroupsPerLoadBalancer int `json:"targetGroupsPerLoadBalancer,omitempty"`
	ListenersPerLoadBalancer    int `json:"listenersPerLoadBalancer,omitempty"`
}

// GCPOptions are GCP load balancer options. Filled in by the GCP provider's issue.
type GCPOptions struct {
	Region string `json:"region,omitempty"`
}

// Listener is one port of the load balancer.
type Listener struct {
	// Name is a stable logical id, e.g. "http-80".
	Name     string   `json:"name"`
	Port     int32    `json:"port"`
	Protocol Protocol `json:"protocol"`
	// VirtualHosts, most specific hostname first (exact hostnames, then wildcards
	// by length, then the catch-all ""). Only HTTP and HTTPS use them. Their
	// Rules together are at most Capabilities.MaxRulesPerListener, and the
	// distinct Certificates of a Listener's VirtualHosts or Streams at most
	// MaxCertificatesPerListener.
	VirtualHosts []VirtualHost `json:"virtualHosts,omitempty"`
	// Streams carry a TCP, UDP or TLS listener's connections (HTTP and HTTPS
	// listeners have none). TLS: a connection goes to the first Stream whose
	// Hostname matches its SNI server name, so Streams are ordered most
	// specific first, as VirtualHosts are. TCP and UDP: the first Stream takes
	// every connection (or datagram flow).
	Streams []Stream `json:"streams,omitempty"`
	// ClientValidation, on an HTTPS listener only, asks every client for a
	// certificate during the handshake and checks it against CA bundles
	// (the Gateway's spec.tls.frontend; Capabilities.ClientValidation).
	// It is per port, as the Gateway API's per-port configuration is: every
	// VirtualHost of the listener shares it. Nil asks for none.
	ClientValidation *ClientValidation `json:"clientValidation,omitempty"`
}

// ClientValidation is mutual TLS on a listener: the trust anchors client
// certificates are checked against, and what happens to a client without a
// valid one.
type ClientValidation struct {
	// CABundles are the trust anchors, at least one: a client certificate
	// is valid when it chains to a certificate of any of them.
	CABundles []CABundle `json:"caBundles"`
	// Mode says whether a client without a valid certificate is let in.
	Mode ClientValidationMode `json:"mode"`
}

// CABundle is a PEM bundle of one or more CA certificates.
type CABundle struct {
	// Name is a stable logical id: the ConfigMap's "namespace/name".
	Name string `json:"name"`
	// PEM holds CERTIFICATE blocks; CA certificates are public.
	PEM []byte `json:"pem"`
}

// ClientValidationMode says how a listener treats a client certificate
// that is missing or does not verify.
type ClientValidationMode string

// Client validation modes, as the Gateway API names them.
const (
	// ClientValidationAllowValidOnly completes the handshake only with a
	// client that presents a certificate that chains to CABundles.
	ClientValidationAllowValidOnly ClientValidationMode = "AllowValidOnly"
	// ClientValidationAllowInsecureFallback asks for a certificate but
	// lets every client in, with a valid certificate, an invalid one or
	// none, leaving authorization to the backends
	// (Capabilities.ClientValidationInsecureFallback).
	ClientValidationAllowInsecureFallback ClientValidationMode = "AllowInsecureFallback"
)

// Stream is where a layer-4 listener sends a connection: a TCPRoute, UDPRoute
// or TLSRoute rule.
type Stream struct {
	// Name is a stable logical id, e.g. "ns/route/rule-0/host".
	Name string `json:"name"`
	// Hostname is the SNI pattern this Stream serves on a TLS listener: an
	// exact name, a wildcard "*.example.com", or "" for any (including no
	// SNI). TCP and UDP listeners ignore it.
	Hostname string `json:"hostname,omitempty"`
	// Certificates, when set on a TLS listener, terminate TLS at the load
	// balancer (Gateway listener TLS mode Terminate) and the backends get the
	// plain bytes; empty passes the TLS connection through untouched.
	Certificates []Certificate `json:"certificates,omitempty"`
	// Backends share the connections by weight. A share with no TargetGroup
	// (an invalid backend reference) has its connections closed at once.
	Backends []WeightedBackend `json:"backends,omitempty"`
}

// VirtualHost is the part of a Listener that serves one hostname pattern: a
// Gateway listener's hostname.
type VirtualHost struct {
	// Hostname is an exact name, a wildcard "*.example.com", or "" for any host.
	Hostname string `json:"hostname,omitempty"`
	// Certificates serve TLS for this VirtualHost when the Listener is HTTPS; the
	// first one whose names fit the SNI server name is used, else the first.
	Certificates []Certificate `json:"certificates,omitempty"`
	// Rules in precedence order. A request no Rule matches gets 404.
	Rules []Rule `json:"rules,omitempty"`
}

// Certificate is what a listener serves TLS with: either a PEM-encoded
// certificate chain and private key (from a Secret), or a reference to a
// certificate the cloud already holds. Exactly one of the two is set.
type Certificate struct {
	// Name is a stable logical id: the Secret's "namespace/name", or the
	// reference's ID (an ARN starts with "arn:" and a GCP name has no "/",
	// so neither can be a Secret's name).
	Name string `json:"name"`
	// CertPEM and KeyPEM hold the chain and key. Keys are secret: never log them.
	CertPEM []byte `json:"certPEM,omitempty"`
	KeyPEM  []byte `json:"keyPEM,omitempty"`
	// Ref names a certificate of the cloud's; only a provider whose
	// Capabilities.CertificateRefs lists its kind is given one.
	Ref *CertificateRef `json:"ref,omitempty"`
}

// CertificateRefKind says what a CertificateRef's ID names.
type CertificateRefKind string

// Kinds of certificate reference, one per cloud that has them.
const (
	// CertificateRefACM is an AWS Certificate Manager (or IAM server)
	// certificate ARN, from parameters' aws.certificateARNs.
	CertificateRefACM CertificateRefKind = "ACM"
	// CertificateRefGCP is a Compute Engine SSL certificate name (in the
	// load balancer's region when Options.GCP.Region is set, else global),
	// from parameters' gcp.sslCertificates.
	CertificateRefGCP CertificateRefKind = "GCPSSLCertificate"
)

// CertificateRef names a certificate the cloud holds; the provider serves
// it as it is (no key material passes through Cloudgate).
type CertificateRef struct {
	Kind CertificateRefKind `json:"kind"`
	ID   string             `json:"id"`
}

// Rule is a match and what to do with the requests it matches.
type Rule struct {
	// Name is a stable logical id, e.g. "ns/route/rule-0/match-1/host". It stays
	// the same while the route's rule stays the same, so providers can keep the
	// cloud rule (and its priority) across unrelated changes.
	Name   string `json:"name"`
	Match  Match  `json:"match"`
	Action Action `json:"action"`
}

// Match is the conjunction of conditions on a request. Empty fields match all.
type Match struct {
	// Hostname is an exact name or a wildcard "*.example.com"; "" matches any
	// host the VirtualHost accepts.
	Hostname string        `json:"hostname,omitempty"`
	Path     *PathMatch    `json:"path,omitempty"`
	Method   string        `json:"method,omitempty"`
	Headers  []HeaderMatch `json:"headers,omitempty"`
	Query    []QueryMatch  `json:"query,omitempty"`
}

// MatchType says how a value is compared.
type MatchType string

// Match types. Prefix applies to paths only.
const (
	MatchExact  MatchType = "Exact"
	MatchPrefix MatchType = "Prefix" // path prefix by whole segments: /foo matches /foo/bar, not /foobar
	MatchRegex  MatchType = "Regex"  // RE2 syntax, anchored: the whole value must match
)

// PathMatch compares the request path.
type PathMatch struct {
	Type  MatchType `json:"type"`
	Value string    `json:"value"`
}

// HeaderMatch compares one request header; names are case-insensitive.
// A match named Host (any case) compares the request's host as the client
// sent it (HTTP/1.1 Host, HTTP/2 :authority, with any port), which some
// servers (Go's net/http) keep apart from the other headers.
type HeaderMatch struct {
	Name  string    `json:"name"`
	Type  MatchType `json:"type"`
	Value string    `json:"value"`
}

// QueryMatch compares one query parameter; names are case-sensitive.
type QueryMatch struct {
	Name  string    `json:"name"`
	Type  MatchType `json:"type"`
	Value string    `json:"value"`
}

// Action is what a Rule does with a request. Exactly one of Forward,
// FixedResponse and Redirect is set; the modifiers apply on the way.
type Action struct {
	Forward       []WeightedBackend `json:"forward,omitempty"`
	FixedResponse *FixedResponse    `json:"fixedResponse,omitempty"`
	Redirect      *Redirect         `json:"redirect,omitempty"`

	// RequestHeaders changes the request before it is forwarded.
	RequestHeaders *HeaderModifier `json:"requestHeaders,omitempty"`
	// ResponseHeaders changes the response (including a redirect's) before
	// the client sees it.
	ResponseHeaders *HeaderModifier `json:"responseHeaders,omitempty"`
	// Rewrite changes the forwarded request's host and path.
	Rewrite *Rewrite `json:"rewrite,omitempty"`
	// Mirrors receive a copy of matching requests; their responses are
	// discarded and their failures never affect the client. At most
	// Capabilities.MaxMirrorsPerRule.
	Mirrors []Mirror `json:"mirrors,omitempty"`
	// Timeouts bound the request; zero means no limit. Past a limit the client
	// gets 504.
	Timeouts *Timeouts `json:"timeouts,omitempty"`
	// Retry sends a forwarded request again after a failed attempt; nil
	// sends it once. Only a Forward action has one.
	Retry *Retry `json:"retry,omitempty"`
	// CORS answers the rule's CORS preflight requests at the load balancer
	// and adds CORS headers to the responses of its other requests, with
	// any of the three actions (Capabilities.CORS).
	CORS *CORS `json:"cors,omitempty"`
	// SessionPersistence pins each client's requests to one target
	// (Capabilities.SessionPersistence); only a Forward action has one,
	// and its target groups carry the same (sessions.go).
	SessionPersistence *SessionPersistence `json:"sessionPersistence,omitempty"`
	// InvalidBackendStatus is the HTTP status that the share of invalid
	// backends (a Forward entry without TargetGroup) is answered with: 0
	// means 500, an HTTPRoute's; mapping sets 503 on a GRPCRoute's rules,
	// which gRPC clients read as UNAVAILABLE, as the API asks (the fixed
	// response of a GRPCRoute rule with no valid backend is 503 too).
	// 500 to 599.
	InvalidBackendStatus int `json:"invalidBackendStatus,omitempty"`
}

// CORS is a rule's Cross-Origin Resource Sharing policy (the Gateway API's
// HTTPCORSFilter), which the load balancer enforces itself:
//   - A preflight request (OPTIONS with Origin and
//     Access-Control-Request-Method headers) is answered without reaching a
//     backend, with an OK status (200 or 204). From an allowed origin the
//     answer carries Access-Control-Allow-Origin (that origin),
//     -Allow-Methods and -Allow-Headers (as below), -Expose-Headers,
//     -Max-Age and, with AllowCredentials, -Allow-Credentials: true; from
//     any other origin none of them.
//   - Any other request from an allowed origin gets
//     Access-Control-Allow-Origin, -Expose-Headers and, with
//     AllowCredentials, -Allow-Credentials on its response, whatever the
//     action answers (a backend, a redirect, a fixed response). Requests
//     from other origins, or with no Origin, are served unchanged.
//
// The Action's ResponseHeaders apply after, preflight answers included.
// Browsers read "*" literally on credentialed requests, so the API
// forbids answering it with AllowCredentials: a "*" in AllowMethods or
// AllowHeaders is answered "*" without AllowCredentials and with it
// echoes the preflight's Access-Control-Request-Method or -Headers; a
// "*" in ExposeHeaders is answered "*" without AllowCredentials and with
// it lists the response's own header names (a preflight answer leaves it
// out).
type CORS struct {
	// AllowOrigins are the origins allowed, as the Gateway API writes them
	// (ValidCORSOrigin): "*" alone allows every origin; otherwise
	// "scheme://host[:port]" with scheme http or https, and host a name, an
	// IPv4 address, "*" (any host) or "*." then a name (any host ending in
	// "." and that name: one label or more). A port left out is the
	// scheme's (80, 443), so "https://a.example" and
	// "https://a.example:443" are one origin. Schemes and hosts compare
	// case-insensitively. The opaque origin "null" is never allowed:
	// sandboxed documents of any site send it. Empty allows no origin.
	AllowOrigins []string `json:"allowOrigins,omitempty"`
	// AllowMethods are the methods a preflight allows (tokens, case
	// sensitive), or "*" alone. Empty sends no Access-Control-Allow-Methods,
	// which allows the CORS-safelisted GET, HEAD and POST only.
	AllowMethods []string `json:"allowMethods,omitempty"`
	// AllowHeaders are the request headers a preflight allows (tokens,
	// case-insensitive), or "*" alone.
	AllowHeaders []string `json:"allowHeaders,omitempty"`
	// ExposeHeaders are the response headers scripts may read besides the
	// CORS-safelisted ones (tokens, case-insensitive); "*" means all.
	ExposeHeaders []string `json:"exposeHeaders,omitempty"`
	// MaxAge is how long a client may cache a preflight's answer, in whole
	// seconds from one second to MaxCORSMaxAge (mapping gives the API's
	// default, 5s, when the filter sets none).
	MaxAge time.Duration `json:"maxAge"`
	// AllowCredentials lets the client send credentials (cookies, TLS
	// client certificates, authorization) with its requests.
	AllowCredentials bool `json:"allowCredentials,omitempty"`
}

// MaxCORSMaxAge bounds CORS.MaxAge: the API's int32 of seconds.
const MaxCORSMaxAge = (1<<31 - 1) * time.Second

// WeightedBackend is one share of a forward action. A request picks a backend
// with probability Weight / sum of weights.
type WeightedBackend struct {
	// TargetGroup is the Name of a TargetGroup in the LoadBalancer. Empty means
	// the backend reference was invalid: this share of requests gets HTTP 500
	// (Action.InvalidBackendStatus).
	TargetGroup string `json:"targetGroup,omitempty"`
	Weight      int32  `json:"weight"`
	// RequestHeaders and ResponseHeaders apply only to requests sent to this
	// backend, after the Action's own modifiers (Capabilities.
	// BackendHeaderModifier).
	RequestHeaders  *HeaderModifier `json:"requestHeaders,omitempty"`
	ResponseHeaders *HeaderModifier `json:"responseHeaders,omitempty"`
	// Rewrite changes requests sent to this backend only
	// (Capabilities.BackendURLRewrite). Each field it sets replaces the
	// Action's Rewrite of that field; a path is rewritten from the
	// request's own path, since the rule's match (which a prefix rewrite
	// replaces) matched that path.
	Rewrite *Rewrite `json:"rewrite,omitempty"`
}

// FixedResponse answers without a backend (Capabilities.FixedResponse).
type FixedResponse struct {
	StatusCode int `json:"statusCode"`
}

// HeaderModifier sets, adds and removes headers, in that order. Names are
// case-insensitive, and mapping never names one header in two of the lists
// (nor twice in one), so the order cannot change the result. On a request,
// a Set of Host (any case; mapping allows no Add or Remove of it) sets the
// forwarded request's host, not a header map entry.
type HeaderModifier struct {
	// Set replaces every value of the header.
	Set []Header `json:"set,omitempty"`
	// Add appends a value, keeping existing ones.
	Add []Header `json:"add,omitempty"`
	// Remove deletes the headers.
	Remove []string `json:"remove,omitempty"`
}

// Header is one header name and value.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Redirect answers with a redirect built from the request. Empty fields keep
// the request's value.
type Redirect struct {
	Scheme   string `json:"scheme,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	// Port is the redirect's port. Zero derives it as the Gateway API says:
	// the well-known port of Scheme when Scheme is set, otherwise the
	// listener's port. Ports 80 for http and 443 for https are left out of
	// the Location header. Another port than the one zero derives from
	// Scheme needs Capabilities.RedirectPort.
	Port int32 `json:"port,omitempty"`
	// Path of type RewritePrefix needs Capabilities.PrefixRedirect.
	Path *PathRewrite `json:"path,omitempty"`
	// StatusCode is one of Capabilities.RedirectStatusCodes.
	StatusCode int `json:"statusCode"`
}

// Rewrite changes the forwarded request. Empty fields keep the request's value.
type Rewrite struct {
	Hostname string `json:"hostname,omitempty"`
	// Path of type RewritePrefix needs Capabilities.PrefixRewrite; of
	// type RewriteFullPath, on a rule whose path match is not Exact,
	// Capabilities.FullPathRewriteOnAnyMatch.
	Path *PathRewrite `json:"path,omitempty"`
}

// PathRewriteType says how a path is rewritten.
type PathRewriteType string

// Path rewrite types.
const (
	// RewriteFullPath replaces the whole path with Value.
	RewriteFullPath PathRewriteType = "FullPath"
	// RewritePrefix replaces the part the rule's Prefix path match matched
	// with Value, keeping the rest of the path.
	RewritePrefix PathRewriteType = "Prefix"
)

// PathRewrite is a new path, or a new prefix.
type PathRewrite struct {
	Type  PathRewriteType `json:"type"`
	Value string          `json:"value"`
}

// Mirror sends a copy of a share of the requests to a TargetGroup.
type Mirror struct {
	TargetGroup string `json:"targetGroup"`
	// Percent of requests mirrored, 0 to 100. 100 mirrors all.
	Percent float64 `json:"percent"`
}

// Timeouts bound a request's time.
type Timeouts struct {
	// Request bounds the whole exchange with the client
	// (Capabilities.RequestTimeout).
	Request time.Duration `json:"request,omitempty"`
	// Backend bounds one request to a backend (Capabilities.BackendTimeout).
	Backend time.Duration `json:"backend,omitempty"`
}

// Retry says when a forwarded request is sent again, to the next target
// of the backend (TargetGroup) the first attempt went to, and how often.
// An attempt is retried when:
//   - its connection could not be established (refused, unreachable,
//     connect timeout, TLS handshake failure): nothing reached the backend,
//     so any request is retried;
//   - the backend answered with one of Codes;
//   - the backend did not answer within Timeouts.Backend, which counts as
//     the 504 the client would get: retried when Codes lists 504;
//   - the connection failed after the request was sent but before any
//     answer, and the request is safe to repeat (GET, HEAD, OPTIONS or
//     TRACE without a body). Anything else may have been processed and is
//     not retried.
//
// Timeouts.Request bounds every attempt and every wait together (504 when
// it expires); Timeouts.Backend bounds each attempt. When the last attempt
// fails the client gets its answer (or 502, or 504). A provider may send a
// request only once when it cannot replay it (a body too large to hold).
type Retry struct {
	// Attempts is the number of retries after the first attempt, 1 to
	// MaxRetryAttempts (mapping leaves out a Retry of zero attempts).
	Attempts int `json:"attempts"`
	// Codes are the response status codes that are retried, 400 to 599,
	// sorted and unique. Empty retries only the failures above.
	Codes []int `json:"codes,omitempty"`
	// Backoff is the base interval of the wait before a retry; the
	// provider's strategy may grow it for later retries, cap it (not below
	// the base) and add jitter. Zero retries at once. Nil means the
	// provider's own default; only a provider whose Capabilities set
	// RetryBackoff is given one.
	Backoff *time.Duration `json:"backoff,omitempty"`
}

// MaxRetryAttempts bounds Retry.Attempts, so that a request cannot be
// retried without end behind a backend that never answers.
const MaxRetryAttempts = 100

// TargetGroup is a set of endpoints that serve one Service port.
type TargetGroup struct {
	// Name is a stable logical id: "namespace/service:port", with a
	// "/grpc" suffix for the group that GRPCRoutes use (always H2C), so a
	// Service port that HTTPRoutes and GRPCRoutes both name gets two groups,
	// then a "/session-<hash>" suffix for a group that carries
	// SessionPersistence.
	Name string `json:"name"`
	// Protocol is how the load balancer talks to the targets: HTTP (which
	// includes WebSocket upgrades), HTTPS (TLS that nothing configures
	// or verifies; mapping never asks for it) or H2C for HTTP listeners;
	// TCP or UDP for Streams (TLS passthrough and terminated TLS use TCP).
	// TLS below wraps HTTP, H2C and TCP.
	Protocol Protocol `json:"protocol"`
	Targets  []Target `json:"targets,omitempty"`
	// HealthCheck says how the load balancer probes the targets; nil is
	// the provider's default. Providers whose data plane does not probe
	// (the emulated one: EndpointSlice readiness decides) carry it as is.
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
	// SessionPersistence is the session every Action forwarding to the
	// group asks for, for providers whose stickiness belongs to the group;
	// nil for a group no persistent Action uses (sessions.go).
	SessionPersistence *SessionPersistence `json:"sessionPersistence,omitempty"`
	// TLS, when set, has the load balancer open TLS to every target (a
	// BackendTLSPolicy; Capabilities.BackendTLS), and Protocol says what
	// runs inside it: HTTP is HTTPS (ALPN http/1.1), H2C is HTTP/2 over
	// TLS (ALPN h2: gRPC backends), TCP a TLS stream (TLSRoutes in mode
	// Terminate). Nil speaks Protocol in the clear.
	TLS *BackendTLS `json:"tls,omitempty"`
}

// BackendTLS is how the load balancer opens TLS to a target group's
// targets and what it checks of them. A target whose certificate does not
// verify is not connected to: its requests get a 5xx answer.
type BackendTLS struct {
	// Policy is the "namespace/name" of the BackendTLSPolicy it comes
	// from (for messages and plans).
	Policy string `json:"policy"`
	// ServerName is sent as the SNI server name, and is the name the
	// target's certificate must be valid for when SubjectAltNames is
	// empty.
	ServerName string `json:"serverName"`
	// CABundles are the trust anchors the target's chain must verify to;
	// with SystemRoots instead, the data plane's well-known public roots
	// (wellKnownCACertificates "System"). Exactly one of the two is set.
	CABundles   []CABundle `json:"caBundles,omitempty"`
	SystemRoots bool       `json:"systemRoots,omitempty"`
	// SubjectAltNames, when set, replace the ServerName check: the
	// certificate must carry one of them (Capabilities.BackendTLSVerify
	// covers them).
	SubjectAltNames []SubjectAltName `json:"subjectAltNames,omitempty"`
	// ClientCertificate, when set, is presented to targets that ask for
	// one (the Gateway's spec.tls.backend;
	// Capabilities.BackendClientCertificate). Its key is secret.
	ClientCertificate *Certificate `json:"clientCertificate,omitempty"`
}

// SubjectAltName is one name a target's certificate may carry: exactly one
// of Hostname (a DNS name, or a wildcard "*.example.com" that must appear
// as such in the certificate) and URI (a SPIFFE id, say).
type SubjectAltName struct {
	Hostname string `json:"hostname,omitempty"`
	URI      string `json:"uri,omitempty"`
}

// HealthCheck configures the probes of a TargetGroup's targets. Zero fields
// are the provider's defaults; a provider that fills in Interval or Timeout
// keeps Timeout below Interval.
type HealthCheck struct {
	// Protocol of the probe: HTTP, HTTPS or TCP (a connection that opens
	// is healthy). Empty is the provider's default for the group's
	// protocol (UDP cannot be probed as such: providers probe UDP groups
	// over TCP, or as they document).
	Protocol Protocol `json:"protocol,omitempty"`
	// Path is the request path of HTTP and HTTPS probes (TCP probes
	// ignore it, and Protocol TCP allows none); empty is the provider's
	// default, "/".
	Path string `json:"path,omitempty"`
	// Port probed; 0 probes each target on its own port.
	Port int32 `json:"port,omitempty"`
	// Interval between two probes of a target, MinHealthCheckInterval to
	// MaxHealthCheckInterval.
	Interval time.Duration `json:"interval,omitempty"`
	// Timeout of one probe, MinHealthCheckTimeout to MaxHealthCheckTimeout,
	// and below Interval.
	Timeout time.Duration `json:"timeout,omitempty"`
	// HealthyThreshold and UnhealthyThreshold are how many probes in a row
	// make a target healthy or unhealthy, MinHealthCheckThreshold to
	// MaxHealthCheckThreshold.
	HealthyThreshold   int `json:"healthyThreshold,omitempty"`
	UnhealthyThreshold int `json:"unhealthyThreshold,omitempty"`
	// SuccessCodes are the status codes of a healthy HTTP or HTTPS answer,
	// as sorted, disjoint ranges within 200-499, used as Path is; empty is
	// the provider's default (200, or 200-399). Anything but 200 alone
	// needs Capabilities.HealthCheckSuccessCodes.
	SuccessCodes []CodeRange `json:"successCodes,omitempty"`
}

// CodeRange is the status codes From to To, both included.
type CodeRange struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// Bounds of HealthCheck: what every provider accepts (ALB's are the
// narrowest).
const (
	MinHealthCheckInterval  = 5 * time.Second
	MaxHealthCheckInterval  = 300 * time.Second
	MinHealthCheckTimeout   = 2 * time.Second
	MaxHealthCheckTimeout   = 120 * time.Second
	MinHealthCheckThreshold = 2
	MaxHealthCheckThreshold = 10
)

// Target is one endpoint. IP and Port identify it: a TargetGroup holds
// each IP:Port once.
type Target struct {
	IP   string `json:"ip"`
	Port int32  `json:"port"`
	// Zone is the zone the EndpointSlice endpoint reports (endpoints[].zone,
	// which the EndpointSlice controller sets from the node's
	// topology.kubernetes.io/zone label); empty when the slice does not
	// say. Providers that group targets by zone (GCP's zonal network
	// endpoint groups) need it; the others ignore it.
	Zone string `json:"zone,omitempty"`
	// Node is the name of the node the endpoint runs on (endpoints[].nodeName);
	// empty when the slice does not say. On GKE it is the VM instance's
	// name, which GCP's GCE_VM_IP_PORT network endpoints must carry; the
	// other providers ignore it.
	Node string `json:"node,omitempty"`
}
