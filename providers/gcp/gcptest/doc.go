// Package gcptest is a stateful double of the Compute Engine v1 REST API, the
// part of it that Cloudgate's GCP provider calls: addresses, forwarding
// rules, target HTTP/HTTPS/TCP proxies, URL maps, backend services, health
// checks, SSL certificates, subnetworks (regional and, where the API has them,
// global), zonal network endpoint groups and the operations that every
// mutation returns.
//
// It is production code, not test code: `cloudgate gcp-double` serves it as a
// process so that users can try the provider without a project, and the
// provider's tests serve it in-process with Start. It therefore imports no
// "testing" package and no Kubernetes code.
//
// What it promises, because the provider relies on it:
//   - Request bodies are decoded with protojson into the computepb types the
//     cloud.google.com/go/compute/apiv1 REST clients send; an unknown field is
//     refused with 400, as the API refuses it.
//   - Objects are kept: 409 alreadyExists on a duplicate name, 404 notFound on
//     a missing one, 412 conditionNotMet when a fingerprint or label
//     fingerprint does not match (URL map updates must carry one), 400
//     resourceInUseByAnotherResource when deleting an object another refers
//     to, 400 invalid for references to missing objects, names and labels that
//     break GCP's rules, and the URL-map rules listed in validate.go.
//   - Every mutation is applied when the request arrives and returns an
//     Operation that reports DONE after Config.OperationDelay; operations
//     get and wait behave like the API's.
//   - Faults (429, 500, 503) are injected on request, for the next N calls or
//     a fraction of them, optionally only for one method, optionally after the
//     change was applied (a lost answer). Calls are counted by method id, the
//     Discovery name such as "compute.regionUrlMaps.insert".
//   - Hooks (hooks.go) run before and after the calls of one method, outside
//     the double's lock, so that a test can edit an object between a
//     client's read and its write, or act right after a write took effect.
//
// What it does not do: IAM, quotas, health checking (backends report no
// health), traffic, asynchronous failures of operations, and most
// field-level validation the real API performs. selfLinks use the real API's
// base URL (https://www.googleapis.com/compute/v1/), whatever address the
// double listens on, so links the provider builds compare equal either way.
//
// It must not import providers/gcp: the provider is tested against it, not
// the other way round.
package gcptest
