package dataplane

import (
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

func recompileSpec(target string, paths ...string) Spec {
	vh := lb.VirtualHost{}
	for _, p := range paths {
		vh.Rules = append(vh.Rules, lb.Rule{Name: p, Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: p}},
			Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "g", Weight: 1}}}})
	}
	return Spec{
		Listeners:    []lb.Listener{{Name: "http", Port: 80, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{vh}}},
		TargetGroups: []lb.TargetGroup{{Name: "g", Protocol: lb.ProtocolHTTP, Targets: []lb.Target{{IP: target, Port: 8080}}}},
	}
}

// compiledRule is c's compiled rule of that name in the listener "http".
func compiledRule(c *Compiled, name string) (rule, bool) {
	for _, t := range c.tables {
		for _, v := range t.vhosts {
			for _, r := range v.rules {
				if t.name == "http" && r.name == name {
					return r, true
				}
			}
		}
	}
	return rule{}, false
}

// target is where the compiled rule named path of c sends its requests.
func target(t *testing.T, c *Compiled, path string) string {
	t.Helper()
	r, ok := compiledRule(c, path)
	if !ok || len(r.action.backends) != 1 || r.action.backends[0].group == nil || len(r.action.backends[0].group.targets) != 1 {
		t.Fatalf("rule %s compiled to %+v", path, r)
	}
	return r.action.backends[0].group.targets[0].Host
}

// Kept rules are taken from the earlier compile, but never with a target
// group that changed since: an endpoint change reaches every rule that
// forwards to it.
func TestRecompileKeepsOnlyWhatStillHolds(t *testing.T) {
	prev, err := Compile(recompileSpec("192.0.2.1", "/a", "/b"))
	if err != nil {
		t.Fatal(err)
	}
	next, err := Recompile(prev, recompileSpec("192.0.2.2", "/a", "/b", "/c"), Unchanged{Rules: map[string][]Run{"http": {{Len: 2}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/a", "/b", "/c"} {
		if got := target(t, next, p); got != "192.0.2.2:8080" {
			t.Errorf("after the group changed, %s goes to %s", p, got)
		}
	}
	// With the group kept too, a kept rule is the earlier one, group and
	// all; a rule not said to be kept is compiled from the spec.
	spec := recompileSpec("192.0.2.2", "/a", "/b", "/c")
	spec.Listeners[0].VirtualHosts[0].Rules[1].Action.Forward = nil
	spec.Listeners[0].VirtualHosts[0].Rules[1].Action.FixedResponse = &lb.FixedResponse{StatusCode: 204}
	again, err := Recompile(next, spec, Unchanged{Rules: map[string][]Run{"http": {{Len: 1}}}, TargetGroups: map[string]bool{"g": true}})
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := compiledRule(again, "/a"); a.action.backends[0].group != next.groups["g"] {
		t.Error("a kept rule on a kept group was compiled again")
	}
	if b, _ := compiledRule(again, "/b"); b.action.status != 204 {
		t.Errorf("a changed rule kept its old action (status %d)", b.action.status)
	}
}

// A run takes the earlier rules by position, wherever they moved to; a
// run that names the wrong rules costs a compile, never a wrong rule.
func TestRecompileRunsByPosition(t *testing.T) {
	prev, err := Compile(recompileSpec("192.0.2.1", "/a", "/b"))
	if err != nil {
		t.Fatal(err)
	}
	spec := recompileSpec("192.0.2.1", "/x", "/a", "/b")
	groups := map[string]bool{"g": true}
	// kept says whether c's rule of that path is prev's (the same
	// compiled matcher) rather than compiled again.
	kept := func(c *Compiled, path string) bool {
		r, ok := compiledRule(c, path)
		if !ok || r.path == nil || r.path.value != path {
			t.Fatalf("rule %s compiled to %+v", path, r)
		}
		old, ok := compiledRule(prev, path)
		return ok && old.path == r.path
	}
	next, err := Recompile(prev, spec, Unchanged{Rules: map[string][]Run{"http": {{At: 1, Len: 2}}}, TargetGroups: groups})
	if err != nil {
		t.Fatal(err)
	}
	if kept(next, "/x") || !kept(next, "/a") || !kept(next, "/b") {
		t.Error("a run moved by one rule did not keep exactly /a and /b")
	}
	// Off by one: /x, /a and /b against /a, /b and nothing.
	wrong, err := Recompile(prev, spec, Unchanged{Rules: map[string][]Run{"http": {{Len: 3}}}, TargetGroups: groups})
	if err != nil {
		t.Fatal(err)
	}
	if kept(wrong, "/x") || kept(wrong, "/a") || kept(wrong, "/b") {
		t.Error("a run that names the wrong rules kept one")
	}
}
