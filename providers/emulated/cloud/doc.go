// Package cloud is the emulated cloud's control plane: a JSON REST API that
// stores load balancers, allocates each one its own address from a loopback
// range, and drives the data plane (package dataplane) that carries their
// traffic on this machine.
//
// It runs in-process (Start, as the controller does by default) or as its own
// process (Run, behind `cloudgate emulated-cloud`). The API behaves like a real
// cloud's, so that the adapter meets real failures: 409 on a duplicate name or
// a stale version, 404 on a missing resource, 400 with a JSON error on a
// configuration it refuses (naming the spec elements at fault), and injected
// 429/503 faults, of anyone (InjectFaults) or of one Gateway's requests
// (InjectOwnerFault). It counts the requests it serves (Stats), so tests can
// hold clients to a budget of reads and writes.
//
// # API
//
//	POST   /v1/loadbalancers                  create (409 AlreadyExists if the name is taken)
//	GET    /v1/loadbalancers?tag=k=v&name=n   list, filtered by every tag given (AND) and name;
//	       &pageSize=n&pageToken=t            paged in the order of ids: pageSize defaults to 100
//	                                          (at most 500), nextPageToken asks for the next page
//	GET    /v1/loadbalancers/{id}             get; the ETag header is the version
//	PUT    /v1/loadbalancers/{id}             replace; the body's version (or If-Match)
//	                                          must equal the stored one, else 409 (412)
//	PATCH  /v1/loadbalancers/{id}             replace with a Patch: the parts that did not
//	                                          change named, not sent; the version as for PUT
//	DELETE /v1/loadbalancers/{id}             delete (404 NotFound if missing)
//
//	POST   /v1/faults                         inject a Fault: {"status": 503, "count": 3}, or
//	                                          {"status": 503, "gatewayUID": "u", "duration": "30s"}
//	DELETE /v1/faults[?gatewayUID=u]          clear one Gateway's fault, or every fault
//	GET    /v1/stats, DELETE /v1/stats        the request counts (Stats), and their reset
//
// Errors are JSON Error values: {"code": "...", "message": "..."}; a refused
// spec adds "elements": [{"kind": "rule", "name": "..."}], the innermost
// parts at fault (listener, rule, stream, targetGroup, certificate). Every
// answer of the API, success or error, carries an X-Request-Id header
// (RequestIDHeader) that clients report with their errors. Throttling is
// 429 Throttled; 503 ServiceUnavailable is an outage, not a rate limit.
//
// Rules of this package: every change is validated in full (dataplane.Compile)
// before any socket or stored record changes, so a refused request leaves the
// cloud as it was. Tags are stored and filtered, never interpreted: ownership
// is the adapter's business, not the cloud's. The one exception is test
// instrumentation (faults.go): a Gateway's faults and request counts find its
// requests by the cloudgate.dev/gateway-uid tag, and never change the store.
package cloud
