package emulated

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
)

// write is one load balancer's part of a plan: the one API call that
// carries it out (the cloud holds a whole load balancer in one resource),
// and the steps that say, in the model's terms, what that call changes.
type write struct {
	action providers.Action // what the call does to the load balancer: Nothing, Create, Update or Delete
	name   string
	id     string // empty for a create

	desired cloud.LoadBalancer // for Create and Update
	version int64              // the version Update replaces
	// patch, when set, carries an Update as the parts that change
	// (patchOf); otherwise the Update replaces the whole spec.
	patch *cloud.Patch
	// kept are the parts of desired the plan found unchanged (for an
	// Update).
	kept keptParts
	// current is what the observation saw, for Nothing: the status comes
	// from it, so a no-op Ensure costs no read beyond the one it planned on.
	current cloud.LoadBalancer

	// steps are the load balancer's own step, then one per part of it
	// (listeners, rules, streams, target groups, certificates).
	steps []providers.Step
}

// plan is the adapter's side of a providers.Plan: the writes in the order
// they run, the desired load balancer first (so traffic has somewhere to
// go), then deletes of anything else the owner has.
type plan struct {
	writes []write
}

// public is the printable plan: every write's steps, in order.
func (pl plan) public() providers.Plan {
	var out providers.Plan
	for _, w := range pl.writes {
		out.Steps = append(out.Steps, w.steps...)
	}
	return out
}

// changes reports whether any write's steps do something, as
// pl.public().Changes() would without collecting the steps.
func (pl plan) changes() bool {
	return slices.ContainsFunc(pl.writes, func(w write) bool { return providers.Plan{Steps: w.steps}.Changes() })
}

// newPlan compares want with the load balancers the owner has (found by
// tags) and returns the writes. It is pure: the caller did the reading. A nil
// want is the empty model: deleting a Gateway takes the same path as
// changing it. memo is the ruleIDs of the load balancer of want's name in
// owned, nil when unknown.
func newPlan(want *cloud.LoadBalancer, owned []cloud.LoadBalancer, memo ruleIDs) plan {
	var first, deletes []write
	for _, cur := range owned {
		if want == nil || cur.Name != want.Name {
			why := "owned by the Gateway but not the load balancer its model needs"
			if want == nil {
				why = "the Gateway needs no load balancer"
			}
			deletes = append(deletes, deleteWrite(cur, why))
			continue
		}
		first = append(first, updateWrite(*want, cur, memo))
	}
	if want != nil && len(first) == 0 {
		first = []write{createWrite(*want)}
	}
	return plan{writes: append(first, deletes...)}
}

func createWrite(want cloud.LoadBalancer) write {
	w := write{action: providers.ActionCreate, name: want.Name, desired: want}
	w.steps = append(w.steps, providers.Step{Kind: providers.KindLoadBalancer, LogicalID: resourceID,
		Action: providers.ActionCreate, Why: fmt.Sprintf("the Gateway has no load balancer (%s)", want.Name)})
	for _, pt := range parts(want.Spec, true) {
		w.steps = append(w.steps, pt.step(providers.ActionCreate, "", providers.WhyMissing))
	}
	return w
}

func deleteWrite(cur cloud.LoadBalancer, why string) write {
	w := write{action: providers.ActionDelete, name: cur.Name, id: cur.ID}
	w.steps = append(w.steps, providers.Step{Kind: providers.KindLoadBalancer, LogicalID: resourceID, CloudID: cur.ID,
		Action: providers.ActionDelete, Why: fmt.Sprintf("%s (%s)", why, cur.Name)})
	for _, pt := range parts(cur.Spec, true) {
		w.steps = append(w.steps, pt.step(providers.ActionDelete, cur.ID, providers.WhyHolderGoes))
	}
	return w
}

