package main

import "fmt"

// version and revision are set at link time by the Makefile and the image
// build (-ldflags "-X main.version=... -X main.revision=..."); a plain
// `go build` leaves these placeholders.
var (
	version  = "dev"
	revision = "unknown"
)

func versionCommand() {
	fmt.Printf("cloudgate %s (revision %s)\n", version, revision)
}
