package emulated

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// This file is the plan's comparison of rules, the one part of a load
// balancer that comes by the thousand. A change to one route of thousands
// must cost about one rule, so an unchanged rule costs a comparison of its
// fields (lb.Rule.Equal) and no allocation: it is found at the position where
// the rule before it leaves off, and its logical id comes from the view
// planned on (ruleIDs).

// source is where a listener of the view planned on holds a rule: the
// index of its virtual host and the rule's index there. host is -1 for
// none.
type source struct{ host, at int32 }

var noSource = source{host: -1}

// ruleIDs are the logical ids ("listener/rule") of a spec's rules, by
// listener, virtual host and rule index, as a plan made them: remembered
// with the view a write leaves, so that the next plan on it takes them
// instead of concatenating a string per rule. Nil when unknown (a view
// read from the cloud).
type ruleIDs [][][]string

// listenerRules is diffRules' result for one listener of want.
type listenerRules struct {
	// steps are the steps diffRules was given, then a step per rule of
	// want, in its order.
	steps []providers.Step
	// kept are, by virtual host and rule of want, where the listener
	// planned on holds the same rule: the rules a write keeps.
	kept [][]source
	// ids are the logical ids of want's rules, by virtual host and rule.
	ids [][]string
	// list is what changed in the lists of rule names of the virtual
	// hosts (their order is precedence): part of the listener's step.
	list providers.Diff
	// deletes are the steps of cur's rules that want does not have.
	deletes []providers.Step
}

// diffRules compares the rules of want with those of cur (the listener of
// the same name planned on, nil for none; memo its ids, or nil). Their
// steps are appended to steps.
func diffRules(steps []providers.Step, cur *lb.Listener, memo [][]string, want *lb.Listener, cloudID string) listenerRules {
	out := listenerRules{steps: steps}
	base := len(steps)
	f := newFinder(cur)
	out.kept = make([][]source, len(want.VirtualHosts))
	out.ids = make([][]string, len(want.VirtualHosts))
	// at are the positions in cur of want's rules, changed or not.
	at := make([][]source, len(want.VirtualHosts))
	type missing struct{ host, i int }
	var misses []missing
	for h, vh := range want.VirtualHosts {
		out.kept[h] = make([]source, len(vh.Rules))
		out.ids[h] = make([]string, len(vh.Rules))
		at[h] = make([]source, len(vh.Rules))
		for i := range vh.Rules {
			s, ok := f.near(vh.Rules[i].Name)
			if !ok {
				// Most likely new; settled once every other rule
				// has found its own (it may have moved far).
				misses = append(misses, missing{h, i})
				out.steps = append(out.steps, providers.Step{})
				at[h][i] = noSource
				continue
			}
			at[h][i] = s
			out.steps = append(out.steps, compareRule(cur, memo, s, want, h, i, cloudID, &out))
		}
	}
	if len(misses) > 0 {
		step := 0
		index := f.unmatched()
		for _, m := range misses {
			// The step's index in want's order.
			step = base + m.i
			for h := range m.host {
				step += len(want.VirtualHosts[h].Rules)
			}
			if s, ok := index[want.VirtualHosts[m.host].Rules[m.i].Name]; ok && !f.taken(s) {
				f.take(s)
				at[m.host][m.i] = s
				out.steps[step] = compareRule(cur, memo, s, want, m.host, m.i, cloudID, &out)
				continue
			}
			out.kept[m.host][m.i] = noSource
			id := want.Name + "/" + want.VirtualHosts[m.host].Rules[m.i].Name
			out.ids[m.host][m.i] = id
			out.steps[step] = providers.Step{Kind: providers.KindRule, LogicalID: id, CloudID: cloudID,
				Action: providers.ActionCreate, Why: providers.WhyMissing}
		}
	}
	if cur != nil {
		for h, vh := range cur.VirtualHosts {
			for i, r := range vh.Rules {
				if s := (source{int32(h), int32(i)}); !f.taken(s) {
					out.deletes = append(out.deletes, providers.Step{Kind: providers.KindRule, LogicalID: ruleID(memo, cur, s, r.Name),
						CloudID: cloudID, Action: providers.ActionDelete, Why: providers.WhyUnwanted})
				}
			}
		}
	}
	out.list = ruleLists(cur, want, at)
	return out
}

