package emulated_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// manyRules is a model with n Exact-path rules, all to one group.
func manyRules(o lb.Owner, n int, target lb.Target) *lb.LoadBalancer {
	m := simple(o, 8080, target)
	vh := &m.Listeners[0].VirtualHosts[0]
	vh.Rules = nil
	for i := range n {
		vh.Rules = append(vh.Rules, forward(fmt.Sprintf("r-%d", i), lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: fmt.Sprintf("/r-%d", i)}}, to("g", 1)))
	}
	return m
}

// A change between resyncs writes the change alone, on the view the last
// write left: no read, one write, and the cloud ends up holding the model.
// A model changed by its caller after Ensure does not change that view.
func TestChangeBetweenReadsWritesOnlyTheChange(t *testing.T) {
	srv := startCloud(t)
	p := newProvider(t, srv)
	m := manyRules(owner("many"), 200, deadTarget(t))
	ensure(t, p, m)

	// The caller reuses its model: the provider must have kept its own copy.
	m.Listeners[0].VirtualHosts[0].Rules[3].Match.Path.Value = "/changed"
	m.Listeners[0].VirtualHosts[0].Rules = append(m.Listeners[0].VirtualHosts[0].Rules,
		forward("new", lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/new"}}, to("g", 1)))
	srv.Cloud().ResetStats()
	ensure(t, p, m)
	if st := srv.Cloud().Stats(); st.Reads() != 0 || st.Writes() != 1 {
		t.Errorf("a change between reads cost %d reads and %d writes, want 0 and 1", st.Reads(), st.Writes())
	}
	got := ownedBy(srv.Cloud(), m.Owner)
	if len(got) != 1 || !reflect.DeepEqual(got[0].Spec.Listeners, m.Listeners) || !reflect.DeepEqual(got[0].Spec.TargetGroups, m.TargetGroups) {
		t.Fatalf("the cloud holds %+v, want the model's listeners and groups", got)
	}

	// The same model again (a resync) reads, and finds nothing to write.
	srv.Cloud().ResetStats()
	ensure(t, p, m)
	if st := srv.Cloud().Stats(); st.Reads() != 1 || st.Writes() != 0 {
		t.Errorf("an unchanged model cost %d reads and %d writes, want 1 and 0", st.Reads(), st.Writes())
	}
}

// Plans on the remembered view find every rule wherever it moved: reversed,
// a block removed, one moved to another virtual host. Each write leaves the
// cloud holding the model, and no rule is both created and deleted.
func TestRulesMovedBetweenReads(t *testing.T) {
	srv := startCloud(t)
	p := newProvider(t, srv)
	m := manyRules(owner("moves"), 40, deadTarget(t))
	m.Listeners[0].VirtualHosts = append(m.Listeners[0].VirtualHosts, lb.VirtualHost{Hostname: "b.example.com"})
	ensure(t, p, m)
	vhs := m.Listeners[0].VirtualHosts
	for _, change := range []struct {
		name    string
		do      func()
		deletes int
	}{
		{"reversed", func() { slices.Reverse(vhs[0].Rules) }, 0},
		{"a block removed", func() { vhs[0].Rules = slices.Delete(vhs[0].Rules, 5, 20) }, 15},
		{"moved to another host", func() {
			vhs[1].Rules = append(vhs[1].Rules, vhs[0].Rules[3])
			vhs[0].Rules = slices.Delete(vhs[0].Rules, 3, 4)
		}, 0},
		{"moved last to first, one changed", func() {
			r := vhs[0].Rules
			vhs[0].Rules = append([]lb.Rule{r[len(r)-1]}, r[:len(r)-1]...)
			vhs[0].Rules[7].Match.Path = &lb.PathMatch{Type: lb.MatchExact, Value: "/seven"}
		}, 0},
	} {
		change.do()
		m.Listeners[0].VirtualHosts = vhs
		srv.Cloud().ResetStats()
		res, err := p.Ensure(context.Background(), m)
		if err != nil {
			t.Fatalf("%s: %v", change.name, err)
		}
		if st := srv.Cloud().Stats(); st.Reads() != 0 || st.Writes() != 1 {
			t.Errorf("%s: %d reads and %d writes, want 0 and 1", change.name, st.Reads(), st.Writes())
		}
		if got := ownedBy(srv.Cloud(), m.Owner); len(got) != 1 || !reflect.DeepEqual(got[0].Spec.Listeners, m.Listeners) {
			t.Errorf("%s: the cloud holds %+v, want the model's listeners", change.name, got)
		}
		seen, deletes := map[string]providers.Action{}, 0
		for _, s := range res.Applied.Steps {
			if s.Kind != providers.KindRule {
				continue
			}
			if a, dup := seen[s.LogicalID]; dup {
				t.Errorf("%s: rule %s has two steps, %s and %s", change.name, s.LogicalID, a, s.Action)
			}
			seen[s.LogicalID] = s.Action
			switch s.Action {
			case providers.ActionCreate:
				t.Errorf("%s: %s", change.name, s)
			case providers.ActionDelete:
				deletes++
			}
		}
		if deletes != change.deletes {
			t.Errorf("%s: %d rules deleted, want %d", change.name, deletes, change.deletes)
		}
	}
}