// updateWrite replaces cur when any part of it differs from want, or when
// its listeners are not serving (replacing with the same spec makes the
// cloud try to bind again). memo is cur's ruleIDs, or nil.
func updateWrite(want, cur cloud.LoadBalancer, memo ruleIDs) write {
	own := providers.Step{Kind: providers.KindLoadBalancer, LogicalID: resourceID, CloudID: cur.ID,
		Action: providers.ActionNothing, Why: providers.WhyUpToDate}
	d := diffSpec(cur.Spec, want.Spec, cur.ID, memo)
	partsChange := providers.Plan{Steps: d.steps[1:]}.Changes()
	whole := false
	switch diff := providers.Compare(loadBalancerViewOf(cur), loadBalancerViewOf(want)); {
	case len(diff) > 0:
		own.Action, own.Why, own.Diff = providers.ActionUpdate, providers.WhyChanged, diff
	case cur.State != cloud.StateActive:
		own.Action, own.Why = providers.ActionUpdate, "listeners not serving: "+unbound(cur)
	case !partsChange && len(changedSpec(want, cur)) > 0:
		// A difference the parts do not show (there should be none): the
		// cloud is still made to match, with the whole spec.
		own.Action, own.Why = providers.ActionUpdate, "changed: "+strings.Join(changedSpec(want, cur), ", ")
		whole = true
	}
	d.steps[0] = own
	w := write{action: providers.ActionNothing, name: cur.Name, id: cur.ID, current: cur, steps: d.steps, kept: d.kept}
	if own.Action != providers.ActionNothing || partsChange {
		w.action, w.desired, w.version = providers.ActionUpdate, want, cur.Version
		if !whole {
			pt := patchOf(want, d.kept)
			w.patch = &pt
		}
	}
	return w
}

// keptParts are the parts of a spec (want) that a write leaves as the spec
// planned on (cur) has them: what the patch names instead of sending, and
// what the provider's remembered view takes from the old one (written.go).
type keptParts struct {
	// from are cur's listeners by want's: the one of the same name, or
	// nil.
	from []*lb.Listener
	// rules say, by listener, virtual host and rule of want, where the
	// listener in from holds the same rule, if it does.
	rules [][][]source
	// groups are the names of the target groups kept, and curGroups
	// those of the spec planned on.
	groups    map[string]bool
	curGroups []lb.TargetGroup
	// ids are the logical ids of want's rules (the memo of the view the
	// write leaves).
	ids ruleIDs
}

// source is where the spec planned on holds rule i of virtual host h of
// listener li of want, if the write keeps it.
func (k keptParts) source(li, h, i int) source {
	if li >= len(k.rules) {
		return noSource // nothing kept: a create
	}
	return k.rules[li][h][i]
}

// specDiff is a step per part: room for the load balancer's own, then
// want's in its order (created, updated or unchanged), then the ones only
// cur has (deleted); and what it keeps.
type specDiff struct {
	steps []providers.Step
	kept  keptParts
}