// compareRule is the step of want's rule i of virtual host h, which cur
// holds at s, and records whether it is kept.
func compareRule(cur *lb.Listener, memo [][]string, s source, want *lb.Listener, h, i int, cloudID string, out *listenerRules) providers.Step {
	old, r := &cur.VirtualHosts[s.host].Rules[s.at], &want.VirtualHosts[h].Rules[i]
	id := ruleID(memo, cur, s, r.Name)
	out.ids[h][i] = id
	st := providers.Step{Kind: providers.KindRule, LogicalID: id, CloudID: cloudID, Action: providers.ActionNothing, Why: providers.WhyUpToDate}
	out.kept[h][i] = s
	if old.Equal(r) {
		return st
	}
	// Compare holds nil and empty alike, as Rule.Equal does; it decides
	// whatever else Rule.Equal does not.
	if d := providers.Compare(ruleView{Match: old.Match, Action: old.Action}, ruleView{Match: r.Match, Action: r.Action}); len(d) > 0 {
		st.Action, st.Why, st.Diff = providers.ActionUpdate, providers.WhyChanged, d
		out.kept[h][i] = noSource
	}
	return st
}

// ruleID is the logical id of the rule cur holds at s: memo's when it has
// it. memo is only ever a saving: an id of another rule is not taken.
func ruleID(memo [][]string, cur *lb.Listener, s source, name string) string {
	if int(s.host) < len(memo) && int(s.at) < len(memo[s.host]) {
		if id := memo[s.host][s.at]; len(id) == len(cur.Name)+1+len(name) &&
			strings.HasPrefix(id, cur.Name) && id[len(cur.Name)] == '/' && strings.HasSuffix(id, name) {
			return id
		}
	}
	return cur.Name + "/" + name
}

// finder finds rules of a listener by name, expecting them in the order
// it holds them: a plan's rules are mostly the ones planned on, in the
// same order, with a few added or removed between them.
type finder struct {
	l *lb.Listener
	// next is where the rule after the one found last would be.
	next source
	// offsets are the index of each virtual host's first rule among
	// all of the listener's, for taken.
	offsets []int
	found   []bool
}

// lookAhead is how many rules near tries past the expected one: enough to
// step over the rules a route removed.
const lookAhead = 8

func newFinder(l *lb.Listener) *finder {
	f := &finder{l: l}
	if l == nil {
		return f
	}
	f.offsets = make([]int, len(l.VirtualHosts))
	n := 0
	for h, vh := range l.VirtualHosts {
		f.offsets[h] = n
		n += len(vh.Rules)
	}
	f.found = make([]bool, n)
	return f
}

// near looks for name at the expected position and the few after it,
// and takes what it finds.
func (f *finder) near(name string) (source, bool) {
	if f.l == nil {
		return noSource, false
	}
	h, at := int(f.next.host), int(f.next.at)
	for range lookAhead + 1 {
		for h < len(f.l.VirtualHosts) && at >= len(f.l.VirtualHosts[h].Rules) {
			h, at = h+1, 0
		}
		if h >= len(f.l.VirtualHosts) {
			break
		}
		if s := (source{int32(h), int32(at)}); f.l.VirtualHosts[h].Rules[at].Name == name && !f.taken(s) {
			f.take(s)
			return s, true
		}
		at++
	}
	return noSource, false
}

func (f *finder) taken(s source) bool { return f.found[f.offsets[s.host]+int(s.at)] }

func (f *finder) take(s source) {
	f.found[f.offsets[s.host]+int(s.at)] = true
	f.next = source{s.host, s.at + 1}
}

