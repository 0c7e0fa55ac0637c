// Package chartgen writes the generated parts of the Helm chart and the
// kustomize base that `make generate` keeps in the source tree: the RBAC
// templates from deploy/rbac/role.yaml (itself generated from the
// controller's RBAC markers), copies of deploy/crds, and deploy/kustomize/base
// rendered from the chart with its default values. Nothing in these outputs
// is edited by hand, so the chart, the markers and the kustomize base cannot
// drift apart; the tests fail when a generated file is stale.
package chartgen
