// Package gcp realizes lb models as Google Cloud regional external
// Application Load Balancers (load-balancing scheme EXTERNAL_MANAGED)
// through the Compute Engine REST API (cloud.google.com/go/compute apiv1).
//
// It reads top to bottom, as the AWS adapter does: observe (list the
// region's resources and keep those whose description says they are ours),
// convert (pure: the model as computepb resources, convert.go and
// urlmap.go), diff (pure: a providers.Plan, one step per resource, plan.go),
// apply (the plan's steps from the leaves up: health checks, network
// endpoint groups and their endpoints, backend services, URL maps, SSL
// certificates, target proxies, addresses, forwarding rules; deletes in
// reverse).
//
// Most Compute Engine resources take no labels, so ownership lives in a
// deterministic name ("cg1-<kind>-<readable>-<hash>", at most 63
// characters, names.go) and a JSON description carrying the ownership tags
// of providers/doc.go. A name is never proof of ownership: a resource whose
// description does not name our cluster and Gateway UID is never modified
// or deleted, even when its name matches ours. Fields that Compute Engine
// cannot change in place go into the name's hash, so that a change of them
// is a new resource created before the old one is deleted, never a delete
// first.
//
// The package must not import Kubernetes code (test/imports enforces it).
package gcp