// diffSpec compares want's parts with cur's: the rules with diffRules, the
// rest (a few) with parts and reflect.DeepEqual.
func diffSpec(cur, want cloud.Spec, cloudID string, memo ruleIDs) specDiff {
	type key struct {
		kind providers.Kind
		id   string
	}
	curParts := parts(cur, false)
	had := make(map[key]part, len(curParts))
	for _, pt := range curParts {
		had[key{pt.kind, pt.id}] = pt
	}
	listeners := make(map[string]int, len(cur.Listeners))
	for i, l := range cur.Listeners {
		if _, dup := listeners[l.Name]; !dup {
			listeners[l.Name] = i
		}
	}
	wantParts := parts(want, false)
	n := 1 + len(wantParts)
	for _, l := range want.Listeners {
		for _, vh := range l.VirtualHosts {
			n += len(vh.Rules)
		}
	}
	// Room for a few deletes too: steps are most of a plan's bytes.
	d := specDiff{steps: make([]providers.Step, 1, n+8), kept: keptParts{groups: map[string]bool{}, curGroups: cur.TargetGroups}}
	deletes := make([][]providers.Step, len(cur.Listeners))
	ruled := make([]bool, len(cur.Listeners))
	kept := map[key]bool{}
	li := -1
	for _, pt := range wantParts {
		k := key{pt.kind, pt.id}
		old, ok := had[k]
		kept[k] = true
		st := diffPart(old, ok, pt, cloudID)
		if pt.kind == providers.KindTargetGroup && st.Action == providers.ActionNothing {
			d.kept.groups[pt.id] = true
		}
		if pt.kind != providers.KindListener {
			d.steps = append(d.steps, st)
			continue
		}
		// parts lists want's listeners in order.
		li++
		wl := &want.Listeners[li]
		var cl *lb.Listener
		var cm [][]string
		if i, ok := listeners[wl.Name]; ok {
			cl = &cur.Listeners[i]
			if i < len(memo) {
				cm = memo[i]
			}
			ruled[i] = true
		}
		at := len(d.steps)
		rd := diffRules(append(d.steps, st), cl, cm, wl, cloudID)
		d.steps = rd.steps
		// A listener created has no diff: its rules' steps say what
		// it holds.
		if len(rd.list) > 0 && st.Action != providers.ActionCreate {
			st.Diff = append(st.Diff, rd.list...)
			if st.Action == providers.ActionNothing {
				st.Action, st.Why = providers.ActionUpdate, providers.WhyChanged
			}
			d.steps[at] = st
		}
		if i, ok := listeners[wl.Name]; ok {
			deletes[i] = rd.deletes
		}
		d.kept.from = append(d.kept.from, cl)
		d.kept.rules = append(d.kept.rules, rd.kept)
		d.kept.ids = append(d.kept.ids, rd.ids)
	}
	ci := -1
	for _, pt := range curParts {
		if !kept[key{pt.kind, pt.id}] {
			d.steps = append(d.steps, pt.step(providers.ActionDelete, cloudID, providers.WhyUnwanted))
		}
		if pt.kind != providers.KindListener {
			continue
		}
		ci++
		if !ruled[ci] {
			// A listener want does not have (or a second of its
			// name): every rule of it goes.
			deletes[ci] = diffRules(nil, &cur.Listeners[ci], nil, &lb.Listener{Name: cur.Listeners[ci].Name}, cloudID).deletes
		}
		d.steps = append(d.steps, deletes[ci]...)
	}
	return d
}

// diffPart is the step of want's part pt, which cur has as old if ok.
func diffPart(old part, ok bool, pt part, cloudID string) providers.Step {
	// Most parts of a change are the same as before: reflect.DeepEqual
	// says so at a fraction of the cost of Compare, which also works out
	// what differs (it holds nil and empty alike, so it decides whatever
	// DeepEqual does not).
	if ok && reflect.DeepEqual(old.view, pt.view) {
		return pt.step(providers.ActionNothing, cloudID, providers.WhyUpToDate)
	}
	switch d := providers.Compare(old.view, pt.view); {
	case !ok:
		return pt.step(providers.ActionCreate, cloudID, providers.WhyMissing)
	case len(d) > 0:
		s := pt.step(providers.ActionUpdate, cloudID, providers.WhyChanged)
		s.Diff = d
		return s
	default:
		return pt.step(providers.ActionNothing, cloudID, providers.WhyUpToDate)
	}
}

// patchOf is want as a cloud.Patch that names the kept rules and target
// groups instead of sending them: a change to one route of thousands sends
// one rule.
func patchOf(want cloud.LoadBalancer, kept keptParts) cloud.Patch {
	p := cloud.Patch{Tags: want.Tags, Options: want.Spec.Options}
	for li, l := range want.Spec.Listeners {
		lp := cloud.ListenerPatch{Name: l.Name, Port: l.Port, Protocol: l.Protocol, Streams: l.Streams, ClientValidation: l.ClientValidation}
		for h, vh := range l.VirtualHosts {
			vp := cloud.VirtualHostPatch{Hostname: vh.Hostname, Certificates: vh.Certificates}
			for i := 0; i < len(vh.Rules); i++ {
				s := kept.source(li, h, i)
				if s.host < 0 {
					vp.Rules = append(vp.Rules, cloud.RulePatch{Name: vh.Rules[i].Name, Rule: &vh.Rules[i]})
					continue
				}
				// A run: the kept rules that follow each other here
				// as they do in the spec planned on.
				j := i
				for j+1 < len(vh.Rules) && kept.source(li, h, j+1) == (source{s.host, s.at + int32(j+1-i)}) {
					j++
				}
				rp := cloud.RulePatch{Name: vh.Rules[i].Name}
				if j > i {
					rp.Through = vh.Rules[j].Name
				}
				vp.Rules = append(vp.Rules, rp)
				i = j
			}
			lp.VirtualHosts = append(lp.VirtualHosts, vp)
		}
		p.Listeners = append(p.Listeners, lp)
	}
	for i, g := range want.Spec.TargetGroups {
		gp := cloud.TargetGroupPatch{Name: g.Name}
		if !kept.groups[g.Name] {
			gp.Group = &want.Spec.TargetGroups[i]
		}
		p.TargetGroups = append(p.TargetGroups, gp)
	}
	return p
}

