// Package dataplane is the emulated cloud's data plane: a Go reverse proxy that
// carries real HTTP and HTTPS traffic for one load balancer on its own loopback
// address, with the routing semantics that mapping/lb documents.
//
// The work is split in two so that the cloud API can refuse a bad configuration
// before any socket changes:
//
//   - Compile turns a Spec (lb listeners, target groups, emulated options) into an
//     immutable *Compiled value. Every check that can fail (unsupported protocol,
//     bad regular expression, unparsable certificate, unknown target group)
//     happens here and returns an error; nothing panics on user input.
//   - Server.Apply makes one load balancer's sockets match a *Compiled: ports that
//     stay keep their socket and get the new routing table through an
//     atomic.Pointer swap, so a change never fails a request in flight; new ports
//     open, removed ports close, and a port whose protocol changes reopens.
//
// Rules of this package: it knows nothing about the cloud's API, tags or
// addresses allocation; it imports mapping/lb and the standard library only. A
// compiled routing table is never mutated after Compile returns (round-robin
// counters are the single, atomic exception).
package dataplane
