// Command standin is what deploy/image's test puts in the image instead of
// the controller: a small program linked the way the controller is (version
// and revision through -ldflags -X, the net package, which links libc when
// cgo is on), so that the test checks the image builder (static binary,
// layers, config, labels, both architectures) without cross-compiling the
// whole controller for arm64, which took most of a cold `make test`.
// `make image` builds the controller itself with the same code.
package main

import (
	"fmt"
	"net"
	"os"
)

var (
	version  = "dev"
	revision = "unknown"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Printf("cloudgate %s (revision %s)\n", version, revision)
		return
	}
	// Uses the resolver, so that a cgo build would link libc dynamically.
	addrs, err := net.LookupHost("localhost")
	fmt.Println(addrs, err)
}
