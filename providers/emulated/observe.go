package emulated

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
)

// This file is how the adapter observes the cloud: one list by owner tags per
// Ensure, except right after a restart, when one list of the whole cluster
// (paged) stands in for every Gateway's first read.
//
// A restarted controller reconciles every Gateway at once. Reading each
// Gateway's load balancers one by one would cost as many requests as there
// are Gateways, in a burst, against cloud API rate limits; the cluster's
// ownership tag gets them all in ceil(N/pageSize) requests. Each Gateway's
// first Ensure then plans on its part of that list. The list may be a little
// stale by then, which is safe: writes are versioned, so a plan made on a
// stale view fails with 409 (or 404) and Ensure reads and plans again, and a
// create of something that exists fails with 409 on its deterministic name.
// The one thing a stale view can hide is an out-of-band change to a load
// balancer that looks up to date; the Gateway's next Ensure (the resync)
// reads afresh and repairs it. To bound that window, the bulk list serves
// only for maxViewAge: a Gateway first reconciled later reads for itself.

// maxViewAge is how long a bulk list stands in for first reads: long enough
// for a restarted controller's first pass over thousands of Gateways.
const maxViewAge = 5 * time.Minute

// restartViews holds, per cluster, what the bulk list saw, until each owner's
// first Ensure takes its part.
type restartViews struct {
	mu       sync.Mutex
	clusters map[string]*clusterView
}

// clusterView is the bulk observation of one cluster.
type clusterView struct {
	started bool
	done    chan struct{} // closed when the bulk list has finished
	// failed and owners are written before done closes. A failed bulk list
	// is not tried again: each Gateway reads its own, as before.
	failed bool
	at     time.Time                       // when the list was read
	owners map[string][]cloud.LoadBalancer // by gateway-uid; entries taken once
	// taken holds the owners that no longer plan on the bulk list: they
	// took their part, or were deleted. Without it, an owner the list did
	// not see would be told again and again that it has nothing.
	taken map[string]bool
}

// view returns cluster's view, creating an empty one. The caller holds r.mu.
func (r *restartViews) view(cluster string) *clusterView {
	if r.clusters == nil {
		r.clusters = map[string]*clusterView{}
	}
	v := r.clusters[cluster]
	if v == nil {
		v = &clusterView{done: make(chan struct{}), taken: map[string]bool{}}
		r.clusters[cluster] = v
	}
	return v
}

// take returns what the bulk list of owner's cluster saw for owner, and true,
// the first time it is asked about owner; nothing there means owner had
// nothing, since the list covered the whole cluster. The first call for a
// cluster runs the bulk list; concurrent calls wait for it. After the first
// time, or when the bulk list failed, take returns false: the caller reads.
func (p *Provider) take(ctx context.Context, owner lb.Owner) ([]cloud.LoadBalancer, bool) {
	r := &p.restart
	r.mu.Lock()
	v := r.view(owner.Cluster)
	if v.taken[owner.UID] {
		r.mu.Unlock()
		return nil, false
	}
	start := !v.started
	v.started = true
	r.mu.Unlock()
	if start {
		p.observeCluster(ctx, owner.Cluster, v)
	}
	select {
	case <-v.done:
	case <-ctx.Done():
		return nil, false
	}
	if v.failed {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if v.taken[owner.UID] {
		return nil, false // a concurrent call (a Delete) got there first
	}
	if time.Since(v.at) > maxViewAge {
		v.owners = nil // too old to plan on: free it, and read
		return nil, false
	}
	v.taken[owner.UID] = true
	owned := v.owners[owner.UID]
	delete(v.owners, owner.UID)
	return owned, true
}

// forget makes owner read for itself from now on: after a Delete, whatever the
// bulk list saw for owner is gone.
func (p *Provider) forget(owner lb.Owner) {
	r := &p.restart
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.view(owner.Cluster)
	v.taken[owner.UID] = true
	delete(v.owners, owner.UID)
}

// observeCluster runs the bulk list of cluster into v and closes v.done.
func (p *Provider) observeCluster(ctx context.Context, cluster string, v *clusterView) {
	defer close(v.done)
	all, err := p.api.list(ctx, "", map[string]string{lb.TagCluster: cluster})
	if err != nil {
		v.failed = true
		p.logger.Info("Bulk observation of the cloud failed; each Gateway reads its own", "cluster", cluster, "error", err.Error())
		return
	}
	owners := map[string][]cloud.LoadBalancer{}
	for _, cur := range all {
		uid := cur.Tags[lb.TagGatewayUID]
		if uid != "" && owns(lb.Owner{Cluster: cluster, UID: uid}, cur.Tags) {
			owners[uid] = append(owners[uid], cur)
		}
	}
	r := &p.restart
	r.mu.Lock()
	v.owners, v.at = owners, time.Now()
	r.mu.Unlock()
	p.logger.Info("Observed the cloud in bulk", "cluster", cluster, "loadBalancers", len(all), "gateways", len(owners))
}

// observe reads what owner has now: one list by its ownership tags.
func (p *Provider) observe(ctx context.Context, owner lb.Owner) ([]cloud.LoadBalancer, error) {
	found, err := p.api.list(ctx, "", ownerTags(owner))
	if err != nil {
		return nil, fmt.Errorf("list load balancers of %s: %w", owner.Key(), err)
	}
	mine := found[:0]
	for _, cur := range found {
		if owns(owner, cur.Tags) { // the filter already ensures it; never trust one check for deletes
			mine = append(mine, cur)
		}
	}
	return mine, nil
}
