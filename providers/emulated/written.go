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
	m  map[string]cloud.LoadBalancer // by gateway-uid
}

func (l *lastWritten) get(owner lb.Owner) (cloud.LoadBalancer, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.m[owner.UID]
	// Never planned on for another cluster's Gateway of the same uid.
	if ok && !owns(owner, cur.Tags) {
		return cloud.LoadBalancer{}, false
	}
	return cur, ok
}

func (l *lastWritten) set(owner lb.Owner, cur cloud.LoadBalancer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]cloud.LoadBalancer{}
	}
	l.m[owner.UID] = cur
}

func (l *lastWritten) forget(owner lb.Owner) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, owner.UID)
}

// remembered is what the cloud holds after w ran and answered final.
func remembered(w write, final cloud.LoadBalancer) cloud.LoadBalancer {
	if w.action == providers.ActionNothing {
		return w.current // read from the cloud (or remembered): ours already
	}
	final.Tags = maps.Clone(w.desired.Tags)
	final.Spec = ownedSpec(w.desired.Spec, w.current.Spec, w.kept)
	return final
}

// ownedSpec is a copy of want that shares nothing with it: kept rules and
// target groups (equal in want and prev) are prev's, everything else is
// copied.
func ownedSpec(want, prev cloud.Spec, kept map[string]bool) cloud.Spec {
	rules := map[string]lb.Rule{}
	for _, l := range prev.Listeners {
		for _, vh := range l.VirtualHosts {
			for _, r := range vh.Rules {
				rules[partKey(providers.KindRule, l.Name+"/"+r.Name)] = r
			}
		}
	}
	groups := map[string]lb.TargetGroup{}
	for _, g := range prev.TargetGroups {
		groups[partKey(providers.KindTargetGroup, g.Name)] = g
	}
	out := cloud.Spec{Options: copied(want.Options)}
	for _, l := range want.Listeners {
		ol := copied(lb.Listener{Name: l.Name, Port: l.Port, Protocol: l.Protocol, Streams: l.Streams, ClientValidation: l.ClientValidation})
		for _, vh := range l.VirtualHosts {
			ov := copied(lb.VirtualHost{Hostname: vh.Hostname, Certificates: vh.Certificates})
			ov.Rules = make([]lb.Rule, len(vh.Rules))
			for i, r := range vh.Rules {
				k := partKey(providers.KindRule, l.Name+"/"+r.Name)
				if old, ok := rules[k]; ok && kept[k] {
					ov.Rules[i] = old
				} else {
					ov.Rules[i] = copied(r)
				}
			}
			ol.VirtualHosts = append(ol.VirtualHosts, ov)
		}
		out.Listeners = append(out.Listeners, ol)
	}
	for _, g := range want.TargetGroups {
		k := partKey(providers.KindTargetGroup, g.Name)
		if old, ok := groups[k]; ok && kept[k] {
			out.TargetGroups = append(out.TargetGroups, old)
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
