// Package imports holds the import rules of DESIGN.md as tests, so that a
// rule broken by a change fails CI instead of waiting for a reviewer: providers
// import no Kubernetes code, mapping imports no cloud SDK or API client,
// mapping/lb imports only the standard library, no binary links test code,
// and the controller binary (cmd/cloudgate, the image's) links neither the
// local cluster nor envtest nor Helm.
package imports
