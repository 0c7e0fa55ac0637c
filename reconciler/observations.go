package reconciler

import (
	"crypto/sha256"
	"math/rand/v2"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/cloudgate-dev/cloudgate/mapping"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// observations remembers, per Gateway, the last model the cloud accepted and
// when the cloud was last read for it. A reconcile whose model is unchanged
// and whose last read is younger than the resync period makes no cloud call at
// all: watches wake a Gateway for many changes that do not touch its model
// (an unrelated Service in a backend namespace, a status write of another
// controller). Once the period is over, the next reconcile calls Ensure, which
// reads the cloud and repairs whatever was changed or deleted out of band.
type observations struct {
	mu sync.Mutex
	m  map[types.NamespacedName]observation
}

type observation struct {
	uid         string
	fingerprint [sha256.Size]byte
	status      lb.Status
	// due is when the cloud should be read again: the resync period after
	// the last read, jittered so that Gateways observed together (after a
	// restart) spread out instead of resyncing in one burst forever.
	due time.Time
	// refused are the routes the cloud refused, with the generation they
	// had; they are left out again until they change or the next resync.
	refused map[mapping.RouteRef]refusal
}

type refusal struct {
	generation int64
	message    string
}

// fresh returns the status of the last Ensure of an identical model when the
// cloud need not be read again yet.
func (o *observations) fresh(key types.NamespacedName, uid string, fp [sha256.Size]byte, now time.Time) (lb.Status, time.Duration, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ob, ok := o.m[key]
	if !ok || ob.uid != uid || ob.fingerprint != fp || fp == ([sha256.Size]byte{}) || !now.Before(ob.due) {
		return lb.Status{}, 0, false
	}
	return ob.status, ob.due.Sub(now), true
}

// record notes a successful Ensure (or Delete) and returns when to resync.
func (o *observations) record(key types.NamespacedName, uid string, fp [sha256.Size]byte, st lb.Status, period time.Duration, now time.Time) time.Duration {
	wait := jitter(period)
	o.mu.Lock()
	defer o.mu.Unlock()
	ob := o.entry(key, uid)
	ob.fingerprint, ob.status, ob.due = fp, st, now.Add(wait)
	o.m[key] = ob
	return wait
}

// entry returns the observation of key, or a new one when there is none or
// it belongs to an earlier Gateway of the same name. o.mu must be held.
func (o *observations) entry(key types.NamespacedName, uid string) observation {
	if o.m == nil {
		o.m = map[types.NamespacedName]observation{}
	}
	if ob := o.m[key]; ob.uid == uid {
		return ob
	}
	return observation{uid: uid}
}

// invalidate makes the next reconcile read the cloud (after a failed call).
func (o *observations) invalidate(key types.NamespacedName) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if ob, ok := o.m[key]; ok {
		ob.fingerprint = [sha256.Size]byte{}
		o.m[key] = ob
	}
}

func (o *observations) forget(key types.NamespacedName) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.m, key)
}

// refusedRoutes returns the routes the cloud refused that have not changed
// since, until the next resync; generation gives a route's current one (none:
// it is gone).
func (o *observations) refusedRoutes(key types.NamespacedName, uid string, generation func(mapping.RouteRef) (int64, bool)) map[mapping.RouteRef]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	ob, ok := o.m[key]
	if !ok || ob.uid != uid || !time.Now().Before(ob.due) || len(ob.refused) == 0 {
		// At each resync refused routes are offered to the cloud again:
		// what it refused may be a limit that has since been raised.
		return nil
	}
	out := map[mapping.RouteRef]string{}
	for ref, r := range ob.refused {
		if g, ok := generation(ref); ok && g == r.generation {
			out[ref] = r.message
		}
	}
	return out
}

func (o *observations) setRefused(key types.NamespacedName, uid string, refused map[mapping.RouteRef]string, generation func(mapping.RouteRef) (int64, bool)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if cur, ok := o.m[key]; ok && cur.uid == uid && len(cur.refused) == 0 && len(refused) == 0 {
		return // nothing refused, as before
	}
	ob := o.entry(key, uid)
	ob.refused = make(map[mapping.RouteRef]refusal, len(refused))
	for ref, msg := range refused {
		g, _ := generation(ref)
		ob.refused[ref] = refusal{generation: g, message: msg}
	}
	o.m[key] = ob
}

// jitter spreads a period over [0.75, 1.25) of itself.
func jitter(period time.Duration) time.Duration {
	return period*3/4 + time.Duration(rand.Int64N(int64(period)/2+1))
}
