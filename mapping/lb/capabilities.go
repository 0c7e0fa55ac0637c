package lb

// Capabilities say which parts of the model a provider can realize. mapping
// takes them as input: a route or listener asking for something its provider
// lacks is reported on that object, naming the feature and the provider, and is
// left out of the model instead of being half-applied.
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
	// MethodMatch says whether rules can match the HTTP method.
	MethodMatch bool
	// InvalidBackendShare says whether a weighted forward can send part of the
	// traffic to an HTTP 500 answer (needed for invalid backend references next
	// to valid ones). Without it such a rule answers 500 for all its traffic.
	InvalidBackendShare bool
	// RequestHeaderModifier, ResponseHeaderModifier, Redirect, Rewrite,
	// Mirror and Timeouts say which parts of Action the provider realizes.
	RequestHeaderModifier  bool
	ResponseHeaderModifier bool
	Redirect               bool
	Rewrite                bool
	Mirror                 bool
	// MirrorPercent says whether a Mirror may carry less than 100 percent.
	MirrorPercent bool
	Timeouts      bool
	// Retry says whether a Forward action can carry a Retry, with every
	// semantics lb.Retry gives it; RetryBackoff whether Retry.Backoff is
	// honoured as the base interval of the wait between attempts (a
	// provider that retries at once, or on a schedule of its own, must
	// not set it: the Gateway API forbids it to claim backoff).
	Retry        bool
	RetryBackoff bool
	// MisdirectedRequests says whether an HTTPS listener answers 421 when a
	// request's Host selects another VirtualHost than its SNI name did.
	MisdirectedRequests bool
	// TLSTerminate says whether a TLS listener can terminate TLS and forward
	// the plain stream (TLSRoute on a listener in mode Terminate); passthrough
	// needs only Protocols[TLS].
	TLSTerminate bool
	// BackendProtocols lists the TargetGroup protocols it can speak.
	BackendProtocols map[Protocol]bool
	// GRPC lists the Listener protocols on which the provider carries gRPC:
	// it accepts HTTP/2 from clients there (prior knowledge on HTTP, ALPN
	// "h2" on HTTPS) and keeps HTTP/2 all the way to H2C target groups. gRPC
	// needs HTTP/2 end to end, which HTTP/1.1 listeners and ProtocolHTTP
	// target groups do not promise; a provider may manage it on HTTPS only
	// (as ALB does), hence a set rather than a flag.
	GRPC map[Protocol]bool
	// MaxRulesPerListener bounds the rules on one listener; 0 means no limit.
	MaxRulesPerListener int
}
