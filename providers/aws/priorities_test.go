package aws

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func prio(rs ...string) []*rule {
	var out []*rule
	for _, r := range rs {
		out = append(out, &rule{Logical: r})
	}
	return out
}

func have(pairs ...any) map[string]*rule {
	out := map[string]*rule{}
	for i := 0; i < len(pairs); i += 2 {
		out[pairs[i].(string)] = &rule{Logical: pairs[i].(string), Priority: int32(pairs[i+1].(int))}
	}
	return out
}

func TestPriorities(t *testing.T) {
	for _, c := range []struct {
		name string
		want []*rule
		have map[string]*rule
		out  []int32
	}{
		{"fresh", prio("a", "b", "c"), nil, []int32{10, 20, 30}},
		{"unchanged", prio("a", "b"), have("a", 10, "b", 20), []int32{10, 20}},
		{"insert in a gap", prio("a", "x", "b"), have("a", 10, "b", 20), []int32{10, 15, 20}},
		{"append", prio("a", "b", "x"), have("a", 10, "b", 20), []int32{10, 20, 30}},
		{"prepend", prio("x", "a"), have("a", 10), []int32{5, 10}},
		{"moved rule takes a gap", prio("b", "a", "c"), have("a", 10, "b", 20, "c", 30), []int32{20, 25, 30}},
		{"deleted leaves a hole", prio("a", "c"), have("a", 10, "b", 20, "c", 30), []int32{10, 30}},
		// No room between a and b: one of them moves, the rest stay.
		{"no gap: one rule moves", prio("a", "x", "b", "c"), have("a", 10, "b", 11, "c", 100), []int32{10, 20, 30, 100}},
		// Two of the crowded run move (no fewer can), the rest stay.
		{"no gap: the crowded run moves", prio("a", "b", "x", "c", "d", "e"), have("a", 10, "b", 11, "c", 12, "d", 13, "e", 50),
			[]int32{10, 11, 21, 31, 41, 50}},
		// Spread evenly when priorityStep apart does not fit.
		{"no gap: spread", prio("a", "x", "y", "b", "c"), have("a", 10, "b", 11, "c", 20), []int32{10, 12, 15, 17, 20}},
		{"no gap at the bottom", prio("x", "a", "b"), have("a", 1, "b", 2), []int32{10, 20, 30}},
		{"no gap at the top", prio("a", "b", "x"), have("a", 49999, "b", 50000), []int32{10, 20, 30}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := priorities(c.want, c.have); !slices.Equal(got, c.out) {
				t.Errorf("priorities = %v, want %v", got, c.out)
			}
		})
	}
}

func TestPlanRulesMovesInOneCall(t *testing.T) {
	want := prio("b", "a")
	for _, r := range want {
		r.Action = notFound
	}
	hv := []*rule{{Logical: "a", Priority: 10, ARN: "arn-a", Action: notFound}, {Logical: "b", Priority: 20, ARN: "arn-b", Action: notFound}}
	cs := planRules("l", want, hv)
	var actions []string
	runs := 0
	for _, c := range cs {
		actions = append(actions, string(c.step.Action)+" "+c.step.LogicalID)
		if c.run != nil {
			runs++
		}
	}
	if !slices.Equal(actions, []string{"Nothing b", "Update a"}) || runs != 1 {
		t.Errorf("plan = %v with %d calls, want one of the two moved, in one call", actions, runs)
	}
}

// listenerModel is a listener's rules in the model's precedence order, and
// the priorities the cloud holds for them.
type listenerModel struct {
	order []string
	prios map[string]int32
}

func (m *listenerModel) neighbours(i int) (lo, hi int32) {
	lo, hi = 0, maxPriority+1
	if i > 0 {
		lo = m.prios[m.order[i-1]]
	}
	if i < len(m.order) {
		hi = m.prios[m.order[i]]
	}
	return lo, hi
}

// step plans the model's order against the cloud's priorities and applies
// the result, returning how many rules already there changed priority.
func (m *listenerModel) step(t *testing.T, what string) int {
	t.Helper()
	hv := map[string]*rule{}
	for n, p := range m.prios {
		hv[n] = &rule{Logical: n, Priority: p}
	}
	got := priorities(prio(m.order...), hv)
	if len(got) != len(m.order) {
		t.Fatalf("%s: %d priorities for %d rules", what, len(got), len(m.order))
	}
	seen := map[int32]bool{}
	for i, p := range got {
		if p < 1 || p > maxPriority {
			t.Fatalf("%s: priority %d outside 1..%d", what, p, maxPriority)
		}
		if seen[p] {
			t.Fatalf("%s: priority %d twice in %v", what, p, got)
		}
		seen[p] = true
		if i > 0 && p <= got[i-1] {
			t.Fatalf("%s: priorities %v do not follow the model's order %v", what, got, m.order)
		}
	}
	// Sorting the cloud's rules by priority gives the model's order.
	next := map[string]int32{}
	for i, n := range m.order {
		next[n] = got[i]
	}
	byPrio := slices.Clone(m.order)
	slices.SortFunc(byPrio, func(a, b string) int { return int(next[a] - next[b]) })
	if !slices.Equal(byPrio, m.order) {
		t.Fatalf("%s: rules by priority %v, model order %v", what, byPrio, m.order)
	}
	changed := 0
	for n, p := range next {
		if old, ok := m.prios[n]; ok && old != p {
			changed++
		}
	}
	m.prios = next
	return changed
}

