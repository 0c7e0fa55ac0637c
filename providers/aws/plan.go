package aws

import (
	"context"
	"maps"
	"net"
	"slices"
	"strconv"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"

	"github.com/cloudgate-dev/cloudgate/providers"
)

// Kind of the targets a target group holds, one step per target.
const kindTarget providers.Kind = "target"

// Priorities: new rules go priorityStep after the one before them, so that
// later insertions find a gap; ALB's highest is 50000.
const (
	priorityStep = 10
	maxPriority  = 50000
)

// change is one step and what carries it out; run is nil for a step that
// needs no call of its own (nothing to do, or its holder goes).
type change struct {
	step providers.Step
	run  func(ctx context.Context, a *applier, c *change) error
}

// plan is the pure diff of desired against observed, as changes in the
// order they run: certificates, target groups, load balancer, listeners, rules, targets
// are created or updated; then unwanted rules before listeners, listeners
// before the load balancer, the load balancer before target groups go, and certificates go last.
// (Unwanted rules and listeners go before the creates on their level, which
// may need their priority or port.)
func plan(want *state, have *observed) []*change {
	var out []*change
	add := func(c *change) { out = append(out, c) }
	step := func(kind providers.Kind, logical, cloudID string, act providers.Action, why string, diff providers.Diff) providers.Step {
		return providers.Step{Kind: kind, LogicalID: logical, CloudID: cloudID, Action: act, Why: why, Diff: diff}
	}

	// Certificates to import first; those that go, last.
	certsFirst, certsLast := planCertificates(want.Certs, have.Certs)
	out = append(out, certsFirst...)
	// The owned security group before the load balancer that uses it; it
	// goes after the load balancer.
	sgFirst, sgLast := planSecurity(want.Security, have.Security)
	out = append(out, sgFirst...)

	// Target groups, matched by name (which covers the protocol).
	haveGroups := map[string]*targetGroup{}
	for _, g := range have.Groups {
		haveGroups[g.Name] = g
	}
	wantGroups := map[string]bool{}
	for _, g := range want.Groups {
		wantGroups[g.Name] = true
		h := haveGroups[g.Name]
		switch {
		case h == nil:
			if old := replacedGroup(g, have.Groups); old != nil {
				// The name covers the protocol: a new group takes over,
				// and the old one goes once nothing forwards to it.
				add(&change{step: step(providers.KindTargetGroup, g.Logical, old.ARN, providers.ActionRecreate,
					"protocol and protocol version cannot change in place", providers.Compare(old, g)), run: createGroup(g)})
			} else {
				add(&change{step: step(providers.KindTargetGroup, g.Logical, "", providers.ActionCreate, providers.WhyMissing, nil), run: createGroup(g)})
			}
			// Its targets at once, before any listener or rule forwards
			// to it: a switch to a new group never meets an empty one.
			out = append(out, planTargets(g, nil)...)
		default:
			if d := providers.Compare(h, g); len(d) > 0 {
				add(&change{step: step(providers.KindTargetGroup, g.Logical, h.ARN, providers.ActionUpdate, providers.WhyChanged, d), run: updateGroup(h, g)})
			} else {
				add(&change{step: step(providers.KindTargetGroup, g.Logical, h.ARN, providers.ActionNothing, providers.WhyUpToDate, nil)})
			}
		}
	}

	// The load balancer. A scheme or address type change recreates it,
	// and its listeners and rules with it.
	haveLB := have.LB
	var lbGoes []*change
	recreated := false
	switch {
	case want.LB == nil && haveLB != nil:
		lbGoes = append(lbGoes, &change{step: step(providers.KindLoadBalancer, logicalLB, haveLB.ARN, providers.ActionDelete, providers.WhyUnwanted, nil), run: deleteLB(haveLB)})
	case want.LB != nil && haveLB == nil:
		add(&change{step: step(providers.KindLoadBalancer, logicalLB, "", providers.ActionCreate, providers.WhyMissing, nil), run: createLB(want.LB, nil)})
	case want.LB != nil:
		d := providers.Compare(haveLB, want.LB)
		switch {
		case haveLB.Scheme != want.LB.Scheme || haveLB.IPAddressType != want.LB.IPAddressType || haveLB.Name != want.LB.Name:
			recreated = true
			for _, l := range have.Listeners {
				for _, r := range have.Rules[l.Logical] {
					add(&change{step: step(providers.KindRule, r.Logical, r.ARN, providers.ActionDelete, providers.WhyHolderGoes, nil)})
				}
				add(&change{step: step(providers.KindListener, l.Logical, l.ARN, providers.ActionDelete, providers.WhyHolderGoes, nil)})
			}
			add(&change{step: step(providers.KindLoadBalancer, logicalLB, haveLB.ARN, providers.ActionRecreate,
				"scheme, address type and name cannot change in place", d), run: createLB(want.LB, haveLB)})
		case len(d) > 0:
			add(&change{step: step(providers.KindLoadBalancer, logicalLB, haveLB.ARN, providers.ActionUpdate, providers.WhyChanged, d), run: updateLB(haveLB, want.LB)})
		default:
			add(&change{step: step(providers.KindLoadBalancer, logicalLB, haveLB.ARN, providers.ActionNothing, providers.WhyUpToDate, nil)})
		}
	}
	for _, x := range have.extraLBs {
		lbGoes = append(lbGoes, &change{step: step(providers.KindLoadBalancer, logicalLB, x.ARN, providers.ActionDelete, "a second load balancer with the same owner", nil), run: deleteLB(x)})
	}

	// Listeners and their rules.
	haveListeners := map[string]*listener{}
	if !recreated {
		for _, l := range have.Listeners {
			haveListeners[l.Logical] = l
		}
	}
	wantListeners := map[string]bool{}
	for _, l := range want.Listeners {
		wantListeners[l.Logical] = true
	}
	lbDeleted := want.LB == nil
	for _, l := range have.Listeners {
		if recreated || wantListeners[l.Logical] {
			continue
		}
		why, run := providers.WhyUnwanted, deleteListener(l)
		if lbDeleted {
			why, run = providers.WhyHolderGoes, nil
		}
		for _, r := range have.Rules[l.Logical] {
			add(&change{step: step(providers.KindRule, r.Logical, r.ARN, providers.ActionDelete, providers.WhyHolderGoes, nil)})
		}
		c := &change{step: step(providers.KindListener, l.Logical, l.ARN, providers.ActionDelete, why, nil), run: run}
		if lbDeleted {
			lbGoes = append([]*change{c}, lbGoes...)
		} else {
			add(c)
		}
	}
	for _, l := range want.Listeners {
		h := haveListeners[l.Logical]
		if h == nil {
			add(&change{step: step(providers.KindListener, l.Logical, "", providers.ActionCreate, providers.WhyMissing, nil), run: createListener(l)})
		} else if d := providers.Compare(h, l); len(d) > 0 {
			add(&change{step: step(providers.KindListener, l.Logical, h.ARN, providers.ActionUpdate, providers.WhyChanged, d), run: updateListener(h, l)})
		} else {
			add(&change{step: step(providers.KindListener, l.Logical, h.ARN, providers.ActionNothing, providers.WhyUpToDate, nil)})
		}
		out = append(out, planRules(l.Logical, want.Rules[l.Logical], rulesOf(have, h))...)
	}

	nlbFirst, nlbGoes := planNLB(want, have)
	out = append(out, nlbFirst...)

	// Targets of the groups that stay (those of new groups went with them).
	for _, g := range want.Groups {
		if h := haveGroups[g.Name]; h != nil {
			out = append(out, planTargets(g, h)...)
		}
	}

	// What goes: the load balancer (with its listeners and rules), then
	// target groups (with their targets).
	out = append(out, lbGoes...)
	out = append(out, nlbGoes...)
	for _, g := range have.Groups {
		if wantGroups[g.Name] {
			continue
		}
		for _, t := range g.Targets {
			add(&change{step: step(kindTarget, g.Logical+"/"+targetID(t), g.ARN, providers.ActionDelete, providers.WhyHolderGoes, nil)})
		}
		add(&change{step: step(providers.KindTargetGroup, g.Logical, g.ARN, providers.ActionDelete, providers.WhyUnwanted, nil), run: deleteGroup(g)})
	}
	// Certificates go once no listener serves them.
	out = append(out, sgLast...)
	return append(out, certsLast...)
}

