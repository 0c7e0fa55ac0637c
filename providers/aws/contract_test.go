package aws

import (
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers/providertest"
)

// TestContract runs the provider contract suite against moto, for the
// features Capabilities declares.
func TestContract(t *testing.T) {
	te := start(t)
	providertest.Run(t, func(t *testing.T) providertest.Env {
		return providertest.Env{Provider: te.prov, Cloud: te, Target: lb.Target{IP: "10.0.1.10", Port: 8080},
			// ALB's regexes have no Unicode classes: a header regex with
			// one cannot be expressed, and is refused by name.
			RefuseRule: func(r *lb.Rule) {
				r.Match.Headers = []lb.HeaderMatch{{Name: "x-env", Type: lb.MatchRegex, Value: `\p{Lu}+`}}
			}}
	})
}
