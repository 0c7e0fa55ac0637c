// Package cloud is the emulated cloud's control plane: a JSON REST API that
// stores load balancers, allocates each one its own address from a loopback
// range, and drives the data plane (package dataplane) that carries their
// traffic on this machine.
//
// It runs in-process (Start, as the controller does by default) or as its own
// process (Run, behind `cloudgate emulated-cloud`). The API behaves like a real
// cloud's, so that the adapter meets real failures: 409 on a duplicate name or
// a stale version, 404 on a missing resource, 400 with a JSON error on a
// configuration it refuses, and injected 429/503 faults (InjectFaults).
//
// # API
//
//	POST   /v1/loadbalancers                  create (409 AlreadyExists if the name is taken)
//	GET    /v1/loadbalancers?tag=k=v&name=n   list, filtered by every tag given (AND) and name
//	GET    /v1/loadbalancers/{id}             get; the ETag header is the version
//	PUT    /v1/loadbalancers/{id}             replace; the body's version (or If-Match)
//	                                          must equal the stored one, else 409 (412)
//	DELETE /v1/loadbalancers/{id}             delete (404 NotFound if missing)
//
// Errors are JSON Error values: {"code": "...", "message": "..."}.
//
// Rules of this package: every change is validated in full (dataplane.Compile)
// before any socket or stored record changes, so a refused request leaves the
// cloud as it was. Tags are stored and filtered, never interpreted: ownership
// is the adapter's business, not the cloud's.
package cloud
