// Package providers defines the interface every cloud adapter implements, the
// Plan they all print, and a contract test suite (providertest) that every
// adapter must pass.
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
// # Plans
//
// Ensure is Plan, then apply. A Plan is the list of Steps that makes the
// cloud match a model, computed by a pure diff of the model against what the
// provider observed, before anything runs: Provider.Plan returns it as a dry
// run (it reads, never writes), Ensure returns it as it ran in
// Result.Applied, and Delete runs the plan against the empty model. The
// reconciler logs the applied plan (Plan.String) and records its one-line
// Summary ("created 1 load balancer, 2 listeners, 20 rules, 10 target
// groups") as the Gateway's Event; `describe` and the dry run print the same
// words for every cloud. For adapter authors:
//
//   - One Step per resource the model or the cloud has, unchanged ones
//     included (ActionNothing), in the order they run: create from the
//     leaves up, delete in reverse. A Recreate is passed on, as steps of
//     their own, to the resources that point at the recreated one.
//   - Name the model's parts with the shared Kinds (KindListener, KindRule,
//     KindTargetGroup, ...) and LogicalIDs (the cloudgate.dev/resource tag),
//     and your cloud's other resources in plain words ("security group").
//     Exactly one resource per load balancer is KindLoadBalancer: the one
//     that carries its addresses; the reconciler tells a created load
//     balancer from an updated one by it. Where the cloud holds parts inside
//     one resource (the emulated cloud's listeners and rules), they still
//     get steps of their own, with the holder's CloudID, and one write
//     carries them out.
//   - Give every step a Why (WhyMissing, WhyUnwanted, WhyChanged, ...; say
//     more where the cloud forces something, such as a Recreate) and every
//     Update or Recreate its Diff, from Compare on the old and new values.
//     Compare redacts secrets (certificate keys, and fields named like
//     PrivateKey, Password, Secret or Token); never build a Diff by hand
//     from a value that holds one.
//   - Fill in the CloudID of what a Create made in Result.Applied. After an
//     error, Applied holds the steps that ran before it.
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
