package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// binary says how one program the harness runs is built.
type binary struct {
	name    string
	module  string // tools module directory, relative to the repo root
	pkg     string
	note    string
	timeout time.Duration
	// kubeVersion stamps the Kubernetes release of the module into the
	// binary, as the release build does: without it a binary built from the
	// module proxy reports v0.0.0-master, and clients that check the
	// server's version (Helm's kubeVersion constraint) refuse it.
	kubeVersion bool
}

// binaries lists every program that Build knows. kube-controller-manager and
// kubectl come from the same module as kube-apiserver, so after it they mostly
// reuse the build cache.
var binaries = []binary{
	{name: "etcd", module: "test/tools/etcd", pkg: ".", note: "about 30 seconds", timeout: 15 * time.Minute},
	{name: "kube-apiserver", kubeVersion: true, module: "test/tools/kube", pkg: "k8s.io/kubernetes/cmd/kube-apiserver", note: "about 6 minutes the first time", timeout: 40 * time.Minute},
	{name: "kube-controller-manager", kubeVersion: true, module: "test/tools/kube", pkg: "k8s.io/kubernetes/cmd/kube-controller-manager", note: "a few minutes the first time", timeout: 40 * time.Minute},
	{name: "kubectl", kubeVersion: true, module: "test/tools/kube", pkg: "k8s.io/kubernetes/cmd/kubectl", note: "about a minute the first time", timeout: 20 * time.Minute},
	{name: "echo-basic", module: "test/tools/echo", pkg: "sigs.k8s.io/gateway-api-conformance-images/echo-basic", note: "about 10 seconds", timeout: 10 * time.Minute},
	{name: "coredns", module: "test/tools/echo", pkg: "./coredns", note: "about a minute the first time", timeout: 15 * time.Minute},
}

// EnsureBinaries builds etcd and kube-apiserver into dir unless they are
// there already, printing progress to w (the first kube-apiserver build takes
// minutes, and silence would look like a hang).
func EnsureBinaries(ctx context.Context, root, dir string, w io.Writer) error {
	return Build(ctx, root, dir, w, "etcd", "kube-apiserver")
}

// Build builds the named programs into dir unless they are there already,
// printing progress to w. It knows etcd, kube-apiserver,
// kube-controller-manager, kubectl, and echo-basic and coredns (the Gateway API
// conformance suite's backends).
func Build(ctx context.Context, root, dir string, w io.Writer, names ...string) error {
	if w == nil {
		w = io.Discard
	}
	for _, name := range names {
		b, ok := findBinary(name)
		if !ok {
			return fmt.Errorf("controlplane: no recipe to build %q", name)
		}
		if err := b.build(ctx, root, dir, w); err != nil {
			return err
		}
	}
	return nil
}

func findBinary(name string) (binary, bool) {
	for _, b := range binaries {
		if b.name == name {
			return b, true
		}
	}
	return binary{}, false
}

func (b binary) build(ctx context.Context, root, dir string, w io.Writer) error {
	out := filepath.Join(dir, b.name)
	ldflags, err := b.ldflags(root)
	if err != nil {
		return err
	}
	// The stamp records the link flags a binary was built with, so that a
	// binary from before a flag change is rebuilt (only the link runs again).
	stamp := out + ".ldflags"
	if _, err := os.Stat(out); err == nil {
		if old, _ := os.ReadFile(stamp); string(old) == ldflags {
			return nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(w, ">> building %s from the Go module proxy (%s)...\n", b.name, b.note)
	start := time.Now()
	bctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	done := make(chan struct{})
	go tick(w, b.name, start, done)
	// Build to a temporary name and rename, so that an interrupted build
	// never leaves a truncated binary that the next run would trust.
	tmp := out + ".partial"
	cmd := exec.CommandContext(bctx, "go", "build", "-ldflags", ldflags, "-o", tmp, b.pkg)
	cmd.Dir = filepath.Join(root, b.module)
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Run()
	close(done)
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err == nil {
		err = writeStamp(stamp, ldflags)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("building %s: %w", b.name, err)
	}
	fmt.Fprintf(w, ">> built %s in %s\n", b.name, time.Since(start).Round(time.Second))
	return nil
}

// ldflags are the binary's link flags: for Kubernetes binaries, the
// release version from the tools module's go.mod.
func (b binary) ldflags(root string) (string, error) {
	if !b.kubeVersion {
		return "", nil
	}
	gomod := filepath.Join(root, b.module, "go.mod")
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	var version string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[len(f)-2] == "k8s.io/kubernetes" && strings.HasPrefix(f[len(f)-1], "v") {
			version = f[len(f)-1]
		}
	}
	major, minor, ok := majorMinor(version)
	if !ok {
		return "", fmt.Errorf("%s requires no k8s.io/kubernetes vMAJOR.MINOR.PATCH", gomod)
	}
	var flags []string
	// component-base/version is what servers report at /version;
	// client-go's copy is what kubectl reports as its own.
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		flags = append(flags,
			"-X", pkg+".gitVersion="+version,
			"-X", pkg+".gitMajor="+major,
			"-X", pkg+".gitMinor="+minor,
			"-X", pkg+".gitTreeState=clean")
	}
	return strings.Join(flags, " "), nil
}

func majorMinor(version string) (major, minor string, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// writeStamp records ldflags beside a binary; a binary without link flags
// needs no stamp (binaries built before stamps existed stay valid).
func writeStamp(path, ldflags string) error {
	if ldflags == "" {
		return nil
	}
	return os.WriteFile(path, []byte(ldflags), 0o644)
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
