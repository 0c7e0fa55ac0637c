package gcp

import (
	"bufio"
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
)

const roleFile = "../../deploy/gcp/cloudgate-role.yaml"

// role is the part of a gcloud role file the test reads.
type role struct {
	fields      map[string]string
	permissions []string
}

// readRole reads the flat YAML that `gcloud iam roles create --file` takes:
// top-level scalars and the includedPermissions list. It refuses anything
// else, so that the file stays in the one shape this test understands.
func readRole(t *testing.T) role {
	t.Helper()
	b, err := os.ReadFile(roleFile)
	if err != nil {
		t.Fatal(err)
	}
	r := role{fields: map[string]string{}}
	inList := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch trimmed := strings.TrimSpace(line); {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
		case inList && strings.HasPrefix(trimmed, "- "):
			r.permissions = append(r.permissions, strings.TrimSpace(strings.TrimPrefix(trimmed, "- ")))
		case !strings.HasPrefix(line, " ") && strings.Contains(line, ":"):
			k, v, _ := strings.Cut(line, ":")
			inList = k == "includedPermissions" && strings.TrimSpace(v) == ""
			if !inList {
				r.fields[k] = strings.Trim(strings.TrimSpace(v), `'"`)
			}
		default:
			t.Fatalf("%s:%d: %q is neither a top-level field nor a permission of includedPermissions", roleFile, n, line)
		}
	}
	return r
}

// The role file grants exactly the permissions of the map: sorted, each
// once, none missing, none extra.
func TestRoleFileGrantsExactlyThePermissionsMap(t *testing.T) {
	r := readRole(t)
	for _, k := range []string{"title", "description", "stage"} {
		if r.fields[k] == "" {
			t.Errorf("%s: no %s", roleFile, k)
		}
	}
	if got := r.fields["stage"]; got != "GA" {
		t.Errorf("%s: stage %q, want GA", roleFile, got)
	}
	if !slices.IsSorted(r.permissions) || len(slices.Compact(slices.Clone(r.permissions))) != len(r.permissions) {
		t.Errorf("%s: includedPermissions are not sorted and unique: %v", roleFile, r.permissions)
	}
	want := RolePermissions()
	var missing, extra []string
	for _, p := range want {
		if !slices.Contains(r.permissions, p) {
			missing = append(missing, p)
		}
	}
	for _, p := range r.permissions {
		if !slices.Contains(want, p) {
			extra = append(extra, p)
		}
	}
	if len(missing)+len(extra) > 0 {
		t.Errorf("%s lacks %v and grants %v that no method of iam.go needs", roleFile, missing, extra)
	}
}

// Every method of the map is one operationOf can report, with its own
// permission first: "regionUrlMaps.update" needs compute.regionUrlMaps.update
// (waits excepted, which are authorized as gets).
func TestPermissionsByMethod(t *testing.T) {
	waits := map[string]string{"regionOperations.wait": "compute.regionOperations.get", "zoneOperations.wait": "compute.zoneOperations.get"}
	verbs := map[string]string{"insert": "create", "aggregatedList": "list", "listNetworkEndpoints": "get"}
	for _, m := range Methods() {
		ps, _ := Permissions(m)
		resource, verb, ok := strings.Cut(m, ".")
		if !ok || len(ps) == 0 {
			t.Errorf("%s: %v", m, ps)
			continue
		}
		own := "compute." + resource + "." + verb
		if v, ok := verbs[verb]; ok {
			own = "compute." + resource + "." + v
		}
		if w, ok := waits[m]; ok {
			own = w
		}
		if ps[0] != own {
			t.Errorf("%s needs %v, first %s", m, ps, own)
		}
		for _, p := range ps {
			if !strings.HasPrefix(p, "compute.") || strings.Count(p, ".") != 2 {
				t.Errorf("%s: permission %q is not compute.<resource>.<verb>", m, p)
			}
		}
	}
	// A sample of paths the provider calls, through the id the counter
	// gives them.
	for _, c := range []struct{ method, path string }{
		{"PUT", "/compute/v1/projects/p/regions/r/urlMaps/m"},
		{"POST", "/compute/v1/projects/p/zones/z/networkEndpointGroups/n/attachNetworkEndpoints"},
		{"POST", "/compute/v1/projects/p/zones/z/networkEndpointGroups/n/listNetworkEndpoints"},
		{"GET", "/compute/v1/projects/p/aggregated/networkEndpointGroups"},
		{"POST", "/compute/v1/projects/p/regions/r/operations/o/wait"},
		{"POST", "/compute/v1/projects/p/regions/r/targetHttpsProxies/x/setSslCertificates"},
	} {
		if op := operationOf(c.method, c.path); !slices.Contains(Methods(), op) {
			t.Errorf("%s %s is %q, which has no permissions", c.method, c.path, op)
		}
	}
}
