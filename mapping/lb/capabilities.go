package lb

// Capabilities say which parts of the model a provider can realize. mapping
// takes them as input: a route or listener asking for something its provider
// lacks is reported on that object, naming the feature and the provider, and is
// left out of the model instead of being half-applied.
//
// A provider declares everything it realizes: a flag left false (or a set
// left empty) is a feature mapping never puts in its models. Limits (the
// Max fields) are 0 for no limit.
type Capabilities struct {
	// Provider names the provider in messages, e.g. "emulated".
	Provider string
	// Protocols the provider's listeners can carry.
	Protocols map[Protocol]bool
	// PathMatch lists the path match types it supports.
	PathMatch map[MatchType]bool
	// HeaderMatch and QueryMatch list the header and query match types; an empty
	// map means that kind of condition is not supported at all.
	HeaderMatch map[MatchType]bool
	QueryMatch  map[MatchType]bool
	// QueryMatchIgnoresCase says that the provider's Exact query matches
	// compare names and values ignoring case (as ALB's do), where the
	// model asks for an exact comparison. Such matches are still realized
	// (a value in the expected case matches), but the Gateway API's query
	// matching feature, whose tests tell cases apart, is not claimed.
	QueryMatchIgnoresCase bool
	// MethodMatch says whether rules can match the HTTP method.
	MethodMatch bool
	// InvalidBackendShare says whether a weighted forward can send part of the
	// traffic to an HTTP 500 answer (needed for invalid backend references next
	// to valid ones). Without it such a rule answers 500 for all its traffic,
	// which needs FixedResponse.
	InvalidBackendShare bool
	// FixedResponse says whether an Action can answer by itself
	// (Action.FixedResponse): mapping answers a rule with no valid backend
	// with 500 (503 for gRPC), as the Gateway API asks. Without it such a
	// route is refused, since leaving the rule out would answer 404.
	FixedResponse bool
	// RequestHeaderModifier, ResponseHeaderModifier, Redirect, Rewrite and
	// Mirror say which parts of Action the provider realizes.
	RequestHeaderModifier  bool
	ResponseHeaderModifier bool
	// BackendHeaderModifier says whether WeightedBackend.RequestHeaders and
	// ResponseHeaders are realized (each also needs the Action-level flag
	// above of its direction).
	BackendHeaderModifier bool
	// BackendURLRewrite says whether WeightedBackend.Rewrite is realized
	// (its parts also need Rewrite, PrefixRewrite and
	// FullPathRewriteOnAnyMatch as an Action's Rewrite does).
	BackendURLRewrite bool
	// Redirect covers Redirect's scheme, hostname and full path;
	// RedirectStatusCodes lists the status codes it may answer with (of
	// 301, 302, 303, 307 and 308), and PrefixRedirect whether Redirect.Path
	// may be of type RewritePrefix.
	Redirect            bool
	RedirectStatusCodes map[int]bool
	PrefixRedirect      bool
	// RedirectPort says whether Redirect.Port may name any port. Without
	// it the only port allowed is the one a zero Port derives anyway (80
	// for Scheme http, 443 for https), since a cloud whose redirects keep
	// the request's port or use the scheme's (as GCP's do) has nowhere to
	// put another.
	RedirectPort bool
	// Rewrite covers Rewrite's hostname, and its full path on rules whose
	// path match is Exact; PrefixRewrite whether Rewrite.Path may be of
	// type RewritePrefix.
	Rewrite       bool
	PrefixRewrite bool
	// FullPathRewriteOnAnyMatch says whether a Rewrite.Path of type
	// RewriteFullPath may go on a rule whose path match is not Exact
	// (Prefix, Regex). A cloud that rewrites only the part of the path its
	// match matched (as GCP does) replaces the whole path on exact matches
	// alone.
	FullPathRewriteOnAnyMatch bool

	Mirror bool
	// MirrorPercent says whether a Mirror may carry less than 100 percent.
	MirrorPercent bool
	// RequestTimeout and BackendTimeout say whether Timeouts.Request and
	// Timeouts.Backend are realized.
	RequestTimeout bool
	BackendTimeout bool
	// Retry says whether a Forward action can carry a Retry, with every
	// semantics lb.Retry gives it; RetryBackoff whether Retry.Backoff is
	// honoured as the base interval of the wait between attempts (a
	// provider that retries at once, or on a schedule of its own, must
	// not set it: the Gateway API forbids it to claim backoff).
	Retry        bool
	RetryBackoff bool
	// CORS says whether Action.CORS is realized, with every semantics
	// lb.CORS gives it: preflights answered by the load balancer itself
	// (a cloud that can only add headers to responses cannot), and the
	// headers added to other responses from allowed origins only.
	CORS bool
	// SessionPersistence says which Action.SessionPersistence the
	// provider carries (lb/sessions.go); its zero value carries none.
	SessionPersistence SessionPersistenceCapabilities
	// StaticAddresses says whether the provider gives the load balancer
	// the address Options.Addresses requests (the Gateway's
	// spec.addresses), and refuses one it cannot give (outside its range,
	// taken) with providers.ErrAddressNotUsable, which the Gateway
	// reports as Programmed=False, AddressNotUsable. mapping passes the
	// addresses to every provider; the flag only claims the Gateway API
	// features GatewayStaticAddresses and GatewayAddressEmpty, whose tests
	// need both halves.
	StaticAddresses bool
	// MisdirectedRequests says whether an HTTPS listener answers 421 when a
	// request's Host selects another VirtualHost than its SNI name did.
	MisdirectedRequests bool
	// TCPUDPSharedPort says whether a TCP and a UDP listener may share a
	// port number (Gateway API "compatible" listeners): the model then has
	// both Listeners on that port. Without it they conflict.
	TCPUDPSharedPort bool
	// TLSTerminate says whether a TLS listener can terminate TLS and forward
	// the plain stream (TLSRoute on a listener in mode Terminate); passthrough
	// needs only Protocols[TLS].
	TLSTerminate bool
	// TLSIgnoresServerName says that a TLS listener forwards every
	// connection to one destination whatever server name (SNI) the client
	// asks for: it cannot pick a Stream by Hostname, nor refuse a name no
	// Stream serves (an NLB's listener has one default action). mapping
	// then claims no TLSRoute feature, whose Core tests need both, and
	// tells each TLSRoute it serves (ConditionServerNameEnforced).
	TLSIgnoresServerName bool
	// CertificateRefs lists the kinds of Certificate.Ref the provider
	// serves (certificates the cloud already holds). Empty means it takes
	// PEM certificates only; mapping then reports references given in the
	// parameters on every listener that would serve them.
	CertificateRefs map[CertificateRefKind]bool
	// ClientValidation says whether an HTTPS Listener can carry a
	// ClientValidation of mode AllowValidOnly: ask each client for a
	// certificate and refuse the handshake unless it chains to the CA
	// bundles. ClientValidationInsecureFallback says whether it can also
	// carry mode AllowInsecureFallback (ask, but let every client in).
	// Without them mapping refuses the HTTPS listeners that ask for
	// validation (serving them without would skip the authentication the
	// user asked for).
	ClientValidation                 bool
	ClientValidationInsecureFallback bool
	// BackendTLS says whether a TargetGroup may carry TLS (lb.BackendTLS):
	// the load balancer opens TLS to the targets of HTTP, H2C and TCP
	// groups, sending ServerName as SNI. BackendTLSVerify says whether it
	// also verifies every target's certificate as BackendTLS asks (chain
	// to CABundles or SystemRoots, then ServerName or one of
	// SubjectAltNames); without it the connection is encrypted but the
	// backend's identity unchecked, which mapping reports on the
	// BackendTLSPolicy. BackendClientCertificate says whether
	// BackendTLS.ClientCertificate is presented.
	BackendTLS               bool
	BackendTLSVerify         bool
	BackendClientCertificate bool
	// BackendProtocols lists the TargetGroup protocols it can speak.
	BackendProtocols map[Protocol]bool
	// HealthCheckSuccessCodes says whether HealthCheck.SuccessCodes may
	// list codes other than 200 alone. Without it SuccessCodes is empty
	// or 200: some clouds' HTTP probes (GCP's) count 200 as healthy and
	// nothing else.
	HealthCheckSuccessCodes bool
	// GRPC lists the Listener protocols on which the provider carries gRPC:
	// it accepts HTTP/2 from clients there (prior knowledge on HTTP, ALPN
	// "h2" on HTTPS) and keeps HTTP/2 all the way to H2C target groups. gRPC
	// needs HTTP/2 end to end, which HTTP/1.1 listeners and ProtocolHTTP
	// target groups do not promise; a provider may manage it on HTTPS only
	// (as ALB does), hence a set rather than a flag.
	GRPC map[Protocol]bool

	// Limits. Going over one refuses what does not fit, never the whole
	// load balancer: the routes (or listeners) concerned get a condition,
	// the lowest in precedence first, and everything else is served.

	// MaxRulesPerListener bounds the Rules over all VirtualHosts of one
	// Listener (Streams are not rules). A provider that spends cloud rules
	// of its own (a default rule per VirtualHost) declares what is left
	// for the model's.
	MaxRulesPerListener int
	// MaxConditionValuesPerRule bounds the values one Rule's Match
	// compares: one for the path, one for the method, one per header and
	// query match. Hostnames are the VirtualHost's and not counted: a
	// provider that spends a condition per rule on the host declares one
	// less.
	MaxConditionValuesPerRule int
	// MaxTargetGroupsPerAction bounds the distinct TargetGroups one
	// Action's Forward (or one Stream's Backends) names; mirrors are not
	// counted.
	MaxTargetGroupsPerAction int
	// MaxMirrorsPerRule bounds len(Action.Mirrors) (with Mirror set).
	MaxMirrorsPerRule int
	// MaxCertificatesPerListener bounds the distinct certificates (by
	// Certificate.Name) over all VirtualHosts or Streams of one Listener.
	MaxCertificatesPerListener int

	// Quotas are the account quotas, at their defaults, that the limits
	// above derive from (zero for a limit that derives from none). A
	// model's raised quotas (AWSOptions.Quotas) raise the limits that
	// derive from them by as much: see WithQuotas.
	Quotas Quotas

	// ParameterDefaults are the values the provider uses for
	// LoadBalancerParameters fields left unset, by the field's dotted path
	// ("aws.sslPolicy", "idleTimeout"), as the provider would print them.
	// Mapping only reports them (Result.Parameters, for describe); a field
	// whose default depends on more than the parameters (a health check's
	// on the target group's protocol) is left out.
	ParameterDefaults map[string]string
}

