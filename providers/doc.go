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
// # Errors
//
// An error from Ensure or Delete is transient (the controller backs off and
// retries) unless it wraps ErrInvalid. A model the cloud refuses comes back as
// an *InvalidError that names the model elements at fault (rule, stream,
// target group, listener or certificate names, as the model spells them), so
// that the reconciler can leave out the routes behind them and apply the
// rest; a provider translates its cloud's names back to the model's.
//
// # Rules
//
// Providers import mapping/lb and their cloud's SDK, never gateway-api or
// controller-runtime: whatever two providers need belongs in mapping.
package providers