// planTargets diffs the targets of g (h: the observed group, nil for a
// new one); one registerTargets call carries them all.
func planTargets(g, h *targetGroup) []*change {
	var out []*change
	add := func(c *change) { out = append(out, c) }
	step := func(id, arn string, act providers.Action, why string) providers.Step {
		return providers.Step{Kind: kindTarget, LogicalID: g.Logical + "/" + id, CloudID: arn, Action: act, Why: why}
	}
	var haveTargets []string
	var arn string
	if h != nil {
		arn = h.ARN
		for _, t := range h.Targets {
			haveTargets = append(haveTargets, targetID(t))
		}
	}
	var wantTargets []string
	for _, t := range g.Targets {
		wantTargets = append(wantTargets, targetID(t))
	}
	first := true
	batch := registerTargets(g, h)
	for _, id := range wantTargets {
		if slices.Contains(haveTargets, id) {
			add(&change{step: step(id, arn, providers.ActionNothing, providers.WhyUpToDate)})
		}
	}
	for _, id := range haveTargets {
		if !slices.Contains(wantTargets, id) {
			c := &change{step: step(id, arn, providers.ActionDelete, providers.WhyUnwanted)}
			if first {
				c.run, first = batch, false
			}
			add(c)
		}
	}
	for _, id := range wantTargets {
		if !slices.Contains(haveTargets, id) {
			c := &change{step: step(id, arn, providers.ActionCreate, providers.WhyMissing)}
			if first {
				c.run, first = batch, false
			}
			add(c)
		}
	}
	return out
}

