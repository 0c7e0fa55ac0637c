// Package image builds Cloudgate's container image without a container
// engine: it cross-compiles cmd/cloudgate as a static binary (CGO off) for
// each platform, puts it and the build host's CA bundle into one layer on an
// empty base, and assembles a multi-platform OCI image index with
// go-containerregistry. The index is written as an OCI layout (make image)
// or pushed to a registry (make push).
//
// The build is reproducible: file times, the image's creation time and the
// Go build (-trimpath, no VCS stamp) depend only on the source and
// BuildOptions.Created, so two builds of one commit have one digest.
//
// The image runs as a numeric non-root user, so that Kubernetes can enforce
// runAsNonRoot without an /etc/passwd in the image.
//
// This package is build tooling: nothing in the controller imports it.
package image
