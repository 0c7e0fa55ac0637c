// Package mapping translates Gateway API objects into Cloudgate's
// provider-neutral load balancer model (package lb) and computes the status
// every object involved should get.
//
// Rules of this package:
//
//   - Build and BuildClass are pure: no I/O, no clock, no context, no globals
//     that change. The same Snapshot always gives the same Result, with every
//     list sorted, so the reconciler can compare results and skip writes.
//   - They never panic, whatever the input: nil fields, missing objects, bad
//     regular expressions. Bad input becomes a condition, never a crash
//     (FuzzBuild checks this, and the next rule, against the emulated
//     data plane's compile step).
//   - Imports: gateway-api types, Kubernetes API types (and apimachinery),
//     mapping/lb and api/ only. Providers never see Gateway API types; any rule
//     two providers would need lives here.
//   - Conditions use upstream types and reasons, carry the observed generation
//     of the object they are written on, and have static messages (names from
//     the spec are fine, counters and ids are not) so a repeated error does not
//     rewrite status. A message that lists problems is cut at
//     maxMessageBytes (1024) with "… and N more", and quotes user values
//     escaped and shortened.
//   - Every LoadBalancer Build returns passes lb.Validate and is accepted
//     by every provider: a user value some data plane would refuse is
//     refused here, on the route (or listener, or Gateway parameters) that
//     carries it. validate.go's header holds the table of every value
//     checked and its rule.
//
// Decisions worth knowing:
//
//   - Backstop (Snapshot.Refused, Result.Sources): Sources maps every
//     lb.Rule, lb.Stream and lb.TargetGroup name to the routes it came
//     from; when a provider refuses elements by name, the reconciler puts
//     those routes in Refused and builds again. A refused route is left out
//     and gets Accepted=False/UnsupportedValue on every parentRef naming the
//     Gateway, with "The cloud refused this route's configuration: " and
//     the reconciler's static message.
//   - Header filters: one filter may act on a header name once (set, add,
//     remove, case-insensitively), as the HTTPHeaderFilter API says; other
//     combinations are refused, so the data planes' set-add-remove order
//     never matters. A rule's and a backendRef's filters may name the same
//     header: the backendRef's applies after (lb.WeightedBackend).
//   - The Host header: a header match named Host (any case) is an
//     lb.HeaderMatch of that name, and a request header modifier's set of
//     Host an lb.HeaderModifier Set entry of that name, kept as written;
//     both act on the request's host (data planes read and write the
//     request's Host, not a header map entry). Adding or removing Host, or
//     setting it next to a URLRewrite hostname on one rule, is refused.
//   - Listeners on one port that terminate TLS with overlapping hostnames
//     all get OverlappingTLSConfig=True/OverlappingHostnames (a condition
//     present only when true). Listener filters (ExternalAuth,
//     ExtensionRef) make a listener Accepted=False/UnsupportedValue:
//     serving it without them would skip what they enforce.
//   - HTTP, HTTPS (TLS mode Terminate), TLS (Passthrough, and Terminate
//     where lb.Capabilities.TLSTerminate allows; otherwise
//     Accepted=False/UnsupportedValue), TCP and UDP listeners are served
//     when the provider lists the protocol; others get
//     Accepted=False/UnsupportedProtocol. TLS listeners take TLSRoutes,
//     TCP ones TCPRoutes, UDP ones UDPRoutes, and nothing else (a TLS
//     listener naming TCPRoute gets InvalidRouteKinds, as conformance
//     asks). TCP and UDP ignore listener hostnames.
//   - One lb.Listener per port, so TCP and UDP (or HTTPS and TLS) on one
//     port are a ProtocolConflict, as are two TCP or two UDP listeners on
//     one port; TLS listeners in Passthrough and Terminate modes share a
//     port (certificates are per lb.Stream), which is TLSRouteModeMixed,
//     unless lb.Capabilities.TLSIgnoresServerName: a provider that cannot
//     tell connections apart by SNI (an NLB) gets both listeners
//     Accepted=False/ProtocolConflict, claims no TLSRoute feature, and its
//     TLSRoutes carry ConditionServerNameEnforced=False.
//   - TLSRoutes, TCPRoutes and UDPRoutes share the kind-neutral route path
//     (attachment, ReferenceGrants with their own kind in From, backends,
//     status). Their one rule becomes an lb.Stream "ns/route/rule-0[/host]"
//     whose backends go to target groups "ns/svc:port/tcp" or ".../udp"
//     (TLS forwards over TCP); the Service port's protocol must be that
//     transport, else UnsupportedProtocol. An invalid backend keeps its
//     share with no target group (those connections are closed). A route
//     with more than one rule (possible through v1alpha2) is
//     UnsupportedValue. TCP/UDP: every route attached to a listener is
//     Accepted and counted, only the oldest (then first by the string
//     "{namespace}/{name}") gets the Stream, as the conformance tests ask. TLS: a Stream per hostname
//     the route serves on a listener, most specific first, with the
//     listener's certificates in mode Terminate; hostnames a more specific
//     listener on the port covers are dropped, and of two routes with one
//     hostname the one whose own hostname is the more specific keeps it,
//     then the older.
//   - Hostname precedence (HTTPRoute, GRPCRoute, TLSRoute) ranks the
//     effective hostname (the listener/route intersection), then, where
//     two routes intersect a listener to the same name, the route's own
//     spec.hostnames entry behind it (the most specific that covers the
//     name; none counts as any host, the least specific), each by more
//     characters in a non-wildcard hostname, then more characters:
//     GatewayRouteHostnameIntersectionPrecedence, claimed for every
//     provider since it is only order. On listener abc.example.com a
//     route for abc.example.com comes before an older one for
//     *.example.com, whatever their matches.
//   - A VirtualHost is one Gateway listener's hostname. A route's match is only
//     placed on a VirtualHost if some request could reach it there: a copy whose
//     hostname a more specific VirtualHost on the same port fully covers is
//     dropped (listener isolation), which also keeps rule names unique.
//   - Path match precedence: Exact, then RegularExpression (longer pattern
//     first), then PathPrefix (longer first); upstream leaves regex placement
//     to implementations.
//   - Tags: parameters' tags (Gateway's over the class's), then
//     spec.infrastructure.annotations, then spec.infrastructure.labels; later
//     ones win on the same key, since the Gateway's own metadata is the most
//     specific statement. Keys under "cloudgate.dev/" are dropped: they are
//     reserved for ownership tags.
//   - Addresses: Gateway spec.addresses (IPAddress only) become
//     lb.Options.Addresses; the parameters' emulated.address goes to
//     lb.EmulatedOptions.Address, which the emulated cloud uses only when
//     there are none. Provider sections never reach generic fields
//     (mergeParams says why).
//   - Health checks: the parameters' healthCheck, merged field by field,
//     goes on every lb.TargetGroup (HTTP, gRPC, mirror and stream ones);
//     bad merged values make the Gateway InvalidParameters, as do success
//     codes other than 200 alone on a provider without
//     lb.Capabilities.HealthCheckSuccessCodes (naming it).
//   - The aws section goes to lb.AWSOptions: lists (subnets, securityGroups,
//     sourceRanges) replace the class's, maps (attributes,
//     targetGroupAttributes) merge by key, quotas merge one by one;
//     accessLogs (common) replaces the class's as a whole. Raised quotas
//     raise the limits mapping checks (lb.Capabilities.WithQuotas) for the
//     provider that declares those quotas. Whether a provider applies a
//     field is the provider's to say: one that does not refuses it.
//   - Certificates: every listener that terminates TLS serves its
//     certificateRefs' Secrets, then the parameters' aws.certificateARNs
//     and gcp.sslCertificates as lb.CertificateRefs, each where the
//     provider lists its kind in Capabilities.CertificateRefs; with them a
//     listener needs no certificateRefs. A kind the provider lacks makes
//     the listener ResolvedRefs=False/InvalidCertificateRef, naming the
//     field and the provider, and is left out.
//   - Client certificate validation (frontend.go): the Gateway's
//     spec.tls.frontend applies to HTTPS listeners only (TLS listeners in
//     mode Terminate are not "handling HTTPS traffic"); a perPort entry
//     replaces the default on its port, one without validation turning it
//     off there. Since it is per port it is lb.Listener.ClientValidation,
//     shared by every VirtualHost. caCertificateRefs name core ConfigMaps
//     whose ca.crt holds PEM certificates (lb.ParseCABundle); several are
//     pooled. Any other kind, ClusterTrustBundle included, is
//     InvalidCACertificateKind; a missing ConfigMap, key or bad PEM
//     InvalidCACertificateRef; another namespace without a ReferenceGrant
//     RefNotPermitted (ResolvedRefs=False, the first reference at fault);
//     the listener is served with the references that resolve, and is
//     Accepted=False/NoValidCACertificate when none does. A provider
//     without lb.Capabilities.ClientValidation (or ...InsecureFallback for
//     that mode) gets the listener Accepted=False/UnsupportedValue: serving
//     it without would skip the check, or keep out clients the user let
//     in. The Gateway gets InsecureFrontendValidationMode=True
//     (ConfigurationChanged), naming them, while a served listener is in
//     mode AllowInsecureFallback.
//   - BackendTLSPolicy (backendtls.go): a policy applies to a Service port
//     of an HTTPRoute, GRPCRoute or TLSRoute backend (and a mirror's) by
//     its targetRef with sectionName (the port's name), else by one
//     without; among several for one target the oldest wins, then the
//     first by namespace/name, and the others are Accepted=False/
//     Conflicted. It becomes lb.TargetGroup.TLS: CA bundles from core
//     ConfigMaps or Secrets (key ca.crt, the policy's namespace) or the
//     system roots (wellKnownCACertificates System; any other value is
//     Invalid), the hostname as SNI, subjectAltNames, and the Gateway's
//     spec.tls.backend client certificate. Reasons: InvalidKind,
//     InvalidCACertificateRef (ResolvedRefs), NoValidCACertificate when
//     none resolves, UnsupportedValue for a provider without
//     Capabilities.BackendTLS or, with a client certificate asked for,
//     BackendClientCertificate. A policy that cannot be applied makes its
//     backends answer 500 (never plain HTTP where TLS was asked for); the
//     routes' ResolvedRefs stays True, the policy's status says why. A
//     provider that does not verify (Capabilities.BackendTLSVerify unset)
//     gets the policy Accepted with cloudgate.dev/BackendCertificateVerified
//     =False. Each policy's ancestor entry for the Gateway is in
//     Result.BackendTLSPolicies; the Gateway's ResolvedRefs condition is
//     present only when spec.tls.backend names a client certificate (a
//     core Secret, kubernetes.io/tls; RefNotPermitted across namespaces
//     without a ReferenceGrant). TLSRoute backends on a passthrough
//     listener get a "/passthrough" group without the TLS.
//   - Capabilities that only some providers have (redirect status codes
//     and ports, prefix rewrites and redirects, full-path rewrites on rules
//     with other than Exact path matches, backendRef header modifiers,
//     fixed responses, request and backend timeouts apart) are checked where
//     the value is converted: a route asking for one its provider lacks is
//     Accepted=False/UnsupportedValue naming the feature and the provider.
//     A rule with no valid backend needs FixedResponse for its 500.
//   - Limits (limits.go): a rule over a per-rule limit refuses its route;
//     when a port has more rules than the provider takes, routes are
//     taken oldest first (then first by "{namespace}/{name}") and each is
//     served if it fits next to those before it; a listener whose certificates do not fit on its port next to
//     those of the listeners before it (spec order) is
//     Accepted=False/UnsupportedValue. The rest of the Gateway is served.
//   - Filters: RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect,
//     URLRewrite, RequestMirror and CORS on rules; the two header modifiers and
//     URLRewrite on backendRefs (a backendRef's URLRewrite needs of the rule's
//     matches what a rule's does). A filter the provider lacks, any other filter type
//     (ExtensionRef, ExternalAuth), a retry (or its backoff) the
//     provider lacks and session persistence it cannot carry make the whole route
//     Accepted=False/UnsupportedValue, naming the filter and provider; repeated filters and RequestRedirect with URLRewrite give
//     IncompatibleFilters. Upstream lets an implementation drop only the bad
//     rules (PartiallyInvalid); Cloudgate leaves the route out instead, so
//     traffic never reaches a rule the user wrote differently.
//   - CORS becomes lb.CORS on the rule's action, whatever the action (a
//     redirect's and a 500's responses get its headers too, and their
//     preflights are answered), with the lists in the user's order and
//     maxAge 0 (a filter stored before the CRD defaulted it) as the API's
//     default, 5 seconds. HTTPRouteCORS is claimed with
//     lb.Capabilities.CORS. A preflight must match the rule to be
//     answered: a rule whose method match is not OPTIONS never sees one.
//   - A mirror's backend resolves exactly as a backendRef does (Service
//     lookup, ReferenceGrant with the route's kind in from, same reasons);
//     one that does not resolve sets ResolvedRefs=False and is dropped, the
//     route stays. Percent and fraction become lb.Mirror.Percent.
//   - A rule with no valid backend (none given, as with only header
//     modifiers, or none resolving) answers 500; a RequestRedirect rule needs
//     no backend. A 500 keeps only the response header modifier and CORS:
//     request modifiers, rewrites, mirrors, timeouts and retries have no
//     request to act on.
//   - Retry (retry.go): an HTTPRoute rule's retry becomes lb.Retry on its
//     forward action (a redirect has nothing to retry), with attempts
//     defaulting to 1 and bounded by lb.MaxRetryAttempts, codes sorted,
//     and backoff kept only where the provider honours it (the API
//     forbids claiming a backoff that is not applied). Attempts 0 gives
//     no lb.Retry. HTTPRouteRetryCodes and HTTPRouteRetryConnectionError
//     are claimed with lb.Capabilities.Retry.
//   - Timeouts use the Gateway API duration format (GEP-2257), parsed
//     strictly. Unset timeouts give a nil lb.Timeouts (provider default);
//     "0s" gives a zero field, which the model reads as no limit.
//   - Backends: appProtocol unset, "http" and kubernetes.io/ws become HTTP
//     target groups (WebSocket is an HTTP/1.1 upgrade), kubernetes.io/h2c an
//     H2C one when the provider lists it; others give UnsupportedProtocol.
//   - lb rule ids stay positional (rule-i/match-j) even for named rules, so
//     naming a rule does not rename (and re-prioritize) its cloud rule.
//   - BuildClass claims a feature only when this mapping implements it and
//     the provider's capabilities cover what its conformance tests use;
//     HTTPRoute itself needs HTTP and HTTPS listeners, request header
//     modification and redirects, which are Core.
//   - GRPCRoutes share HTTPRoute's path through Build (attachment,
//     hostnames, header matches, filters, backends, status) in a kind-neutral
//     form (route, ruleSpec); only match conversion and precedence differ.
//     A method match becomes a path match on "/service/method": service and
//     method give Exact, service alone Prefix "/service/", method alone a
//     Regex; RegularExpression gives a Regex of both parts, each compiled
//     alone first. Filters: the two header modifiers and RequestMirror.
//   - gRPC needs HTTP/2 end to end: HTTP and HTTPS listeners list GRPCRoute
//     in supportedKinds only where lb.Capabilities.GRPC has their protocol,
//     and GRPCRoute backends get H2C target groups whatever cleartext HTTP
//     appProtocol the Service port has (unset, http, grpc, h2c), named
//     "ns/svc:port/grpc" so a port HTTPRoutes also use gets its own group.
//     A GRPCRoute rule with no valid backend answers 503, which gRPC clients
//     read as UNAVAILABLE, as the API asks. Rule ids get "grpc/" before
//     "rule-i" so an HTTPRoute and a GRPCRoute of one name never collide.
//   - Session persistence (sessions.go): a rule's sessionPersistence, with
//     the API's defaults, goes on its forward and on each of its target
//     groups, renamed "<group>/session-<hash of the settings>" so that a
//     group never carries two rules' different stickiness (AWS and GCP
//     keep it on the group); mirrors keep their plain groups. An unnamed
//     cookie is named after the route rule, so one session spans the
//     rule's matches. Capabilities.SessionPersistence decides which kinds,
//     lifetimes, paths and timeouts are carried.
//   - GRPCRoute precedence after hostnames is by characters in the service,
//     then in the method (a regular expression counts its pattern), then
//     header matches, then age, as its API says. The last tie-break of
//     every precedence and "oldest wins" rule is the string
//     "{namespace}/{name}" (so "foo-bar/r" comes before "foo/r").
//   - When an HTTPRoute and a GRPCRoute attached to one listener have
//     intersecting hostnames, only the older (then first by namespace/name,
//     then the GRPCRoute) keeps that listener, as the GRPCRoute API
//     requires; the other is Accepted=False with reason HostnameConflict
//     (upstream names none) when it loses every listener of a parentRef.
//     So a VirtualHost never mixes the kinds on one hostname.
//   - ListenerSets (listenersets.go): those naming the Gateway in
//     spec.parentRef and allowed by its allowedListeners (namespaces None,
//     the default, Same, All or Selector) add their listeners after the
//     Gateway's own, oldest ListenerSet first, then by
//     "{namespace}/{name}", as the API orders the merged list. The
//     Gateway's listeners keep markConflicts' rule (none wins among
//     them); a ListenerSet listener that conflicts with one before it
//     (ProtocolConflict, HostnameConflict) loses: Conflicted=True and,
//     as the conformance tests read it, Accepted=False and
//     Programmed=False with the same reason. A ListenerSet is accepted
//     when some listener is programmable (ListenersNotValid, naming the
//     others, when not all are), NotAllowed when not allowed (its
//     listeners are not evaluated), ParentNotAccepted with the Gateway.
//     A parentRef of kind ListenerSet selects among that ListenerSet's
//     listeners, one to the Gateway among the Gateway's own only (a
//     Gateway parentRef never reaches a ListenerSet's listener by
//     sectionName); allowedRoutes Same and certificateRefs without a
//     namespace mean the ListenerSet's namespace, and certificates in
//     another need a ReferenceGrant from kind ListenerSet (a Gateway's
//     does not extend to it). The Gateway's spec.tls.frontend is per
//     port, so it applies to a ListenerSet's HTTPS listener on its port.
//     Providers see plain listeners. attachedListenerSets is set on
//     Gateways that allow ListenerSets or have some naming them.
//   - When the Gateway is not accepted (its or its class's parameters do not
//     resolve, or an address is unsupported) there is no LoadBalancer and every
//     route parent gets Accepted=False/Pending.
package mapping