// unmatched indexes the rules not taken yet by name (the first of a
// name, should a listener read from the cloud have two).
func (f *finder) unmatched() map[string]source {
	index := map[string]source{}
	if f.l == nil {
		return index
	}
	for h, vh := range f.l.VirtualHosts {
		for i, r := range vh.Rules {
			s := source{int32(h), int32(i)}
			if _, dup := index[r.Name]; !dup && !f.taken(s) {
				index[r.Name] = s
			}
		}
	}
	return index
}

// maxListed is the longest list of rule names a listener's diff prints
// whole; a longer one is told by its counts, which a change of one rule
// of thousands does not make thousands of names long (the rules' own steps
// say which were created and deleted).
const maxListed = 16

// ruleLists is what changed in the rule lists of want's virtual hosts
// against cur's of the same hostname, given where cur holds each of
// want's rules (at).
func ruleLists(cur *lb.Listener, want *lb.Listener, at [][]source) providers.Diff {
	var d providers.Diff
	host := func(hostname string) int {
		if cur == nil {
			return -1
		}
		return slices.IndexFunc(cur.VirtualHosts, func(vh lb.VirtualHost) bool { return vh.Hostname == hostname })
	}
	for h, vh := range want.VirtualHosts {
		path := "virtualHosts[" + quoteKey(vh.Hostname) + "].rules"
		ch := host(vh.Hostname)
		if ch < 0 {
			if len(vh.Rules) > 0 {
				d = append(d, providers.FieldChange{Field: path, Old: "none", New: names(vh.Rules)})
			}
			continue
		}
		old := cur.VirtualHosts[ch].Rules
		same, inOrder, stayed := len(old) == len(vh.Rules), true, 0
		last := int32(-1)
		for _, s := range at[h] {
			if int(s.host) != ch {
				same = false
				continue
			}
			stayed++
			if s.at <= last {
				inOrder = false
			}
			last = s.at
		}
		if same && inOrder && stayed == len(old) {
			// Every rule of the host where it was: sorted and one
			// to one, so at[h][i] is (ch, i).
			continue
		}
		switch {
		case len(old) > maxListed || len(vh.Rules) > maxListed:
			order := ""
			if !inOrder {
				order = ", reordered"
			}
			d = append(d, providers.FieldChange{Field: path, Old: fmt.Sprintf("[%d rules]", len(old)),
				New: fmt.Sprintf("[%d rules: %d added, %d removed%s]", len(vh.Rules), len(vh.Rules)-stayed, len(old)-stayed, order)})
		case len(old) != len(vh.Rules):
			d = append(d, providers.FieldChange{Field: path, Old: names(old), New: names(vh.Rules)})
		default:
			for i := range old {
				if old[i].Name != vh.Rules[i].Name {
					d = append(d, providers.FieldChange{Field: path + "[" + strconv.Itoa(i) + "]",
						Old: strconv.Quote(old[i].Name), New: strconv.Quote(vh.Rules[i].Name)})
				}
			}
		}
	}
	if cur != nil {
		for _, vh := range cur.VirtualHosts {
			if len(vh.Rules) > 0 && !slices.ContainsFunc(want.VirtualHosts, func(w lb.VirtualHost) bool { return w.Hostname == vh.Hostname }) {
				d = append(d, providers.FieldChange{Field: "virtualHosts[" + quoteKey(vh.Hostname) + "].rules", Old: names(vh.Rules), New: "none"})
			}
		}
	}
	return d
}

// names prints a list of rules by name as providers.Compare prints a list
// of strings, or by its length when it is longer than maxListed.
func names(rules []lb.Rule) string {
	if len(rules) > maxListed {
		return fmt.Sprintf("[%d rules]", len(rules))
	}
	q := make([]string, len(rules))
	for i, r := range rules {
		q[i] = strconv.Quote(r.Name)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// quoteKey prints a key of a diff's path as providers.Compare does.
func quoteKey(k string) string {
	if k == "" || strings.ContainsAny(k, " []\"\t\n") {
		return strconv.Quote(k)
	}
	return k
}