// loadBalancerView is what the load balancer's own step compares: the parts
// have steps of their own.
type loadBalancerView struct {
	Tags    map[string]string `json:"tags"`
	Options lb.Options        `json:"options"`
}

func loadBalancerViewOf(l cloud.LoadBalancer) loadBalancerView {
	return loadBalancerView{Tags: l.Tags, Options: l.Spec.Options}
}

// part is one element of a spec as a plan step shows it.
type part struct {
	kind providers.Kind
	id   string
	// view is what its step compares: the element without its name, with
	// the elements it holds that have steps of their own (a listener's
	// rules, a virtual host's certificates) by name.
	view any
}

func (pt part) step(a providers.Action, cloudID, why string) providers.Step {
	return providers.Step{Kind: pt.kind, LogicalID: pt.id, CloudID: cloudID, Action: a, Why: why}
}

type listenerView struct {
	Port             int32                 `json:"port"`
	Protocol         lb.Protocol           `json:"protocol"`
	ClientValidation *clientValidationView `json:"clientValidation,omitempty"`
	VirtualHosts     []hostView            `json:"virtualHosts,omitempty"`
	Streams          []string              `json:"streams,omitempty"`
}

// clientValidationView shows CA bundles by name and digest: they are
// public, but a plan's diff of PEM would be all base64.
type clientValidationView struct {
	Mode      lb.ClientValidationMode `json:"mode"`
	CABundles []caBundleView          `json:"caBundles"`
}

type caBundleView struct {
	Name   string `json:"name" diff:"key"`
	SHA256 string `json:"sha256"`
}

func newClientValidationView(cv *lb.ClientValidation) *clientValidationView {
	if cv == nil {
		return nil
	}
	v := &clientValidationView{Mode: cv.Mode}
	for _, b := range cv.CABundles {
		sum := sha256.Sum256(b.PEM)
		v.CABundles = append(v.CABundles, caBundleView{Name: b.Name, SHA256: hex.EncodeToString(sum[:])})
	}
	return v
}

type hostView struct {
	Hostname     string   `json:"hostname" diff:"key"`
	Certificates []string `json:"certificates,omitempty"`
	Rules        []string `json:"rules,omitempty"`
}

type ruleView struct {
	Match  lb.Match  `json:"match"`
	Action lb.Action `json:"action"`
}

type streamView struct {
	Hostname     string               `json:"hostname,omitempty"`
	Certificates []string             `json:"certificates,omitempty"`
	Backends     []lb.WeightedBackend `json:"backends,omitempty"`
}

type targetGroupView struct {
	Protocol lb.Protocol  `json:"protocol"`
	Targets  []lb.Target  `json:"targets,omitempty"`
	TLS      *backendView `json:"tls,omitempty"`
}

// backendView is a target group's TLS as a plan shows it: bundles by
// digest, as a listener's are, and the client certificate by name and a
// digest of its chain and key, which says that it changed without showing
// the key.
type backendView struct {
	Policy            string              `json:"policy"`
	ServerName        string              `json:"serverName"`
	CABundles         []caBundleView      `json:"caBundles,omitempty"`
	SystemRoots       bool                `json:"systemRoots,omitempty"`
	SubjectAltNames   []lb.SubjectAltName `json:"subjectAltNames,omitempty"`
	ClientCertificate *caBundleView       `json:"clientCertificate,omitempty"`
}

func newBackendView(t *lb.BackendTLS) *backendView {
	if t == nil {
		return nil
	}
	v := &backendView{Policy: t.Policy, ServerName: t.ServerName, SystemRoots: t.SystemRoots, SubjectAltNames: t.SubjectAltNames}
	for _, b := range t.CABundles {
		sum := sha256.Sum256(b.PEM)
		v.CABundles = append(v.CABundles, caBundleView{Name: b.Name, SHA256: hex.EncodeToString(sum[:])})
	}
	if c := t.ClientCertificate; c != nil {
		sum := sha256.Sum256(append(append([]byte(nil), c.CertPEM...), c.KeyPEM...))
		v.ClientCertificate = &caBundleView{Name: c.Name, SHA256: hex.EncodeToString(sum[:])}
	}
	return v
}

