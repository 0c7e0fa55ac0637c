package emulated_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
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
