package gcp

import (
	"slices"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cloudgate-dev/cloudgate/providers"
)

// change is one step of a plan and what it acts on: the desired resource
// (Want) and the observed one (Have), either nil where absent. An endpoint
// step names its NEG and endpoint instead. A step with no call of its own
// (nothing to do, a rule that its URL map's write carries, an endpoint
// whose NEG goes) has noCall set.
type change struct {
	Step     providers.Step
	Want     proto.Message
	Have     proto.Message
	NEG      string
	Endpoint *computepb.NetworkEndpoint
	noCall   bool
}

// plan is the pure diff of want against have, as changes in the order they
// run: creates and updates from the leaves up (health checks, NEGs and
// their endpoints, backend services, URL maps, certificates, proxies,
// addresses, forwarding rules), then deletes from the top down. So a
// replaced resource (a rotated certificate, a NEG in a new zone) is
// created and switched to before the old one goes.
func plan(want, have *state) []*change {
	var out []*change
	wantRes, haveRes := want.resources(), have.resources()
	haveByKey := map[string]resource{}
	for _, r := range haveRes {
		haveByKey[key(r)] = r
	}
	wantByKey := map[string]bool{}
	for _, w := range wantRes {
		wantByKey[key(w)] = true
		h, ok := haveByKey[key(w)]
		switch {
		case !ok:
			out = append(out, &change{Step: providers.Step{Kind: w.Kind, LogicalID: w.Logical, Action: providers.ActionCreate, Why: providers.WhyMissing}, Want: w.Msg})
		default:
			c := &change{Step: providers.Step{Kind: w.Kind, LogicalID: w.Logical, CloudID: h.Name(), Action: providers.ActionNothing, Why: providers.WhyUpToDate}, Want: w.Msg, Have: h.Msg, noCall: true}
			if d := compareResource(w, h); len(d) > 0 {
				c.Step.Action, c.Step.Why, c.Step.Diff, c.noCall = providers.ActionUpdate, providers.WhyChanged, d, false
			}
			out = append(out, c)
		}
		if w.Kind == kindNEG {
			out = append(out, planEndpoints(w, want.Endpoints[w.Name()], have.Endpoints[w.Name()], ok)...)
		}
		if w.Kind == kindURLMap {
			var hm *computepb.UrlMap
			if ok {
				hm = h.Msg.(*computepb.UrlMap)
			}
			out = append(out, planRules(w.Msg.(*computepb.UrlMap), hm)...)
		}
	}
	for _, h := range slices.Backward(haveRes) {
		if wantByKey[key(h)] {
			continue
		}
		out = append(out, &change{Step: providers.Step{Kind: h.Kind, LogicalID: h.Logical, CloudID: h.Name(), Action: providers.ActionDelete, Why: providers.WhyUnwanted}, Have: h.Msg})
		switch h.Kind {
		case kindURLMap:
			out = append(out, planRules(nil, h.Msg.(*computepb.UrlMap))...)
		case kindNEG:
			for _, e := range have.Endpoints[h.Name()] {
				out = append(out, &change{Step: providers.Step{Kind: kindEndpoint, LogicalID: h.Logical + "/" + endpointKey(e), CloudID: h.Name(), Action: providers.ActionDelete, Why: providers.WhyHolderGoes}, NEG: h.Name(), Endpoint: e, noCall: true})
			}
		}
	}
	return portsFirst(out)
}

// portsFirst moves the delete of a forwarding rule before the creates of
// forwarding rules when a created one takes its address and port (a
// listener that changed protocol, so kind of proxy, on the same port):
// GCP refuses two rules on one IP and port, so here the old rule must go
// first, and the listener is down between the two calls.
func portsFirst(cs []*change) []*change {
	taken := map[string]bool{}
	for _, c := range cs {
		if r, ok := c.Want.(*computepb.ForwardingRule); ok && c.Step.Action == providers.ActionCreate {
			taken[r.GetIPAddress()+" "+r.GetPortRange()] = true
		}
	}
	var early, rest []*change
	for _, c := range cs {
		if r, ok := c.Have.(*computepb.ForwardingRule); ok && c.Step.Action == providers.ActionDelete && taken[r.GetIPAddress()+" "+r.GetPortRange()] {
			early = append(early, c)
			continue
		}
		rest = append(rest, c)
	}
	if len(early) == 0 {
		return cs
	}
	i := slices.IndexFunc(rest, func(c *change) bool {
		return c.Step.Kind == providers.KindListener && c.Step.Action == providers.ActionCreate
	})
	return slices.Concat(rest[:i], early, rest[i:])
}

func key(r resource) string { return string(r.Kind) + "\x00" + r.Name() }

// endpointKey is what tells a NEG's endpoints apart: GCP's own identity
// of a GCE_VM_IP_PORT endpoint, its instance, IP and port.
func endpointKey(e *computepb.NetworkEndpoint) string {
	return e.GetIpAddress() + ":" + itoa(e.GetPort()) + "@" + lastSegment(e.GetInstance())
}

