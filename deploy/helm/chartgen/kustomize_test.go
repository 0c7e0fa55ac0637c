package chartgen_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/resid"

	"github.com/cloudgate-dev/cloudgate/deploy/helm/chartgen"
)

// The base builds with kustomize, and an overlay that does what
// kustomization.yaml tells it to gives the controller its cluster name
// through the ConfigMap that kustomize generates (with its hashed name).
func TestKustomizeOverlaySetsClusterName(t *testing.T) {
	// In memory, with the base copied in: kustomize takes bases by
	// relative path only.
	fs := filesys.MakeFsInMemory()
	const base, overlay = "/base", "/overlay"
	names, err := filepath.Glob(filepath.Join(root, chartgen.KustomizeBaseDir, "*.yaml"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no files in %s: %v", chartgen.KustomizeBaseDir, err)
	}
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := fs.WriteFile(filepath.Join(base, filepath.Base(n)), data); err != nil {
			t.Fatal(err)
		}
	}
	k := "resources:\n  - ../base\n" +
		"configMapGenerator:\n  - name: " + chartgen.BaseClusterConfigMap + "\n    namespace: " + chartgen.BaseNamespace +
		"\n    literals: [clusterName=prod-eu]\n"
	if err := fs.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(k)); err != nil {
		t.Fatal(err)
	}
	kz := krusty.MakeKustomizer(krusty.MakeDefaultOptions())

	plain, err := kz.Run(fs, base)
	if err != nil {
		t.Fatalf("kustomize build of the base: %v", err)
	}
	for _, kind := range []string{"CustomResourceDefinition", "Namespace", "ServiceAccount", "ClusterRole", "Role",
		"ClusterRoleBinding", "RoleBinding", "Service", "Deployment", "PodDisruptionBudget"} {
		if len(plain.GetMatchingResourcesByAnyId(func(id resid.ResId) bool { return id.Kind == kind })) != 1 {
			t.Errorf("the base does not hold one %s", kind)
		}
	}

	out, err := kz.Run(fs, overlay)
	if err != nil {
		t.Fatalf("kustomize build of an overlay: %v", err)
	}
	cms := out.GetMatchingResourcesByAnyId(func(id resid.ResId) bool { return id.Kind == "ConfigMap" })
	if len(cms) != 1 || !strings.HasPrefix(cms[0].GetName(), chartgen.BaseClusterConfigMap+"-") {
		t.Fatalf("overlay ConfigMaps %v, want one generated %s-<hash>", cms, chartgen.BaseClusterConfigMap)
	}
	if got := cms[0].GetDataMap()["clusterName"]; got != "prod-eu" {
		t.Errorf("ConfigMap clusterName %q, want prod-eu", got)
	}
	deps := out.GetMatchingResourcesByAnyId(func(id resid.ResId) bool { return id.Kind == "Deployment" })
	if len(deps) != 1 {
		t.Fatalf("%d Deployments, want 1", len(deps))
	}
	m, err := deps[0].Map()
	if err != nil {
		t.Fatal(err)
	}
	var ref string
	for _, c := range m["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any) {
		for _, e := range c.(map[string]any)["env"].([]any) {
			e := e.(map[string]any)
			if e["name"] == "CLOUDGATE_CLUSTER_NAME" {
				ref, _ = e["valueFrom"].(map[string]any)["configMapKeyRef"].(map[string]any)["name"].(string)
			}
		}
	}
	if ref != cms[0].GetName() {
		t.Errorf("CLOUDGATE_CLUSTER_NAME comes from ConfigMap %q, want the generated %q", ref, cms[0].GetName())
	}
}
