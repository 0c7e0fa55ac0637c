package providers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

func steps(a providers.Action, k providers.Kind, n int) []providers.Step {
	out := make([]providers.Step, n)
	for i := range out {
		out[i] = providers.Step{Kind: k, LogicalID: string(k), Action: a, Why: "test"}
	}
	return out
}

func planOf(parts ...[]providers.Step) providers.Plan {
	var p providers.Plan
	for _, s := range parts {
		p.Steps = append(p.Steps, s...)
	}
	return p
}

func TestSummary(t *testing.T) {
	const (
		create   = providers.ActionCreate
		update   = providers.ActionUpdate
		recreate = providers.ActionRecreate
		del      = providers.ActionDelete
		nothing  = providers.ActionNothing
	)
	for _, c := range []struct {
		name string
		plan providers.Plan
		want string
	}{
		{"empty", providers.Plan{}, "no changes"},
		{"only unchanged", planOf(steps(nothing, providers.KindRule, 3)), "no changes"},
		{"a new load balancer",
			// In apply order (target groups first); the summary lists kinds
			// in the model's order.
			planOf(steps(create, providers.KindTargetGroup, 10), steps(create, providers.KindLoadBalancer, 1),
				steps(create, providers.KindListener, 2), steps(create, providers.KindRule, 20)),
			"created 1 load balancer, 2 listeners, 20 rules, 10 target groups"},
		{"actions in order, whatever the steps' order",
			planOf(steps(del, providers.KindTargetGroup, 1), steps(nothing, providers.KindListener, 1),
				steps(update, providers.KindRule, 2), steps(recreate, providers.KindTargetGroup, 1),
				steps(create, providers.KindRule, 1)),
			"created 1 rule; updated 2 rules; recreated 1 target group; deleted 1 target group"},
		{"a cloud's own kinds after the model's, as the plan names them",
			planOf(steps(create, "security group", 2), steps(create, "URL map", 1), steps(create, "address", 2),
				steps(create, "target proxy", 2), steps(create, providers.KindCertificate, 1), steps(create, "security group", 1)),
			"created 1 certificate, 3 security groups, 1 URL map, 2 addresses, 2 target proxies"},
		{"streams and certificates",
			planOf(steps(update, providers.KindCertificate, 2), steps(del, providers.KindStream, 2)),
			"updated 2 certificates; deleted 2 streams"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.plan.Summary(); got != c.want {
				t.Errorf("Summary() = %q, want %q", got, c.want)
			}
			// A dry run says the same in the conditional.
			pending := strings.NewReplacer("created", "would create", "updated", "would update",
				"recreated", "would recreate", "deleted", "would delete").Replace(c.want)
			if got := c.plan.PendingSummary(); got != pending {
				t.Errorf("PendingSummary() = %q, want %q", got, pending)
			}
			if changes := c.want != "no changes"; c.plan.Changes() != changes {
				t.Errorf("Changes() = %v, want %v", c.plan.Changes(), changes)
			}
		})
	}
}

func TestPlanString(t *testing.T) {
	p := providers.Plan{Steps: []providers.Step{
		{Kind: providers.KindLoadBalancer, LogicalID: "loadbalancer", CloudID: "lb-1", Action: providers.ActionNothing, Why: providers.WhyUpToDate},
		{Kind: providers.KindRule, LogicalID: "http/ns/web/rule-0", CloudID: "lb-1", Action: providers.ActionUpdate, Why: providers.WhyChanged,
			Diff: providers.Diff{{Field: "match.path.value", Old: `"/"`, New: `"/a"`}, {Field: "action.forward[0].weight", Old: "1", New: "2"}}},
		{Kind: providers.KindTargetGroup, LogicalID: "ns/web:80", Action: providers.ActionCreate, Why: providers.WhyMissing},
	}}
	want := `created 1 target group; updated 1 rule
  Update rule "http/ns/web/rule-0" (lb-1): differs from the model
      match.path.value: "/" → "/a"
      action.forward[0].weight: 1 → 2
  Create target group "ns/web:80": in the model, not in the cloud
  (1 unchanged)`
	if got := p.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
	pending := "would create 1 target group; would update 1 rule" + want[strings.Index(want, "\n"):]
	if got := p.Pending(); got != pending {
		t.Errorf("Pending() =\n%s\nwant\n%s", got, pending)
	}
	if got, want := p.Steps[1].String(), `Update rule "http/ns/web/rule-0" (lb-1): differs from the model: match.path.value: "/" → "/a"; action.forward[0].weight: 1 → 2`; got != want {
		t.Errorf("Step.String() =\n%s\nwant\n%s", got, want)
	}
	if n := p.Count(providers.ActionCreate, providers.KindTargetGroup); n != 1 {
		t.Errorf("Count(Create, target group) = %d", n)
	}
}

