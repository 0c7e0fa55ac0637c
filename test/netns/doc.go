// Package netns gives tests and `cloudgate dev` a private host to run
// backends on: a network namespace joined to this one by a veth pair, with
// addresses from 198.18.0.0/16 (RFC 2544's benchmarking range) routed only to
// the namespaces this package made.
//
// It exists because Kubernetes refuses loopback addresses in EndpointSlices,
// and test traffic must go only to loopback or to namespaces the test made.
// Sockets are opened inside the namespace from a thread switched into it, so
// one Go process can serve backends there without a second process.
//
// It needs root (CAP_NET_ADMIN) and the ip command from iproute2. Every
// namespace is removed by Close; namespaces left by a killed process are
// removed the next time New runs.
package netns
