package providers

import (
	"fmt"
	"slices"
	"strings"
)

// Action is what a Step does to one cloud resource.
type Action string

// Actions, in the order a Summary lists them.
const (
	// ActionNothing: the resource matches the model.
	ActionNothing Action = "Nothing"
	// ActionCreate: the model needs a resource the cloud lacks.
	ActionCreate Action = "Create"
	// ActionUpdate: the resource changes in place.
	ActionUpdate Action = "Update"
	// ActionRecreate: the resource must be deleted and created again (a
	// field the cloud cannot change in place); the resources that point at
	// it are recreated or updated with it, as their own steps.
	ActionRecreate Action = "Recreate"
	// ActionDelete: the cloud holds a resource the model no longer needs.
	ActionDelete Action = "Delete"
)

// past is how a Summary says that an action was done.
var past = map[Action]string{
	ActionCreate:   "created",
	ActionUpdate:   "updated",
	ActionRecreate: "recreated",
	ActionDelete:   "deleted",
}

// Kind names a kind of cloud resource in the singular, as people say it:
// "target group", not "TargetGroup". The kinds below are the model's; an
// adapter names its cloud's other resources ("security group", "URL map",
// "forwarding rule") in the same way.
type Kind string

// Kinds of the model's parts, in the order a Summary lists them; other kinds
// follow in the order the plan first names them.
const (
	KindLoadBalancer Kind = "load balancer"
	KindListener     Kind = "listener"
	KindRule         Kind = "rule"
	KindStream       Kind = "stream"
	KindTargetGroup  Kind = "target group"
	KindCertificate  Kind = "certificate"
)

var kindOrder = []Kind{KindLoadBalancer, KindListener, KindRule, KindStream, KindTargetGroup, KindCertificate}

// plural is "n kinds", in English: "1 rule", "2 rules", "2 addresses",
// "3 proxies".
func (k Kind) plural(n int) string {
	s := string(k)
	if n == 1 {
		return "1 " + s
	}
	switch {
	case strings.HasSuffix(s, "s"), strings.HasSuffix(s, "x"), strings.HasSuffix(s, "ch"), strings.HasSuffix(s, "sh"):
		s += "es"
	case strings.HasSuffix(s, "y") && len(s) > 1 && !strings.ContainsRune("aeiou", rune(s[len(s)-2])):
		s = s[:len(s)-1] + "ies"
	default:
		s += "s"
	}
	return fmt.Sprintf("%d %s", n, s)
}

// Reasons that every adapter gives for the steps on the model's parts, so
// that plans read the same for every cloud. An adapter says more where it
// knows more (which field forces a Recreate, why a load balancer is rebound).
const (
	WhyMissing    = "in the model, not in the cloud"
	WhyUnwanted   = "in the cloud, not in the model"
	WhyChanged    = "differs from the model"
	WhyUpToDate   = "up to date"
	WhyHolderGoes = "the resource that holds it goes"
)

// Step is one action on one cloud resource.
type Step struct {
	Kind Kind
	// LogicalID is the resource's id in the lb model (what its
	// cloudgate.dev/resource tag holds): "loadbalancer", a listener's,
	// target group's or certificate's name, "listener/rule" for a rule.
	LogicalID string
	// CloudID is the cloud's id for the resource (an ARN, a self link, an
	// id); empty for a Create until it has run. A resource that lives
	// inside another and has no id of its own (the emulated cloud's
	// listeners) carries the id of the one that holds it.
	CloudID string
	Action  Action
	// Why says why the step is needed (WhyMissing, ...), never empty.
	Why string
	// Diff lists what an Update or Recreate changes, field by field; secret
	// values are redacted. Empty for the other actions.
	Diff Diff
}

// String is one line: `Update rule "http/ns/web/rule-0" (lb-1): differs from
// the model: match.path.value: "/" → "/a"`.
func (s Step) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %q", s.Action, s.Kind, s.LogicalID)
	if s.CloudID != "" {
		fmt.Fprintf(&b, " (%s)", s.CloudID)
	}
	b.WriteString(": " + s.Why)
	if len(s.Diff) > 0 {
		b.WriteString(": " + s.Diff.String())
	}
	return b.String()
}

// Plan is what a provider does, or did, to make the cloud match a model: its
// steps in the order they run, one per resource the model or the cloud has,
// unchanged ones included. Providers compute it by a pure diff of the model
// against what they observed, and print it before anything runs (a dry run),
// in `describe` and in the Gateway's Events: the same words for every cloud.
type Plan struct {
	Steps []Step
}

// Changes reports whether any step does something.
func (p Plan) Changes() bool {
	return slices.ContainsFunc(p.Steps, func(s Step) bool { return s.Action != ActionNothing })
}

// Count is the number of steps that do a to resources of kind k.
func (p Plan) Count(a Action, k Kind) int {
	n := 0
	for _, s := range p.Steps {
		if s.Action == a && s.Kind == k {
			n++
		}
	}
	return n
}

// Summary counts the changes by action and kind, in one line: "created 1
// load balancer, 2 listeners, 20 rules, 10 target groups; deleted 1 rule";
// "no changes" when there are none.
func (p Plan) Summary() string { return p.summary(past) }

// future is how a PendingSummary says that an action is to be done.
var future = map[Action]string{
	ActionCreate:   "would create",
	ActionUpdate:   "would update",
	ActionRecreate: "would recreate",
	ActionDelete:   "would delete",
}

// PendingSummary is Summary for a plan not applied (a dry run): "would
// create 1 load balancer, 1 listener; would delete 1 rule".
func (p Plan) PendingSummary() string { return p.summary(future) }

func (p Plan) summary(verbs map[Action]string) string {
	kinds := slices.Clone(kindOrder)
	for _, s := range p.Steps {
		if !slices.Contains(kinds, s.Kind) {
			kinds = append(kinds, s.Kind)
		}
	}
	var parts []string
	for _, a := range []Action{ActionCreate, ActionUpdate, ActionRecreate, ActionDelete} {
		var counts []string
		for _, k := range kinds {
			if n := p.Count(a, k); n > 0 {
				counts = append(counts, k.plural(n))
			}
		}
		if len(counts) > 0 {
			parts = append(parts, verbs[a]+" "+strings.Join(counts, ", "))
		}
	}
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, "; ")
}

// String is the printable plan: the summary, then one line per step that
// changes something, with its diff one field a line, then how many
// resources stay as they are.
func (p Plan) String() string { return p.text(p.Summary()) }

// Pending is String for a plan not applied (a dry run, describe): its
// summary is PendingSummary.
func (p Plan) Pending() string { return p.text(p.PendingSummary()) }

func (p Plan) text(summary string) string {
	var b strings.Builder
	b.WriteString(summary)
	unchanged := 0
	for _, s := range p.Steps {
		if s.Action == ActionNothing {
			unchanged++
			continue
		}
		d := s
		d.Diff = nil
		b.WriteString("\n  " + d.String())
		for _, c := range s.Diff {
			b.WriteString("\n      " + c.String())
		}
	}
	if unchanged > 0 {
		fmt.Fprintf(&b, "\n  (%d unchanged)", unchanged)
	}
	return b.String()
}
