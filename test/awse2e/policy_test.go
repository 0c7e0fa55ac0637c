package awse2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cloudgate-dev/cloudgate/providers/aws"
	"github.com/cloudgate-dev/cloudgate/test/controlplane"
)

// The IAM policy of deploy/aws/iam-policy.json grants what the provider
// calls and no more; every call that changes something is conditioned on
// the cluster's ownership tag.

type policy struct {
	Version   string
	Statement []struct {
		Sid       string
		Effect    string
		Action    []string
		Resource  any
		Condition map[string]map[string]any
	}
}

func readPolicy() (*policy, error) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy", "aws", "iam-policy.json"))
	if err != nil {
		return nil, err
	}
	var p policy
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func (p *policy) actions() map[string]bool {
	out := map[string]bool{}
	for _, s := range p.Statement {
		for _, a := range s.Action {
			out[a] = true
		}
	}
	return out
}

// impliedBy are the permissions a call needs besides its own: tagging on
// create is authorized as AddTags (ELBv2) and AddTagsToCertificate (ACM)
// too.
var impliedBy = map[string]string{
	"elasticloadbalancing:CreateLoadBalancer": "elasticloadbalancing:AddTags",
	"elasticloadbalancing:CreateTargetGroup":  "elasticloadbalancing:AddTags",
	"elasticloadbalancing:CreateListener":     "elasticloadbalancing:AddTags",
	"elasticloadbalancing:CreateRule":         "elasticloadbalancing:AddTags",
	"acm:ImportCertificate":                   "acm:AddTagsToCertificate",
	"ec2:CreateSecurityGroup":                 "ec2:CreateTags",
}

func readOnly(action string) bool {
	op := action[strings.Index(action, ":")+1:]
	return strings.HasPrefix(op, "Describe") || strings.HasPrefix(op, "List") || strings.HasPrefix(op, "Get")
}

// checkPolicy compares the policy with the operations a full run called:
// it must grant exactly those (and what they imply).
func checkPolicy(called map[string]int) error {
	p, err := readPolicy()
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for a := range called {
		want[a] = true
		if imp := impliedBy[a]; imp != "" {
			want[imp] = true
		}
	}
	have := p.actions()
	var missing, extra []string
	for a := range want {
		if !have[a] {
			missing = append(missing, a)
		}
	}
	for a := range have {
		if !want[a] {
			extra = append(extra, a)
		}
	}
	if len(missing)+len(extra) > 0 {
		slices.Sort(missing)
		slices.Sort(extra)
		return fmt.Errorf("the end-to-end tests called %v; the policy lacks %v and grants %v that no test called", slices.Sorted(maps.Keys(called)), missing, extra)
	}
	return nil
}

// TestPolicyShape checks what a run need not prove: the policy parses,
// grants every operation of the provider's SDK interfaces, and conditions
// each change on the cluster tag.
func TestPolicyShape(t *testing.T) {
	p, err := readPolicy()
	must(t, err)
	if p.Version != "2012-10-17" {
		t.Errorf("Version %q, want 2012-10-17", p.Version)
	}
	have := p.actions()
	for prefix, iface := range map[string]reflect.Type{
		"elasticloadbalancing": reflect.TypeFor[aws.ELBv2](),
		"ec2":                  reflect.TypeFor[aws.EC2](),
		"acm":                  reflect.TypeFor[aws.ACM](),
	} {
		for i := range iface.NumMethod() {
			if a := prefix + ":" + iface.Method(i).Name; !have[a] {
				t.Errorf("the provider can call %s (aws.%s), which the policy does not grant", a, iface.Name())
			}
		}
	}
	for _, s := range p.Statement {
		if s.Effect != "Allow" || s.Resource != "*" {
			t.Errorf("statement %s: Effect %q Resource %v", s.Sid, s.Effect, s.Resource)
		}
		conditioned := false
		for _, keys := range s.Condition {
			for k, v := range keys {
				if strings.HasSuffix(k, "/cloudgate.dev/cluster") && v == "CLUSTER_NAME" {
					conditioned = true
				}
			}
		}
		for _, a := range s.Action {
			if !readOnly(a) && !conditioned {
				t.Errorf("statement %s grants %s without a condition on the cloudgate.dev/cluster tag", s.Sid, a)
			}
		}
	}
}