func TestCompare(t *testing.T) {
	ten := 10 * time.Second
	old := lb.Rule{Name: "r", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/"},
		Headers: []lb.HeaderMatch{{Name: "x-a", Type: lb.MatchExact, Value: "1"}, {Name: "x-b", Type: lb.MatchExact, Value: "2"}}},
		Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "g", Weight: 1}}, Timeouts: &lb.Timeouts{Request: ten}}}
	cur := old
	cur.Match.Path = &lb.PathMatch{Type: lb.MatchPrefix, Value: "/api"}
	cur.Match.Headers = []lb.HeaderMatch{{Name: "x-c", Type: lb.MatchExact, Value: "3"}, {Name: "x-a", Type: lb.MatchRegex, Value: "1"}}
	cur.Action.Forward = []lb.WeightedBackend{{TargetGroup: "g", Weight: 1}, {TargetGroup: "h", Weight: 1}}
	cur.Action.Timeouts = &lb.Timeouts{Request: time.Minute}
	cur.Action.Retry = &lb.Retry{Attempts: 2, Codes: []int{503}}
	got := providers.Compare(old, cur).String()
	want := strings.Join([]string{
		`match.path.value: "/" → "/api"`,
		`match.headers[x-a].type: "Exact" → "Regex"`,
		`match.headers[x-b]: {name: "x-b", type: "Exact", value: "2"} → none`,
		`match.headers[x-c]: none → {name: "x-c", type: "Exact", value: "3"}`,
		`action.forward: [{targetGroup: "g", weight: 1}] → [{targetGroup: "g", weight: 1}, {targetGroup: "h", weight: 1}]`,
		`action.timeouts.request: 10s → 1m0s`,
		`action.retry: none → {attempts: 2, codes: [503]}`,
	}, "; ")
	if got != want {
		t.Errorf("Compare =\n%s\nwant\n%s", strings.ReplaceAll(got, "; ", "\n"), strings.ReplaceAll(want, "; ", "\n"))
	}

	if d := providers.Compare(lb.Match{}, lb.Match{Headers: []lb.HeaderMatch{}}); len(d) != 0 {
		t.Errorf("nil and empty compare unequal: %s", d)
	}
	if d := providers.Compare(map[string]string{"a": "1", "b": "2"}, map[string]string{"b": "3", "c": "4"}).String(); d != `[a]: "1" → none; [b]: "2" → "3"; [c]: none → "4"` {
		t.Errorf("map diff = %s", d)
	}
	order := providers.Compare([]lb.TargetGroup{{Name: "a"}, {Name: "b"}}, []lb.TargetGroup{{Name: "b"}, {Name: "a"}}).String()
	if order != "value order: [a, b] → [b, a]" {
		t.Errorf("reordered names = %s", order)
	}
	if d := providers.Compare("x", "y").String(); d != `value: "x" → "y"` {
		t.Errorf("scalar diff = %s", d)
	}
}

func TestCompareRedactsSecrets(t *testing.T) {
	key := []byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n")
	key2 := []byte("-----BEGIN PRIVATE KEY-----\nYW5vdGhlci1rZXk=\n-----END PRIVATE KEY-----\n")
	cert := lb.Certificate{Name: "ns/tls", CertPEM: []byte("cert-1"), KeyPEM: key}
	renewed := lb.Certificate{Name: "ns/tls", CertPEM: []byte("cert-2"), KeyPEM: key2}
	type sdkCertificate struct { // how a cloud SDK may spell it
		Arn        *string
		PrivateKey *string
		Password   string
	}
	s1, s2 := string(key), string(key2)
	arn := "arn:1"
	for _, c := range []struct {
		name     string
		old, new any
		want     string
	}{
		{"a renewed certificate", cert, renewed, `certPEM: sha256:`},
		{"a certificate added to a list", lb.VirtualHost{}, lb.VirtualHost{Certificates: []lb.Certificate{cert}},
			`certificates[ns/tls]: none → {name: "ns/tls", certPEM: sha256:`},
		{"a key alone", cert, lb.Certificate{Name: "ns/tls", CertPEM: cert.CertPEM, KeyPEM: key2},
			`keyPEM: <redacted> → <redacted>`},
		{"a key removed", cert, lb.Certificate{Name: "ns/tls", CertPEM: cert.CertPEM},
			`keyPEM: <redacted> → none`},
		{"an SDK's secret fields", sdkCertificate{Arn: &arn, PrivateKey: &s1, Password: "hunter2"}, sdkCertificate{Arn: &arn, PrivateKey: &s2, Password: "hunter3"},
			`privateKey: <redacted> → <redacted>; password: <redacted> → <redacted>`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := providers.Compare(c.old, c.new).String()
			if !strings.HasPrefix(got, c.want) {
				t.Errorf("Compare = %s, want it to start with %s", got, c.want)
			}
			for _, secret := range []string{"PRIVATE KEY", "c2VjcmV0", "YW5vdGhlci1rZXk", "hunter"} {
				if strings.Contains(got, secret) {
					t.Errorf("Compare prints the secret %q: %s", secret, got)
				}
			}
		})
	}
}