func rulesOf(have *observed, l *listener) []*rule {
	if l == nil {
		return nil
	}
	return have.Rules[l.Logical]
}

// planRules diffs one listener's rules. ALB evaluates rules by priority,
// so priorities must follow the model's order; a rule keeps its priority
// while it is in order (the longest run of rules already in order keeps
// theirs), new and moved rules take a free value between their
// neighbours, and only when there is none are all rules re-spaced.
func planRules(listenerLogical string, want, have []*rule) []*change {
	var out []*change
	// A second rule with our tags and the same logical id (have is in
	// priority order; the first is kept) is deleted: diffing only one of
	// them would leave the other matching requests forever.
	byLogical := map[string]*rule{}
	for _, r := range have {
		if byLogical[r.Logical] != nil {
			out = append(out, &change{step: providers.Step{Kind: providers.KindRule, LogicalID: r.Logical, CloudID: r.ARN,
				Action: providers.ActionDelete, Why: "a second rule with the same owner and logical id"}, run: deleteRule(r)})
			continue
		}
		byLogical[r.Logical] = r
	}
	wanted := map[string]bool{}
	for _, r := range want {
		wanted[r.Logical] = true
	}
	for _, r := range have {
		if !wanted[r.Logical] && byLogical[r.Logical] == r {
			out = append(out, &change{step: providers.Step{Kind: providers.KindRule, LogicalID: r.Logical, CloudID: r.ARN,
				Action: providers.ActionDelete, Why: providers.WhyUnwanted}, run: deleteRule(r)})
		}
	}
	prios := priorities(want, byLogical)
	moves := map[string]int32{} // rule ARN → new priority
	for i, r := range want {
		if h := byLogical[r.Logical]; h != nil && h.Priority != prios[i] {
			moves[h.ARN] = prios[i]
		}
	}
	moved := false
	for i, r := range want {
		w := *r
		w.Priority = prios[i]
		h := byLogical[r.Logical]
		c := &change{}
		switch {
		case h == nil:
			c.step = providers.Step{Kind: providers.KindRule, LogicalID: w.Logical, Action: providers.ActionCreate, Why: providers.WhyMissing}
			c.run = createRule(listenerLogical, &w)
		default:
			d := providers.Compare(h, &w)
			if len(d) == 0 {
				c.step = providers.Step{Kind: providers.KindRule, LogicalID: w.Logical, CloudID: h.ARN, Action: providers.ActionNothing, Why: providers.WhyUpToDate}
				out = append(out, c)
				continue
			}
			c.step = providers.Step{Kind: providers.KindRule, LogicalID: w.Logical, CloudID: h.ARN, Action: providers.ActionUpdate, Why: providers.WhyChanged, Diff: d}
			c.run = updateRule(h, &w)
		}
		// Every priority move of the listener runs in one call, before the
		// listener's first create or modify, which may need a freed value.
		if !moved && len(moves) > 0 {
			moved = true
			inner := c.run
			mv := maps.Clone(moves)
			c.run = func(ctx context.Context, a *applier, c *change) error {
				if err := a.setPriorities(ctx, mv); err != nil {
					return err
				}
				return inner(ctx, a, c)
			}
		}
		out = append(out, c)
	}
	return out
}

