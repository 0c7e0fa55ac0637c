package emulated

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
)

// StepKind says what a Step does.
type StepKind string

// Step kinds.
const (
	StepNothing StepKind = "Nothing"
	StepCreate  StepKind = "Create"
	StepUpdate  StepKind = "Update"
	StepDelete  StepKind = "Delete"
)

// Step is one change to one load balancer.
type Step struct {
	Kind StepKind
	// Name is the load balancer's name; ID is empty for a create.
	Name string
	ID   string
	// Reason says why the step is needed, for logs and dry runs.
	Reason string

	desired cloud.LoadBalancer // for Create and Update
	version int64              // the version Update replaces
	// current is what the observation saw, for Nothing: the status comes
	// from it, so a no-op Ensure costs no read beyond the one it planned on.
	current cloud.LoadBalancer
}

func (s Step) String() string {
	id := s.ID
	if id == "" {
		id = "new"
	}
	return fmt.Sprintf("%s %s (%s): %s", s.Kind, s.Name, id, s.Reason)
}

// Plan is the ordered list of steps that makes the cloud match the desired
// model: the desired load balancer first (so traffic has somewhere to go),
// then deletes of anything else the owner has.
type Plan struct {
	Steps []Step
}

func (p Plan) String() string {
	lines := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		lines[i] = s.String()
	}
	return strings.Join(lines, "\n")
}

// Changes reports whether the plan changes anything.
func (p Plan) Changes() bool {
	for _, s := range p.Steps {
		if s.Kind != StepNothing {
			return true
		}
	}
	return false
}

// plan compares want with the load balancers the owner has (found by tags) and
// returns the steps. It is pure: the caller did the reading. A nil want is the
// empty model: deleting a Gateway takes the same path as changing it.
func plan(want *cloud.LoadBalancer, owned []cloud.LoadBalancer) Plan {
	var first, deletes []Step
	for _, cur := range owned {
		if want == nil || cur.Name != want.Name {
			reason := "owned by the Gateway but not the load balancer its model needs"
			if want == nil {
				reason = "the Gateway needs no load balancer"
			}
			deletes = append(deletes, Step{Kind: StepDelete, Name: cur.Name, ID: cur.ID, Reason: reason})
			continue
		}
		step := Step{Kind: StepUpdate, Name: cur.Name, ID: cur.ID, desired: *want, version: cur.Version}
		switch changed := diff(*want, cur); {
		case len(changed) > 0:
			step.Reason = "changed: " + strings.Join(changed, ", ")
		case cur.State != cloud.StateActive:
			// Replacing with the same spec makes the cloud try to bind again.
			step.Reason = "listeners not serving: " + unbound(cur)
		default:
			step = Step{Kind: StepNothing, Name: cur.Name, ID: cur.ID, Reason: "up to date", current: cur}
		}
		first = append(first, step)
	}
	if want != nil && len(first) == 0 {
		first = []Step{{Kind: StepCreate, Name: want.Name, desired: *want,
			Reason: "the Gateway has no load balancer"}}
	}
	return Plan{Steps: append(first, deletes...)}
}

// diff names the parts of cur that differ from want. Comparing the JSON form
// is what the cloud stores, so nil and empty collections compare equal.
func diff(want, cur cloud.LoadBalancer) []string {
	var changed []string
	check := func(what string, a, b any) {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			changed = append(changed, what)
		}
	}
	check("tags", want.Tags, cur.Tags)
	check("listeners", want.Spec.Listeners, cur.Spec.Listeners)
	check("target groups", want.Spec.TargetGroups, cur.Spec.TargetGroups)
	check("options", want.Spec.Options, cur.Spec.Options)
	return changed
}

func unbound(cur cloud.LoadBalancer) string {
	var names []string
	for _, l := range cur.Listeners {
		if !l.Bound {
			names = append(names, l.Name)
		}
	}
	return strings.Join(names, ", ")
}

// resourceID is the logical id of the load balancer itself in the
// cloudgate.dev/resource tag.
const resourceID = "loadbalancer"

// toWire is the cloud resource for a desired model.
// Check reports whether the emulated cloud would accept desired, with no I/O:
// the adapter's own validation, then the cloud's checks of the request it
// would send. Tests (mapping's fuzz target among them) use it to hold mapping
// to the contract that every model it emits is accepted.
func Check(desired *lb.LoadBalancer) error {
	if err := validate(desired); err != nil {
		return err
	}
	return cloud.Check(toWire(desired))
}

func toWire(desired *lb.LoadBalancer) cloud.LoadBalancer {
	return cloud.LoadBalancer{
		Name: LoadBalancerName(desired.Owner),
		Tags: desired.AllTags(resourceID),
		Spec: cloud.Spec{
			Listeners:    desired.Listeners,
			TargetGroups: desired.TargetGroups,
			Options:      desired.Options,
		},
	}
}

// Naming scheme v1: "cg-" + readable slug of namespace-name (at most 40
// characters) + "-" + 12 hex digits of sha256(v1, cluster, namespace, name,
// uid). At most 56 characters, inside the cloud's 63. The hash keeps names
// unique for 253-character Gateway names and across clusters and Gateway
// re-creations (the UID); the slug only helps humans.
const (
	namePrefix  = "cg-"
	slugMax     = 40
	hashHexLen  = 12
	nameVersion = "v1"
)

// LoadBalancerName is the deterministic cloud name of owner's load balancer.
func LoadBalancerName(owner lb.Owner) string {
	h := sha256.Sum256([]byte(strings.Join([]string{nameVersion, owner.Cluster, owner.Namespace, owner.Name, owner.UID}, "\x00")))
	slug := slugify(owner.Namespace + "-" + owner.Name)
	if len(slug) > slugMax {
		slug = strings.TrimRight(slug[:slugMax], "-")
	}
	if slug != "" {
		slug += "-"
	}
	return namePrefix + slug + hex.EncodeToString(h[:])[:hashHexLen]
}

// slugify keeps lowercase letters and digits and turns every other run of
// characters into a single '-'.
func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}
