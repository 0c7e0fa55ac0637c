// Package harness runs Cloudgate's controller in-process for tests: the
// manager with every reconciler, and the emulated cloud it talks to over HTTP,
// on a cluster that the caller started (envtest or test/localcluster).
package harness
