package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionFromLinkFlags builds the binary the way the Makefile and the
// image do and checks that `cloudgate version` reports what was linked in.
func TestVersionFromLinkFlags(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "cloudgate")
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X main.version=v1.2.3-4-gabcdef -X main.revision=0123456789abcdef", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("cloudgate version: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "cloudgate v1.2.3-4-gabcdef (revision 0123456789abcdef)"; got != want {
		t.Errorf("cloudgate version printed %q, want %q", got, want)
	}

	// The old `cloudgate dev` points at its new home instead of starting
	// a controller with "dev" as a stray argument.
	out, err = exec.Command(bin, "dev").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "cloudgate-dev") {
		t.Errorf("cloudgate dev: %v, %s; want an error that names cloudgate-dev", err, out)
	}
}
