// Package dataplane is the emulated cloud's data plane: a Go reverse proxy that
// carries real HTTP and HTTPS traffic, and a layer-4 proxy for TCP, UDP and
// TLS listeners, for one load balancer on its own loopback address, with the
// routing semantics that mapping/lb documents.
//
// The work is split in two so that the cloud API can refuse a bad configuration
// before any socket changes:
//
//   - Compile turns a Spec (lb listeners, target groups, emulated options) into an
//     immutable *Compiled value. Every check that can fail (unsupported protocol,
//     bad regular expression, unparsable certificate, unknown target group)
//     happens here and returns an error; nothing panics on user input. The
//     error is made of ElementErrors that name the listener, rule, stream,
//     target group or certificate at fault (Faults), so that the cloud can
//     say which parts of a model it refuses. Header names, header values
//     and regular expressions follow the model's own rules (lb.ValidHeaderName,
//     lb.ValidHeaderValue, lb.CompileRegex): what lb.Validate accepts of
//     them compiles here.
//   - Server.Apply makes one load balancer's sockets match a *Compiled: ports that
//     stay keep their socket and get the new routing table through an
//     atomic.Pointer swap, so a change never fails a request in flight; new ports
//     open, removed ports close, and a port whose protocol changes reopens.
//
// A rule's action runs in the handler (proxy.go) with the filters compiled in
// filters.go: a CORS preflight to a rule with a CORS policy is answered at
// once, whatever the action (cors.go), and every other response of such a
// rule gets the policy's headers for an allowed origin before the rule's
// response modifiers; redirects and fixed responses are answered at once; a forward
// applies the rewrite and the request header modifiers (the rule's, then the
// chosen backend's), sends copies to the mirrors in the background
// (mirror.go, bounded so a slow mirror costs dropped copies, never client
// latency), and bounds the exchange by the rule's timeouts (504 on expiry).
// A rule with a retry (retry.go) has the proxy's Transport send the request
// again, to the next target of the chosen backend, on the terms lb.Retry
// states: a connection that could not be established, a listed status, a
// backend timeout when 504 is listed, a connection lost before an answer
// only for GET, HEAD, OPTIONS and TRACE without a body. Waits start at the
// base interval (25ms by default), double, stop growing at ten base
// intervals and take a random point in their upper half; the request
// timeout bounds attempts and waits together, the backend timeout each
// attempt. Bodies up to 64 KiB are held to be replayed; a larger body, or
// a protocol switch, is sent once.
// A rule with a session (sessions.go) pins each client to one target: the
// first response hands it an opaque token (a cookie, or the named response
// header) holding a MAC'd id of the target and the session's start, and
// later requests carrying a valid token skip the weighted choice and go to
// that target while it is in the rule's groups and the absolute timeout
// has not passed; any other request is balanced and gets a new token.
// net/http keeps a request's Host out of its header map, so header matches
// on Host read Request.Host and request modifiers of Host change the Host
// sent upstream (route.go, filters.go).
// An HTTPS listener with lb.Listener.ClientValidation asks each client for a
// certificate: AllowValidOnly completes only handshakes whose certificate
// chains to the CA bundles, AllowInsecureFallback lets every client in. The
// TLS configuration is read from the current table at each handshake, so a
// swap changes it for the next connection; session tickets are off on such
// listeners, since a resumed session skips the check.
// A gRPC call (content-type application/grpc*) that the proxy answers by
// itself (no route, a fixed response, an invalid backend's share, no
// target, a failed or timed-out exchange) gets a trailers-only gRPC answer:
// HTTP 200, grpc-status from the gRPC spec's HTTP-to-status mapping (503
// UNAVAILABLE, 404 UNIMPLEMENTED, 500 UNKNOWN) and grpc-message (grpc.go);
// the status itself, and so the code, is the model's (a GRPCRoute's
// invalid backends are 503, lb.Action.InvalidBackendStatus).
// H2C target groups are reached with HTTP/2 prior knowledge through their own
// Transport; listeners accept HTTP/1.1, HTTP/2 over TLS and HTTP/2 prior
// knowledge on plain HTTP.
//
// Target groups with TLS (lb.BackendTLS, backendtls.go) are reached over TLS
// with the model's SNI: HTTP/1.1 by ALPN for HTTP groups, h2 for H2C ones
// (gRPC), a TLS client connection for a terminated TLS stream. The target's
// certificate must chain to the CA bundles (or the host's roots) and be valid
// for the server name, or carry one of the subjectAltNames, else the request
// gets 502 (the stream is closed). One Transport per TLS configuration keeps
// the pool across table swaps.
//
// Layer-4 listeners (stream.go, tcp.go, udp.go) route by lb.Stream. TCP: the
// first Stream takes each connection, a backend is drawn by weight, a target
// by round robin, and bytes are spliced both ways with half-closes passed on.
// TLS: the ClientHello is read without being lost (crypto/tls parses it on a
// recording connection), its SNI picks the most specific Stream, and the
// connection is either passed through (the hello replayed to the target) or
// terminated with the Stream's certificate and spliced in plain text. UDP:
// each client address gets a session, a connected socket to one target,
// ended by silence or evicted when the listener has too many. No route, an
// invalid backend share or an unreachable target closes the connection (UDP:
// drops the datagram). A swap keeps every connection whose Stream (by name)
// is still in the new table on the backend it has; the others are closed.
//
// Rules of this package: it knows nothing about the cloud's API, tags or
// addresses allocation; it imports mapping/lb and the standard library only. A
// compiled routing table is never mutated after Compile returns (round-robin
// counters are the single, atomic exception).
package dataplane