// TestPrioritiesProperty applies random sequences of adds, removes and
// reorders to a listener's rules: after every step the priorities are
// unique, within ALB's 1..50000 and sorted as the model's precedence; an
// add or a removal renumbers nothing, and a reorder at most the rule moved
// (or one neighbour instead), whenever its new place had a free priority.
func TestPrioritiesProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	steps, respaces, respaced := 0, 0, 0
	for run := range 200 {
		m := &listenerModel{prios: map[string]int32{}}
		next := 0
		for s := range 100 {
			what := fmt.Sprintf("run %d step %d", run, s)
			op := rng.IntN(10)
			// Adds at one spot again and again use gaps up fast: half of
			// the adds go next to the last one.
			switch {
			case len(m.order) < 90 && (op < 5 || len(m.order) < 2):
				i := rng.IntN(len(m.order) + 1)
				if op < 2 && len(m.order) > 0 {
					i = min(len(m.order), len(m.order)/2)
				}
				lo, hi := m.neighbours(i)
				name := fmt.Sprintf("r%d", next)
				next++
				m.order = slices.Insert(m.order, i, name)
				changed := m.step(t, what+" add")
				if hi-lo >= 2 && changed > 0 {
					t.Fatalf("%s: an add with room between %d and %d renumbered %d rules", what, lo, hi, changed)
				}
				if changed > 0 {
					respaces++
					respaced += changed
				}
			case op < 8 && len(m.order) > 0:
				i := rng.IntN(len(m.order))
				delete(m.prios, m.order[i])
				m.order = slices.Delete(m.order, i, i+1)
				if changed := m.step(t, what+" remove"); changed > 0 {
					t.Fatalf("%s: a removal renumbered %d rules", what, changed)
				}
			case len(m.order) > 1:
				i, j := rng.IntN(len(m.order)), rng.IntN(len(m.order)-1)
				n := m.order[i]
				m.order = slices.Delete(m.order, i, i+1)
				lo, hi := m.neighbours(j)
				m.order = slices.Insert(m.order, j, n)
				changed := m.step(t, what+" reorder")
				if hi-lo >= 2 && changed > 1 {
					t.Fatalf("%s: a move with room between %d and %d renumbered %d rules", what, lo, hi, changed)
				}
				if changed > 1 {
					respaces++
					respaced += changed
				}
			}
			steps++
		}
	}
	if respaces == 0 {
		t.Fatal("no step ever ran out of room: the test does not reach re-spacing")
	}
	t.Logf("%d steps, %d re-spacings moving %.1f rules on average", steps, respaces, float64(respaced)/float64(respaces))
}

// TestPrioritiesMovesFewest compares priorities with a brute force over
// every subset of the rules already there, on small crowded listeners:
// no other choice keeps more rules where they are.
func TestPrioritiesMovesFewest(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for round := range 3000 {
		n := 1 + rng.IntN(9)
		var order []string
		hv := map[string]*rule{}
		var olds []int32
		for i := range n {
			name := fmt.Sprintf("r%d", i)
			order = append(order, name)
			if rng.IntN(3) > 0 { // an existing rule, crowded priorities
				p := int32(1 + rng.IntN(3*n))
				if rng.IntN(8) == 0 {
					p = int32(maxPriority - rng.IntN(n))
				}
				hv[name] = &rule{Logical: name, Priority: p}
			}
		}
		for _, name := range order {
			if h := hv[name]; h != nil {
				olds = append(olds, h.Priority)
			} else {
				olds = append(olds, 0)
			}
		}
		// Priorities must be unique in the cloud: drop duplicates.
		seen := map[int32]bool{}
		for i, name := range order {
			if h := hv[name]; h != nil {
				if seen[h.Priority] {
					delete(hv, name)
					olds[i] = 0
				}
				seen[h.Priority] = true
			}
		}
		got := priorities(prio(order...), hv)
		kept := 0
		for i, p := range got {
			if i > 0 && p <= got[i-1] || p < 1 || p > maxPriority {
				t.Fatalf("round %d: priorities %v for %v", round, got, olds)
			}
			if olds[i] != 0 && olds[i] == p {
				kept++
			}
		}
		if best := bruteKeep(olds); kept != best {
			t.Fatalf("round %d: old %v: priorities %v keep %d, %d can stay", round, olds, got, kept, best)
		}
	}
}

// bruteKeep is the most entries of old (0 for a new rule) that can keep
// their values while every rule gets an increasing priority in 1..50000.
func bruteKeep(old []int32) int {
	best := 0
	for mask := range 1 << len(old) {
		count, ok := 0, true
		lastIdx, lastVal := -1, int32(0)
		for i, v := range old {
			if mask&(1<<i) == 0 {
				continue
			}
			if v == 0 || int64(v)-int64(lastVal) < int64(i-lastIdx) {
				ok = false
				break
			}
			lastIdx, lastVal = i, v
			count++
		}
		if ok && int64(maxPriority+1)-int64(lastVal) >= int64(len(old)-lastIdx) && count > best {
			best = count
		}
	}
	return best
}