// priorities gives want's rules increasing priorities within 1..50000,
// changing as few of have's as it can: the rules that keep theirs are a
// largest set, in order, with room between each two of them (and below
// the first, above the last) for the rules in between. When every rule
// already there can stay (the usual case: a gap is left wherever rules
// were added), none moves; when some gap is used up, only as many move
// as must, and they all move in one SetRulePriorities call. Rules placed
// between two that stay get priorityStep apart when there is room, and
// are spread evenly over the gap otherwise.
func priorities(want []*rule, have map[string]*rule) []int32 {
	n := len(want)
	old := make([]int32, n+2) // 0 and maxPriority+1 stand for the ends
	for i, r := range want {
		if h := have[r.Logical]; h != nil && h.Priority >= 1 && h.Priority <= maxPriority {
			old[i+1] = h.Priority
		}
	}
	old[n+1] = maxPriority + 1
	keep := keepMost(old)
	out := make([]int32, n)
	lo := 0 // index into old of the last anchor
	for j := 1; j <= n+1; j++ {
		if !keep[j] {
			continue
		}
		k := j - lo - 1 // rules between the two anchors
		base, gap := old[lo], old[j]-old[lo]
		for m := 1; m <= k; m++ {
			if int64(k)*priorityStep < int64(gap) {
				out[lo+m-1] = base + int32(m)*priorityStep
			} else {
				out[lo+m-1] = base + int32(int64(m)*int64(gap)/int64(k+1))
			}
		}
		if j <= n {
			out[j-1] = old[j]
		}
		lo = j
	}
	return out
}

// keepMost marks a largest set of the non-zero entries of v (v's first
// and last entries always among them) that can keep their values: each
// two marked entries i < j need v[j]-v[i] >= j-i, room for the entries
// between them. It is a longest increasing subsequence with room.
func keepMost(v []int32) []bool {
	n := len(v)
	best := make([]int, n) // size of the largest set ending at i, 0 for none
	prev := make([]int, n)
	best[0], prev[0] = 1, -1
	for j := 1; j < n; j++ {
		prev[j] = -1
		if v[j] == 0 && j != n-1 {
			continue
		}
		for i := range j {
			if best[i] > 0 && int64(v[j])-int64(v[i]) >= int64(j-i) && best[i]+1 > best[j] {
				best[j], prev[j] = best[i]+1, i
			}
		}
	}
	keep := make([]bool, n)
	for i := n - 1; i >= 0; i = prev[i] {
		keep[i] = true
	}
	return keep
}

// stepsOf is the printable plan.
func stepsOf(cs []*change) providers.Plan {
	var p providers.Plan
	for _, c := range cs {
		p.Steps = append(p.Steps, c.step)
	}
	return p
}

func targetID(t lb.Target) string { return net.JoinHostPort(t.IP, strconv.Itoa(int(t.Port))) }
