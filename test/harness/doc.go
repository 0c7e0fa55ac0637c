// Package harness runs Cloudgate's controller in-process for tests: the
// manager with every reconciler, and the provider it drives: by default the
// emulated one, talking over HTTP to an emulated cloud the harness starts;
// with Config.NewProvider, any other (the AWS provider against moto).
// The cluster is the caller's (envtest or test/localcluster).
package harness
