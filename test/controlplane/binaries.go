package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

const modulePath = "github.com/cloudgate-dev/cloudgate"

// RepoRoot finds the Cloudgate source tree by walking up from the working
// directory to the go.mod of the main module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && containsModule(data) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the Cloudgate source tree (go.mod of " + modulePath + ") above the working directory")
		}
		dir = parent
	}
}

func containsModule(gomod []byte) bool {
	want := []byte("module " + modulePath + "\n")
	return len(gomod) >= len(want) && string(gomod[:len(want)]) == string(want)
}

// binary says how one control-plane program is built.
type binary struct {
	name    string
	module  string // tools module directory, relative to the repo root
	pkg     string
	note    string
	timeout time.Duration
}

var binaries = []binary{
	{name: "etcd", module: "test/tools/etcd", pkg: ".", note: "about 30 seconds", timeout: 15 * time.Minute},
	{name: "kube-apiserver", module: "test/tools/kube", pkg: "k8s.io/kubernetes/cmd/kube-apiserver", note: "about 6 minutes the first time", timeout: 40 * time.Minute},
}

// EnsureBinaries builds etcd and kube-apiserver into dir unless they are
// there already, printing progress to w (the first kube-apiserver build takes
// minutes, and silence would look like a hang).
func EnsureBinaries(ctx context.Context, root, dir string, w io.Writer) error {
	for _, b := range binaries {
		out := filepath.Join(dir, b.name)
		if _, err := os.Stat(out); err == nil {
			continue
		}
		fmt.Fprintf(w, ">> building %s from the Go module proxy (%s)...\n", b.name, b.note)
		start := time.Now()
		bctx, cancel := context.WithTimeout(ctx, b.timeout)
		done := make(chan struct{})
		go tick(w, b.name, start, done)
		cmd := exec.CommandContext(bctx, "go", "build", "-o", out, b.pkg)
		cmd.Dir = filepath.Join(root, b.module)
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
		cmd.Stdout, cmd.Stderr = w, w
		err := cmd.Run()
		close(done)
		cancel()
		if err != nil {
			return fmt.Errorf("building %s: %w", b.name, err)
		}
		fmt.Fprintf(w, ">> built %s in %s\n", b.name, time.Since(start).Round(time.Second))
	}
	return nil
}

func tick(w io.Writer, name string, start time.Time, done <-chan struct{}) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			fmt.Fprintf(w, "   still building %s (%s so far)\n", name, time.Since(start).Round(time.Second))
		}
	}
}
