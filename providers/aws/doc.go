// Package aws realizes lb models as AWS Application Load Balancers through
// the ELBv2 API (first slice: HTTP listeners, IP target groups).
//
// It reads top to bottom: observe (find our resources by their ownership
// tags, never by name), convert (pure: the model as ELBv2 resources), diff
// (pure: a providers.Plan, one step per resource), apply (the plan's steps in
// dependency order: target groups, load balancer, listeners, rules, targets;
// deletes in reverse).
//
// Names are deterministic and versioned ("cg1-<readable>-<hash>", at most
// 32 characters), but a name is never proof of ownership: a resource without
// our tags is never modified or deleted, even when its name matches; creating
// over it is refused.
//
// The package must not import Kubernetes code (test/imports enforces it).
package aws
