//go:build tools

// Package echo pins the conformance backend images' commands that the local
// cluster runs as processes. `go install ...@v0.1.0` of the echo server fails
// (its module has replace directives), so it is built from this module instead.
package echo

import (
	_ "sigs.k8s.io/gateway-api-conformance-images/echo-basic"
)
