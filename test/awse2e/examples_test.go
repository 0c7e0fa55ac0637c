package awse2e

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudgate-dev/cloudgate/test/controlplane"
)

// The AWS examples the README points at are valid: the API server takes
// every object (a dry run against the installed CRDs and their CEL rules).
func TestAWSExamplesAreValid(t *testing.T) {
	root, err := controlplane.RepoRoot()
	must(t, err)
	files, err := filepath.Glob(filepath.Join(root, "deploy", "examples", "aws-*.yaml"))
	must(t, err)
	if len(files) < 2 {
		t.Fatalf("examples %v, want the ALB and NLB ones", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		must(t, err)
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		n := 0
		for {
			var u unstructured.Unstructured
			if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(u.Object) == 0 {
				continue
			}
			n++
			if u.GetKind() == "Namespace" {
				// The namespaced objects' dry runs need it to exist.
				if err := suite.c.Create(ctxFor(t), &u); err != nil {
					t.Fatalf("%s: %s %s: %v", filepath.Base(f), u.GetKind(), u.GetName(), err)
				}
				t.Cleanup(func() { _ = suite.c.Delete(ctxFor(t), &u) })
				continue
			}
			if err := suite.c.Create(ctxFor(t), &u, client.DryRunAll); err != nil {
				t.Errorf("%s: %s %s: %v", filepath.Base(f), u.GetKind(), u.GetName(), err)
			}
		}
		if n == 0 {
			t.Errorf("%s has no objects", f)
		}
	}
}
