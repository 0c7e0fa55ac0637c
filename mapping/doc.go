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
//     regular expressions. Bad input becomes a condition, never a crash.
//   - Imports: gateway-api types, Kubernetes API types (and apimachinery),
//     mapping/lb and api/ only. Providers never see Gateway API types; any rule
//     two providers would need lives here.
//   - Conditions use upstream types and reasons, carry the observed generation
//     of the object they are written on, and have static messages (names from
//     the spec are fine, counters and ids are not) so a repeated error does not
//     rewrite status.
//   - Every LoadBalancer Build returns passes lb.Validate.
//
// Decisions worth knowing:
//
//   - Only HTTP and HTTPS (TLS mode Terminate) listeners are served; other
//     protocols get Accepted=False/UnsupportedProtocol.
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
//   - Addresses: Gateway spec.addresses (IPAddress only) win over the
//     parameters' emulated.address.
//   - When the Gateway is not accepted (its or its class's parameters do not
//     resolve, or an address is unsupported) there is no LoadBalancer and every
//     route parent gets Accepted=False/Pending.
package mapping
