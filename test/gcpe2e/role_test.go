package gcpe2e

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/cloudgate-dev/cloudgate/providers/gcp"
	"github.com/cloudgate-dev/cloudgate/test/controlplane"
)

// The custom role of deploy/gcp/cloudgate-role.yaml grants what the
// provider calls: providers/gcp checks that the role is exactly the union of
// its permissions map; this package checks, against a real run, that the map
// knows every method the provider called and that the role grants each
// one's permissions.

type roleFile struct {
	Title               string   `json:"title"`
	Description         string   `json:"description"`
	Stage               string   `json:"stage"`
	IncludedPermissions []string `json:"includedPermissions"`
}

func trimMethod(m string) string { return strings.TrimPrefix(m, "compute.") }

// checkRole checks the methods the double served (by Discovery id,
// "compute.regionUrlMaps.update") against the provider's map and the role.
func checkRole(called map[string]int) error {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy", "gcp", "cloudgate-role.yaml"))
	if err != nil {
		return err
	}
	var r roleFile
	if err := yaml.UnmarshalStrict(b, &r); err != nil {
		return err
	}
	granted := map[string]bool{}
	for _, p := range r.IncludedPermissions {
		granted[p] = true
	}
	var unknown, denied []string
	for _, m := range slices.Sorted(maps.Keys(called)) {
		ps, ok := gcp.Permissions(trimMethod(m))
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%s (%d calls)", m, called[m]))
			continue
		}
		for _, p := range ps {
			if !granted[p] {
				denied = append(denied, m+" needs "+p)
			}
		}
	}
	if len(unknown)+len(denied) > 0 {
		return fmt.Errorf("the provider called %v, which providers/gcp/iam.go does not list; and %v, which the role does not grant", unknown, denied)
	}
	var unexercised []string
	for _, m := range gcp.Methods() {
		if called["compute."+m] == 0 {
			unexercised = append(unexercised, m)
		}
	}
	fmt.Fprintf(os.Stderr, "gcpe2e: the role covers the %d methods the provider called; methods of the map this run did not call: %v\n", len(called), unexercised)
	return nil
}
