package emulated

import (
	"encoding/json"
	"maps"
	"sync"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
)

// lastWritten remembers, per owner, its load balancer as this provider last
// wrote or read it: id, version, status and spec. Ensure plans a changed
// model on it instead of reading thousands of rules back first. That is
// safe because every write carries the version it planned on: a load
// balancer that anyone else changed or deleted since answers 409 or 404,
// and Ensure reads and plans again. A plan that finds nothing to change on
// the remembered view reads before it trusts that, so a resync still sees
// (and repairs) drift.
//
// The remembered spec is the provider's own copy, never the caller's model
// (which the caller may change after Ensure): the parts a write kept are
// the old copy's, the rest are copied (ownedSpec).
type lastWritten struct {
	mu sync.Mutex
	m  map[string]known // by gateway-uid
}

// known is a load balancer as the last write left it, and the logical ids
// of its rules (ruleIDs), which the next plan on it takes.
type known struct {
	lb  cloud.LoadBalancer
	ids ruleIDs
}

func (l *lastWritten) get(owner lb.Owner) (cloud.LoadBalancer, ruleIDs, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.m[owner.UID]
	// Never planned on for another cluster's Gateway of the same uid.
	if ok && !owns(owner, cur.lb.Tags) {
		return cloud.LoadBalancer{}, nil, false
	}
	return cur.lb, cur.ids, ok
}

func (l *lastWritten) set(owner lb.Owner, cur cloud.LoadBalancer, ids ruleIDs) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]known{}
	}
	l.m[owner.UID] = known{lb: cur, ids: ids}
}

func (l *lastWritten) forget(owner lb.Owner) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, owner.UID)
}

// remembered is what the cloud holds after w ran and answered final, and
// its rules' logical ids (nil when unknown).
func remembered(w write, final cloud.LoadBalancer) (cloud.LoadBalancer, ruleIDs) {
	if w.action == providers.ActionNothing {
		// Read from the cloud (or remembered): ours already, and
		// planned on rule by rule in its own order.
		return w.current, w.kept.ids
	}
	final.Tags = maps.Clone(w.desired.Tags)
	final.Spec = ownedSpec(w.desired.Spec, w.kept)
	return final, w.kept.ids
}

// ownedSpec is a copy of want that shares nothing with it: kept rules and
// target groups (equal in want and the spec planned on) are the latter's,
// as they are (nothing changes a view once it is made), everything else is
// copied.
func ownedSpec(want cloud.Spec, kept keptParts) cloud.Spec {
	groups := make(map[string]int, len(kept.groups))
	for i, g := range kept.curGroups {
		if kept.groups[g.Name] {
			groups[g.Name] = i
		}
	}
	out := cloud.Spec{Options: copied(want.Options)}
	for li, l := range want.Listeners {
		ol := copied(lb.Listener{Name: l.Name, Port: l.Port, Protocol: l.Protocol, Streams: l.Streams, ClientValidation: l.ClientValidation})
		for h, vh := range l.VirtualHosts {
			ov := copied(lb.VirtualHost{Hostname: vh.Hostname, Certificates: vh.Certificates})
			ov.Rules = make([]lb.Rule, len(vh.Rules))
			for i := 0; i < len(vh.Rules); {
				s := kept.source(li, h, i)
				if s.host < 0 {
					ov.Rules[i] = copied(vh.Rules[i])
					i++
					continue
				}
				// A run of kept rules is copied at once.
				j := i + 1
				for j < len(vh.Rules) && kept.source(li, h, j) == (source{s.host, s.at + int32(j-i)}) {
					j++
				}
				copy(ov.Rules[i:j], kept.from[li].VirtualHosts[s.host].Rules[s.at:int(s.at)+j-i])
				i = j
			}
			ol.VirtualHosts = append(ol.VirtualHosts, ov)
		}
		out.Listeners = append(out.Listeners, ol)
	}
	for _, g := range want.TargetGroups {
		if i, ok := groups[g.Name]; ok {
			out.TargetGroups = append(out.TargetGroups, kept.curGroups[i])
		} else {
			out.TargetGroups = append(out.TargetGroups, copied(g))
		}
	}
	return out
}

// copied is a deep copy of v by its JSON form, the form the cloud stores:
// a view planned on compares as one read from the cloud would.
func copied[T any](v T) T {
	var out T
	b, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	if err != nil {
		panic(err) // the model's plain data always round-trips
	}
	return out
}
