// Package manager is the controller's wiring, shared by the two binaries
// that run it: cmd/cloudgate (the controller users deploy) and
// cmd/cloudgate-dev (the controller on a local cluster). It owns the
// controller's flags, builds the enabled providers and runs a
// controller-runtime manager with the reconcilers.
//
// It must not import test code: cmd/cloudgate links it, and the production
// binary links nothing from test/ (test/imports checks this).
package manager
