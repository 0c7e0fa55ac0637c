// Package lb is Cloudgate's provider-neutral model of a cloud load balancer.
//
// mapping.Build produces an lb.LoadBalancer from Gateway API objects; every
// provider adapter (AWS, GCP, emulated) turns that model into its own cloud's
// resources. The model is shaped so that each provider can realize it:
//
//   - A LoadBalancer has one Listener per port (an ALB or NLB listener, a GCP
//     forwarding rule plus target proxy, an emulated socket).
//   - An HTTP or HTTPS Listener holds VirtualHosts. A VirtualHost is one Gateway
//     listener's hostname: a request is served by the most specific VirtualHost
//     whose hostname matches its Host header (HTTPS: whose certificate the SNI
//     selected). This is GCP's host rule, and on AWS a host-header condition.
//   - A VirtualHost holds Rules in precedence order: the first Rule whose Match
//     holds wins; no match means 404. Order is the priority. Providers that need
//     numeric priorities (ALB) derive them, keeping them stable across changes.
//   - Actions forward to TargetGroups by weight. A weighted backend with no
//     TargetGroup stands for an invalid backend reference: its share of the
//     traffic gets HTTP 500, as the Gateway API requires.
//   - A TargetGroup may carry a HealthCheck (the parameters' healthCheck,
//     the same on every group of a load balancer); Status reports each
//     group's health where the provider probes.
//   - A Certificate is PEM (from a Secret) or a CertificateRef to a
//     certificate the cloud holds (an ACM ARN, a GCP SSL certificate).
//   - Capabilities say what a provider realizes and its limits; mapping
//     never builds a model outside them.
//
// Rules of this package: standard library only, no I/O, no provider names in
// types other than the per-provider option structs (and the kinds of
// CertificateRef, which name what a reference's ID is). Every identifier in the
// model (Listener.Name, Rule.Name, TargetGroup.Name) is a stable logical id that
// providers use for the cloudgate.dev/resource ownership tag.
package lb