// WithQuotas returns c with the limits that derive from a quota raised by
// what raised adds to the default. Only quotas c declares are raised, and
// a raised value below the default changes nothing: a quota limits the
// account, it never makes the provider's own reserve smaller.
func (c Capabilities) WithQuotas(raised Quotas) Capabilities {
	grow := func(limit *int, def, to int) {
		if def > 0 && to > def && *limit > 0 {
			*limit += to - def
		}
	}
	grow(&c.MaxRulesPerListener, c.Quotas.RulesPerLoadBalancer, raised.RulesPerLoadBalancer)
	grow(&c.MaxCertificatesPerListener, c.Quotas.CertificatesPerLoadBalancer, raised.CertificatesPerLoadBalancer)
	for _, q := range []struct {
		def *int
		to  int
	}{
		{&c.Quotas.RulesPerLoadBalancer, raised.RulesPerLoadBalancer},
		{&c.Quotas.CertificatesPerLoadBalancer, raised.CertificatesPerLoadBalancer},
		{&c.Quotas.TargetGroupsPerLoadBalancer, raised.TargetGroupsPerLoadBalancer},
		{&c.Quotas.ListenersPerLoadBalancer, raised.ListenersPerLoadBalancer},
	} {
		if *q.def > 0 && q.to > *q.def {
			*q.def = q.to
		}
	}
	return c
}
