// Package albplane serves real traffic from the ELBv2 state that the AWS
// provider writes into the API double (moto): an Application Load
// Balancer's and a Network Load Balancer's data plane for tests. moto
// stores load balancers, listeners, rules, target groups, targets and ACM
// certificates but never answers a request, so without a data plane a
// wrong translation in providers/aws passes every test that only reads the
// API back.
//
// A Plane reads the state through the AWS SDK (ELBv2 Describe calls, ACM
// GetCertificate), on Sync or on a poll loop, and serves each load
// balancer on a loopback address of its own (127.0.0.0/8), each listener
// on its own port when that port is free there, on a port the kernel picks
// otherwise. DialContext maps "<load balancer DNS name>:<listener port>"
// to that address, so that a test's HTTP client reaches the load balancer
// by the name the provider reported.
//
// What it serves follows ALB's and NLB's documented behaviour (the pages
// are cited where each rule is implemented): rules by priority then the
// default action; host, path, header, query, method and source-ip
// conditions with their wildcards, case rules and regex values; forward
// (weighted), fixed-response and redirect actions; host-header and URL
// rewrite transforms; TLS termination with SNI certificate choice;
// X-Forwarded-For/Proto/Port; 503 without targets, 502 when a target
// refuses. What it does not model is listed in the package README.
//
// Rules:
//   - Test code only. Production code never learns of it: the provider
//     writes the same ELBv2 resources with or without a Plane reading them.
//   - It listens on loopback addresses only.
//   - ACM never returns an imported certificate's private key (nor does
//     moto's ExportCertificate for imported ones), so keys come from the
//     test: AddKey, or RecordImports on the provider's SDK configuration.
//   - Safe for concurrent use; a Sync swaps the routing table atomically,
//     so a request in flight keeps the table it started with.
//   - No Kubernetes code, as in package localstack.
package albplane
