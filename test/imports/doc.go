// Package imports holds the import rules of DESIGN.md as tests, so that a
// rule broken by a change fails CI instead of waiting for a reviewer: providers
// import no Kubernetes code, mapping imports no cloud SDK or API client,
// mapping/lb imports only the standard library, and the controller binary
// links no test code.
package imports