// planEndpoints attaches the endpoints a NEG lacks and detaches those it
// should not hold.
func planEndpoints(neg resource, want, have []*computepb.NetworkEndpoint, exists bool) []*change {
	var out []*change
	haveKeys := map[string]bool{}
	for _, e := range have {
		haveKeys[endpointKey(e)] = true
	}
	wantKeys := map[string]bool{}
	cloudID := ""
	if exists {
		cloudID = neg.Name()
	}
	for _, e := range want {
		k := endpointKey(e)
		wantKeys[k] = true
		st := providers.Step{Kind: kindEndpoint, LogicalID: neg.Logical + "/" + k, CloudID: cloudID, Action: providers.ActionNothing, Why: providers.WhyUpToDate}
		c := &change{Step: st, NEG: neg.Name(), Endpoint: e, noCall: true}
		if !haveKeys[k] {
			c.Step.Action, c.Step.Why, c.noCall = providers.ActionCreate, providers.WhyMissing, false
		}
		out = append(out, c)
	}
	for _, e := range have {
		if k := endpointKey(e); !wantKeys[k] {
			out = append(out, &change{Step: providers.Step{Kind: kindEndpoint, LogicalID: neg.Logical + "/" + k, CloudID: neg.Name(), Action: providers.ActionDelete, Why: providers.WhyUnwanted}, NEG: neg.Name(), Endpoint: e})
		}
	}
	return out
}

// planRules gives each model rule of a URL map a step of its own, by the
// route rules that carry it (one per host it applies to), for the plan to
// say what changes; the URL map's one write carries them all out.
func planRules(want, have *computepb.UrlMap) []*change {
	byRule := func(um *computepb.UrlMap) ([]string, map[string][]*computepb.HttpRouteRule) {
		var names []string
		m := map[string][]*computepb.HttpRouteRule{}
		for _, pm := range um.GetPathMatchers() {
			for _, rr := range pm.GetRouteRules() {
				n := rr.GetDescription()
				if _, ok := m[n]; !ok {
					names = append(names, n)
				}
				m[n] = append(m[n], rr)
			}
		}
		return names, m
	}
	holder := have.GetName()
	wantNames, wantRules := byRule(want)
	haveNames, haveRules := byRule(have)
	var out []*change
	for _, n := range wantNames {
		st := providers.Step{Kind: providers.KindRule, LogicalID: n, CloudID: holder}
		h, ok := haveRules[n]
		switch {
		case !ok:
			st.Action, st.Why = providers.ActionCreate, providers.WhyMissing
		default:
			if d := providers.Compare(normalizeAll(h), normalizeAll(wantRules[n])); len(d) > 0 {
				st.Action, st.Why, st.Diff = providers.ActionUpdate, providers.WhyChanged, d
			} else {
				st.Action, st.Why = providers.ActionNothing, providers.WhyUpToDate
			}
		}
		out = append(out, &change{Step: st, noCall: true})
	}
	for _, n := range haveNames {
		if _, ok := wantRules[n]; ok {
			continue
		}
		why := providers.WhyUnwanted
		if want == nil {
			why = providers.WhyHolderGoes
		}
		out = append(out, &change{Step: providers.Step{Kind: providers.KindRule, LogicalID: n, CloudID: holder, Action: providers.ActionDelete, Why: why}, noCall: true})
	}
	return out
}

func normalizeAll[M proto.Message](ms []M) []M {
	out := make([]M, len(ms))
	for i, m := range ms {
		c := proto.Clone(m).(M)
		relativeLinks(c.ProtoReflect())
		out[i] = c
	}
	return out
}

// compareResource diffs an observed resource against the desired one, on
// the fields the adapter sets: what the cloud fills in (ids, self links,
// fingerprints, timestamps, the address it picked, defaults of fields left
// unset) is not a difference. Links compare by their path from
// "projects/" on. A certificate's name covers its content (the cloud
// never returns the key), so a certificate of the right name is up to
// date.
func compareResource(want, have resource) providers.Diff {
	if want.Kind == providers.KindCertificate {
		return nil
	}
	h := proto.Clone(have.Msg)
	hr, wr := h.ProtoReflect(), want.Msg.ProtoReflect()
	hr.Range(func(f protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if !wr.Has(f) {
			hr.Clear(f)
		}
		return true
	})
	relativeLinks(hr)
	w := proto.Clone(want.Msg)
	relativeLinks(w.ProtoReflect())
	return providers.Compare(h, w)
}

// relativeLinks cuts every string of m that is a Compute Engine URL to its
// path from "projects/" on.
func relativeLinks(m protoreflect.Message) {
	m.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case f.IsList():
			l := v.List()
			for i := range l.Len() {
				switch f.Kind() {
				case protoreflect.StringKind:
					l.Set(i, protoreflect.ValueOfString(relative(l.Get(i).String())))
				case protoreflect.MessageKind:
					relativeLinks(l.Get(i).Message())
				}
			}
		case f.IsMap():
		case f.Kind() == protoreflect.StringKind:
			m.Set(f, protoreflect.ValueOfString(relative(v.String())))
		case f.Kind() == protoreflect.MessageKind:
			relativeLinks(v.Message())
		}
		return true
	})
}
