// Package providers defines the interface every cloud adapter implements and a
// contract test suite (providertest) that every adapter must pass.
//
// # Ownership
//
// Every cloud resource a provider creates carries these tags (or, where a cloud
// API has no tags, the same facts in a deterministic name and description):
//
//	cloudgate.dev/cluster      the cluster id given to the controller (--cluster-name)
//	cloudgate.dev/gateway      the owning Gateway's "namespace/name"
//	cloudgate.dev/gateway-uid  the owning Gateway's UID
//	cloudgate.dev/resource     the logical id of the resource in the lb model
//
// A provider finds what it owns by these tags and never changes or deletes a
// resource without them. User tags (Gateway spec.infrastructure labels and
// annotations, parameters' tags) sit next to them and never override them.
//
// # Rules
//
// Providers import mapping/lb and their cloud's SDK, never gateway-api or
// controller-runtime: whatever two providers need belongs in mapping.
package providers