// certificateView holds the key only for comparing: providers.Compare
// redacts it.
type certificateView struct {
	CertPEM []byte `json:"certPEM"`
	KeyPEM  []byte `json:"keyPEM"`
}

// parts lists a spec's elements: listeners, each followed by its rules
// (unless withRules is false: updateWrite diffs them itself, diffRules) and
// streams, then target groups, then certificates (once each, by name).
// Rules and streams are named within their listener.
func parts(s cloud.Spec, withRules bool) []part {
	var out, certs []part
	seen := map[string]bool{}
	names := func(cs []lb.Certificate) []string {
		var ns []string
		for _, c := range cs {
			ns = append(ns, c.Name)
			if !seen[c.Name] {
				seen[c.Name] = true
				certs = append(certs, part{providers.KindCertificate, c.Name, certificateView{CertPEM: c.CertPEM, KeyPEM: c.KeyPEM}})
			}
		}
		return ns
	}
	for _, l := range s.Listeners {
		lv := listenerView{Port: l.Port, Protocol: l.Protocol, ClientValidation: newClientValidationView(l.ClientValidation)}
		var inner []part
		for _, vh := range l.VirtualHosts {
			hv := hostView{Hostname: vh.Hostname, Certificates: names(vh.Certificates)}
			if withRules {
				for _, r := range vh.Rules {
					hv.Rules = append(hv.Rules, r.Name)
					inner = append(inner, part{providers.KindRule, l.Name + "/" + r.Name, ruleView{Match: r.Match, Action: r.Action}})
				}
			}
			lv.VirtualHosts = append(lv.VirtualHosts, hv)
		}
		for _, st := range l.Streams {
			lv.Streams = append(lv.Streams, st.Name)
			inner = append(inner, part{providers.KindStream, l.Name + "/" + st.Name,
				streamView{Hostname: st.Hostname, Certificates: names(st.Certificates), Backends: st.Backends}})
		}
		out = append(out, part{providers.KindListener, l.Name, lv})
		out = append(out, inner...)
	}
	for _, tg := range s.TargetGroups {
		out = append(out, part{providers.KindTargetGroup, tg.Name, targetGroupView{Protocol: tg.Protocol, Targets: tg.Targets, TLS: newBackendView(tg.TLS)}})
	}
	return append(out, certs...)
}

// changedSpec names the parts of cur that differ from want. Comparing the
// JSON form is what the cloud stores, so nil and empty collections compare
// equal.
func changedSpec(want, cur cloud.LoadBalancer) []string {
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

// toWire is the cloud resource for a desired model.
func toWire(desired *lb.LoadBalancer) cloud.LoadBalancer {
	return cloud.LoadBalancer{
		Name: LoadBalancerName(desired.Owner),
		Tags: desired.AllTags(resourceID),
		Spec: cloud.Spec{
			Listeners:    desired.Listeners,
			TargetGroups: withoutZones(desired.TargetGroups),
			Options:      desired.Options,
		},
	}
}

// withoutZones is groups with their targets' zones (and nodes) cleared. The emulated
// cloud has no zones: sent along, a zone alone would show in plans and
// make the cloud rewrite a load balancer whose traffic stays the same.
// The groups are copied only when a target has a zone (desired is not
// ours to change).
func withoutZones(groups []lb.TargetGroup) []lb.TargetGroup {
	zoned := slices.ContainsFunc(groups, func(g lb.TargetGroup) bool {
		return slices.ContainsFunc(g.Targets, func(t lb.Target) bool { return t.Zone != "" || t.Node != "" })
	})
	if !zoned {
		return groups
	}
	out := slices.Clone(groups)
	for i := range out {
		ts := slices.Clone(out[i].Targets)
		for j := range ts {
			ts[j].Zone, ts[j].Node = "", ""
		}
		out[i].Targets = ts
	}
	return out
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
