package chart_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/lint/support"
	"sigs.k8s.io/yaml"

	"github.com/cloudgate-dev/cloudgate/deploy/helm/chart"
)

// exampleValues reads the values files of deploy/examples/helm, which the
// README's install instructions use, giving the ones that leave the
// required clusterName to --set a name.
func exampleValues(t *testing.T) map[string]map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chart.Dir(), "..", "..", "examples", "helm", "*-values.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example values files: %v", err)
	}
	out := map[string]map[string]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if v["clusterName"] == "" {
			v["clusterName"] = "example"
		}
		out["example-"+strings.TrimSuffix(filepath.Base(f), "-values.yaml")] = v
	}
	return out
}

// The examples lint clean and render, so that the README's commands work.
func TestExampleValues(t *testing.T) {
	for name, vals := range exampleValues(t) {
		t.Run(name, func(t *testing.T) {
			for _, m := range chart.Lint(vals, namespace) {
				if m.Severity > support.InfoSev {
					t.Error(m)
				}
			}
			render(t, vals)
		})
	}
}
