package imports

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/cloudgate-dev/cloudgate"

// rule forbids the packages matching pattern to depend, directly or not, on
// any package with one of the forbidden prefixes.
type rule struct {
	pattern   string
	forbidden []string
	// stdOnly allows nothing but the standard library and the module's own
	// packages that themselves obey.
	stdOnly bool
	why     string
}

var rules = []rule{
	{pattern: "./providers/...", forbidden: []string{"k8s.io/", "sigs.k8s.io/"},
		why: "providers realize lb models; the Kubernetes side belongs to mapping and reconciler"},
	{pattern: "./mapping/...", forbidden: []string{"github.com/aws/", "cloud.google.com/", "google.golang.org/api",
		"sigs.k8s.io/controller-runtime", "k8s.io/client-go", module + "/providers", module + "/reconciler"},
		why: "mapping is pure: no cloud SDK, no API client, no provider"},
	{pattern: "./mapping/lb", stdOnly: true,
		why: "the model is shared by every provider and must stay free of dependencies"},
	// cmd/cloudgate-dev runs the local cluster, so it does link
	// test/localcluster, test/netns and test/controlplane (infrastructure
	// that lives under test/ because tests are its main user); no command
	// links the testing package, the in-process harness or the tests.
	{pattern: "./cmd/...", forbidden: []string{"testing", module + "/test/harness", module + "/test/e2e",
		module + "/test/conformance", module + "/test/dev", module + "/test/imports"},
		why: "the binaries link no test code"},
	{pattern: "./cmd/cloudgate", forbidden: []string{module + "/test/", "sigs.k8s.io/controller-runtime/pkg/envtest", "helm.sh/"},
		why: "the controller binary, the one in the image, links neither the local cluster nor envtest nor Helm"},
}

func TestImportRules(t *testing.T) {
	for _, r := range rules {
		t.Run(strings.Trim(r.pattern, "./"), func(t *testing.T) {
			deps := listDeps(t, r.pattern)
			if len(deps) == 0 {
				t.Fatalf("go list found no packages for %s", r.pattern)
			}
			for _, d := range deps {
				if r.stdOnly && !d.standard && !strings.HasPrefix(d.path, module+"/mapping/lb") {
					t.Errorf("%s depends on %s: %s", r.pattern, d.path, r.why)
				}
				for _, f := range r.forbidden {
					if d.path == f || strings.HasPrefix(d.path, f) {
						t.Errorf("%s depends on %s: %s", r.pattern, d.path, r.why)
					}
				}
			}
		})
	}
}

type dep struct {
	path     string
	standard bool
}

// listDeps returns every package the non-test code of pattern's packages
// depends on, transitively.
func listDeps(t *testing.T, pattern string) []dep {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", pattern)
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", pattern, err, stderr.String())
	}
	var deps []dep
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, std, _ := strings.Cut(sc.Text(), " ")
		deps = append(deps, dep{path: path, standard: std == "true"})
	}
	return deps
}
