// Package chart renders and lints the Helm chart in deploy/helm/cloudgate
// with Helm's own Go packages, for the chart's tests, the generator behind
// `make generate` and the end-to-end tests that install the chart.
//
// Only tests and generators import this package: it links Helm, which the
// controller binary must not.
package chart
