package chartgen_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudgate-dev/cloudgate/deploy/helm/chartgen"
)

// root is the source tree, three directories up from this package.
const root = "../../.."

// checkFresh fails for every file in want that differs from the tree and
// every YAML file in dirs that want does not hold.
func checkFresh(t *testing.T, want chartgen.Files, dirs []string) {
	t.Helper()
	for rel, data := range want {
		got, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Errorf("%v (run make generate)", err)
			continue
		}
		if diff := cmp.Diff(string(data), string(got)); diff != "" {
			t.Errorf("%s is stale (run make generate) (-generated +tree):\n%s", rel, diff)
		}
	}
	for _, d := range dirs {
		names, err := filepath.Glob(filepath.Join(root, d, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			rel, err := filepath.Rel(root, n)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := want[rel]; !ok {
				t.Errorf("%s is no longer generated (run make generate, which removes it)", rel)
			}
		}
	}
}

// The chart's RBAC template and CRD copies are what deploy/rbac/role.yaml
// and deploy/crds make of them today.
func TestChartFilesFresh(t *testing.T) {
	files, err := chartgen.ChartFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	checkFresh(t, files, chartgen.ChartDirs)
}

// deploy/kustomize/base is the chart rendered now: the two never drift.
func TestKustomizeBaseFresh(t *testing.T) {
	files, err := chartgen.KustomizeFiles()
	if err != nil {
		t.Fatal(err)
	}
	checkFresh(t, files, chartgen.KustomizeDirs)
	k, ok := files[filepath.Join(chartgen.KustomizeBaseDir, "kustomization.yaml")]
	if !ok {
		t.Fatal("no kustomization.yaml")
	}
	for name := range files {
		if base := filepath.Base(name); base != "kustomization.yaml" && !strings.Contains(string(k), "  - "+base+"\n") {
			t.Errorf("kustomization.yaml does not list %s", base)
		}
	}
}

func TestParseRolesRefusesOtherNamespaces(t *testing.T) {
	const role = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cloudgate}
rules: [{apiGroups: [""], resources: [services], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cloudgate, namespace: kube-system}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
`
	if _, err := chartgen.ParseRoles([]byte(role)); err == nil || !strings.Contains(err.Error(), "kube-system") {
		t.Errorf("ParseRoles: %v, want an error naming kube-system", err)
	}
	if _, err := chartgen.ParseRoles([]byte("kind: ConfigMap\n")); err == nil {
		t.Error("ParseRoles accepted a ConfigMap")
	}
}
