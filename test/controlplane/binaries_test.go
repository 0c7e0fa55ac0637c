package controlplane

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKubeBinariesCarryTheModulesRelease(t *testing.T) {
	root := t.TempDir()
	mod := filepath.Join(root, "tools")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	gomod := "module tools\n\ngo 1.27\n\nrequire k8s.io/kubernetes v1.36.3\n"
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	b := binary{name: "kube-apiserver", module: "tools", kubeVersion: true}
	flags, err := b.ldflags(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"k8s.io/component-base/version.gitVersion=v1.36.3",
		"k8s.io/component-base/version.gitMajor=1",
		"k8s.io/component-base/version.gitMinor=36",
		"k8s.io/client-go/pkg/version.gitVersion=v1.36.3",
	} {
		if !strings.Contains(flags, want) {
			t.Errorf("ldflags %q lack %q", flags, want)
		}
	}
	if flags, err := (binary{name: "etcd", module: "tools"}).ldflags(root); err != nil || flags != "" {
		t.Errorf("etcd's ldflags = %q, %v; want none", flags, err)
	}
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module tools\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ldflags(root); err == nil {
		t.Error("a tools module without k8s.io/kubernetes gave link flags")
	}
}

// The repository's own tools module names the release the local cluster
// reports.
func TestRepoKubeVersion(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := findBinary("kube-apiserver")
	flags, err := b.ldflags(root)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(flags, "gitVersion=v1.") {
		t.Errorf("kube-apiserver's ldflags %q name no v1.x release", flags)
	}
}
