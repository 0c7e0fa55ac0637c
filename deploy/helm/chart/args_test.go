package chart_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/cloudgate-dev/cloudgate/deploy/helm/chart"
)

// The controller binary accepts the arguments the chart gives it: every
// flag exists and every value parses. The binary is run with them and no
// cluster to reach, so it stops at loading a kubeconfig, after its flags.
func TestControllerAcceptsArgs(t *testing.T) {
	root := filepath.Join(chart.Dir(), "..", "..", "..")
	bin := filepath.Join(t.TempDir(), "cloudgate")
	// Default flags, as go test compiles the packages: the build reuses
	// them (the image's flags would compile the whole tree once more).
	build := exec.Command("go", "build", "-o", bin, "./cmd/cloudgate")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/cloudgate: %v\n%s", err, out)
	}
	emulated := map[string]any{"clusterName": "a", "providers": []any{"emulated"}, "emulated": map[string]any{"endpoint": "http://192.0.2.1:8090"},
		"logLevel": 3, "extraArgs": []any{"--emulated-address-range=127.101.0.0/16"}}
	gcpDouble := map[string]any{"clusterName": "a", "providers": []any{"gcp"}, "gcp": map[string]any{"project": "cloudgate-test",
		"region": "us-central1", "endpoint": "http://192.0.2.1:8091", "withoutAuthentication": true}}
	cases := map[string]map[string]any{"default": values(t, "default"), "aws": values(t, "aws"),
		"gcp": values(t, "gcp"), "emulated": emulated, "gcp-double": gcpDouble}
	for name, vals := range exampleValues(t) {
		cases[name] = vals
	}
	for name, vals := range cases {
		t.Run(name, func(t *testing.T) {
			d := typed[appsv1.Deployment](t, render(t, vals), "Deployment", release)
			c := d.Spec.Template.Spec.Containers[0]
			env := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			// The kubelet's expansion of $(VAR) references.
			args := make([]string, len(c.Args))
			for i, a := range c.Args {
				for k, v := range env {
					a = strings.ReplaceAll(a, "$("+k+")", v)
				}
				args[i] = a
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			home := t.TempDir()
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = []string{"HOME=" + home, "KUBECONFIG=" + filepath.Join(home, "none"), "PATH=" + os.Getenv("PATH")}
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("cloudgate %q ran without a cluster:\n%s", args, out)
			}
			for _, bad := range []string{"flag provided but not defined", "invalid value", "invalid boolean", "help requested"} {
				if strings.Contains(string(out), bad) {
					t.Fatalf("cloudgate refuses the chart's arguments %q:\n%s", args, out)
				}
			}
			// client-go's error for no kubeconfig: the flags were parsed.
			if !strings.Contains(string(out), "no configuration has been provided") {
				t.Errorf("cloudgate %q stopped before loading a kubeconfig:\n%s", args, out)
			}
		})
	}
}
