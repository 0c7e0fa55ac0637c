package gcp

import (
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
	"github.com/cloudgate-dev/cloudgate/providers/providertest"
)

// TestContract runs the provider contract suite against the compute API
// double, through the real apiv1 REST clients.
func TestContract(t *testing.T) {
	providertest.Run(t, func(t *testing.T) providertest.Env {
		e := newTestEnv(t, gcptest.Config{})
		return providertest.Env{Provider: e.prov, Cloud: e, Target: lb.Target{IP: "10.132.0.10", Port: 8080, Node: "node-a"},
			UserTag: func(k, v string) (string, string) { return labelText(k), labelText(v) },
			// GCP rewrites the prefix a route rule matched: a full-path
			// rewrite on a prefix match cannot be expressed.
			RefuseRule: func(r *lb.Rule) {
				r.Action.Rewrite = &lb.Rewrite{Path: &lb.PathRewrite{Type: lb.RewriteFullPath, Value: "/v2"}}
			},
		}
	})
}
