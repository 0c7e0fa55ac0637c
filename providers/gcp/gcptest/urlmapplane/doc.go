// Package urlmapplane serves real traffic from the state of a Compute
// Engine API, for tests: it reads a region's forwarding rules, target
// HTTP, HTTPS and TCP proxies, URL maps, backend services, network
// endpoint groups with their endpoints and SSL certificates through the
// REST API (gcptest's double, or anything that answers like it), and
// carries HTTP, HTTPS and TCP to the endpoints as a regional external
// Application Load Balancer (and a regional proxy Network Load Balancer)
// would, following the URL map's documented semantics. Without it a wrong
// translation in providers/gcp passes every test that only reads the
// double's objects back.
//
// Each forwarding rule's IP and port is a cloud address; the plane gives
// each one a listener of its own on a loopback address (127.0.0.0/8, never
// beyond the machine). Addr maps "<rule IP>:<port>" to it, and DialContext
// dials through that mapping, for a test's http.Transport: the code under
// test learns nothing about the plane.
//
// New makes a plane; Start reads the API, opens the listeners and polls
// (every 100 ms by default); Sync reads once more and returns when the
// listeners serve what it read, which a test calls after each change it
// makes; Close stops everything. Its routing table is swapped atomically,
// so a change never fails a request in flight. What the plane read but
// cannot serve (a regex that does not compile, a certificate whose key it
// lacks) is in Problems and is logged once; the rest is served.
//
// Each read lists the region's forwarding rules, target proxies, URL maps,
// backend services and SSL certificates, then gets each NEG and lists its
// endpoints: ten calls or so, which the double counts with the
// provider's (Double.Calls). A test that counts the provider's calls
// turns polling off and calls Sync itself.
//
// The API never returns an SSL certificate's private key: a Keyring
// supplies them, learnt from PEM or by watching the certificate uploads
// the double receives (Keyring.Watch).
//
// The semantics and the page of the Google Cloud documentation that states
// each one are listed where they are implemented: host and path matching
// in match.go and template.go, header actions, rewrites and redirects in
// actions.go, the forwarding of a request (faults, weights, mirrors,
// timeouts, retries, endpoints) in proxy.go, TLS in tls.go, TCP in tcp.go.
// Not served: global and classic load balancers, backend buckets,
// instance-group backends, health checking (every endpoint serves),
// session affinity and locality policies, corsPolicy, customErrorResponsePolicy,
// urlRewrite.regexRewrite, header variables ({client_ip} and the like are
// sent as written), backend authentication (backends' certificates are not
// checked), mTLS, and IPv6 frontends beyond what a loopback listener does.
//
// It is test code's helper but lives outside _test files so that other
// packages' tests (test/conformance) can use it; it imports no Kubernetes
// code and nothing of providers/gcp, whose translation it checks.
package urlmapplane
