package emulated_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers/emulated"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
)

// ownedBy is what the cloud holds for o, seen through its Go API.
func ownedBy(c *cloud.Cloud, o lb.Owner) []cloud.LoadBalancer {
	return c.List(cloud.ListOptions{Tags: map[string]string{lb.TagCluster: o.Cluster, lb.TagGatewayUID: o.UID}})
}

// api sends one request to the cloud's HTTP API, as someone other than the
// controller would, and fails the test unless it gets want.
func api(t *testing.T, srv *cloud.Server, method, path string, body any, want int) {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, srv.URL()+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d", method, path, resp.StatusCode, want)
	}
}

// TestRestartObservesInBulk restarts the controller over 200 Gateways whose
// load balancers are already in the cloud: their 200 Ensures of unchanged
// models cost one paged list of the cluster, not a read per Gateway, and no
// write. Afterwards each Ensure reads once (the resync's read).
func TestRestartObservesInBulk(t *testing.T) {
	const gateways = 200
	srv := startCloud(t)
	target := deadTarget(t)
	first := newProvider(t, srv)
	models := make([]*lb.LoadBalancer, gateways)
	for i := range models {
		models[i] = simple(owner(fmt.Sprintf("gw-%03d", i)), 8080, target)
		ensure(t, first, models[i])
	}
	// Another cluster shares the cloud: the bulk list leaves it out.
	elsewhere := simple(lb.Owner{Cluster: "other", Namespace: "default", Name: "gw", UID: "uid-elsewhere"}, 8080, target)
	ensure(t, first, elsewhere)

	for _, pageSize := range []int{0, cloud.MaxPageSize, 64} {
		size := pageSize
		if size == 0 {
			size = cloud.DefaultPageSize
		}
		wantReads := int64((gateways + size - 1) / size)
		srv.Cloud().ResetStats()
		restarted, err := emulated.New(emulated.Config{Endpoint: srv.URL(), ListPageSize: pageSize})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, gateways)
		for _, m := range models {
			wg.Go(func() {
				res, err := restarted.Ensure(context.Background(), m)
				switch {
				case err != nil:
				case !res.Status.Ready:
					err = fmt.Errorf("%s not ready: %+v", m.Owner.Key(), res.Status)
				case res.Applied.Changes():
					err = fmt.Errorf("%s: the restart applied %s", m.Owner.Key(), res.Applied)
				}
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		took := time.Since(start)
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		st := srv.Cloud().Stats()
		if st.Reads() != wantReads || st.Writes() != 0 || len(st.Owners) != 0 {
			t.Errorf("page size %d: a restart with %d Gateways cost %d reads and %d writes (%v, by Gateway %d), want %d reads and none else",
				size, gateways, st.Reads(), st.Writes(), st.Requests, len(st.Owners), wantReads)
		}
		t.Logf("restart with %d Gateways, page size %d: %d cloud reads, %d writes, in %v", gateways, size, st.Reads(), st.Writes(), took)

		srv.Cloud().ResetStats()
		for _, m := range models[:20] {
			ensure(t, restarted, m)
		}
		if st := srv.Cloud().Stats(); st.Reads() != 20 || st.Writes() != 0 {
			t.Errorf("20 steady-state Ensures after the restart cost %d reads and %d writes, want 20 and 0", st.Reads(), st.Writes())
		}
	}
}

// TestResyncRepairsDrift changes and deletes a load balancer behind the
// controller's back, through the cloud's API: the next Ensure (a resync)
// repairs it, then recreates it.
func TestResyncRepairsDrift(t *testing.T) {
	srv := startCloud(t)
	p := newProvider(t, srv)
	m := simple(owner("drift"), 8080, deadTarget(t))
	ensure(t, p, m)
	orig := ownedBy(srv.Cloud(), m.Owner)[0]

	edited := orig
	edited.Spec.Listeners = slices.Clone(orig.Spec.Listeners)
	edited.Spec.Listeners[0].Port = 9090
	edited.Spec.Listeners[0].VirtualHosts = nil
	api(t, srv, http.MethodPut, "/v1/loadbalancers/"+orig.ID, edited, http.StatusOK)
	srv.Cloud().ResetStats()
	ensure(t, p, m)
	got := ownedBy(srv.Cloud(), m.Owner)
	if len(got) != 1 || got[0].ID != orig.ID || got[0].Spec.Listeners[0].Port != 8080 || len(got[0].Spec.Listeners[0].VirtualHosts) != 1 {
		t.Errorf("after a resync over an edited listener the cloud has %+v, want the original repaired", got)
	}
	if st := srv.Cloud().Stats(); st.Reads() != 1 || st.Writes() != 1 {
		t.Errorf("the repair cost %d reads and %d writes, want 1 and 1", st.Reads(), st.Writes())
	}

	api(t, srv, http.MethodDelete, "/v1/loadbalancers/"+orig.ID, nil, http.StatusNoContent)
	st := ensure(t, p, m)
	got = ownedBy(srv.Cloud(), m.Owner)
	if len(got) != 1 || got[0].ID == orig.ID || got[0].Spec.Listeners[0].Port != 8080 || got[0].Address != st.Addresses[0].Value {
		t.Errorf("after a resync over a deleted load balancer the cloud has %+v, want it recreated", got)
	}
}

// TestRestartViewMayBeStale shows why planning on the bulk list is safe. A
// change between the list and a Gateway's first Ensure makes a versioned
// write fail, and Ensure reads and plans again; a load balancer deleted in
// that window looks up to date to that first Ensure only, and the next one
// (the resync) recreates it.
func TestRestartViewMayBeStale(t *testing.T) {
	srv := startCloud(t)
	target := deadTarget(t)
	first := newProvider(t, srv)
	a, b, c := simple(owner("a"), 8080, target), simple(owner("b"), 8080, target), simple(owner("c"), 8080, target)
	for _, m := range []*lb.LoadBalancer{a, b, c} {
		ensure(t, first, m)
	}
	restarted := newProvider(t, srv)
	ensure(t, restarted, c) // the bulk list, which sees a and b as they are now

	// Someone edits a; a's model changes too.
	cur := ownedBy(srv.Cloud(), a.Owner)[0]
	cur.Tags["edited"] = "out of band"
	api(t, srv, http.MethodPut, "/v1/loadbalancers/"+cur.ID, cur, http.StatusOK)
	a.Tags = map[string]string{"team": "payments"}
	srv.Cloud().ResetStats()
	ensure(t, restarted, a)
	got := ownedBy(srv.Cloud(), a.Owner)[0]
	if got.Tags["team"] != "payments" || got.Tags["edited"] != "" {
		t.Errorf("Ensure over a stale view left tags %v", got.Tags)
	}
	// The stale replace (409), a read, the replace (a patch of what
	// changed).
	if st := srv.Cloud().Stats(); st.Writes() != 2 || st.Reads() != 1 {
		t.Errorf("Ensure over a stale view made %v, want 2 writes and 1 GET", st.Requests)
	}

	// Someone deletes b.
	api(t, srv, http.MethodDelete, "/v1/loadbalancers/"+ownedBy(srv.Cloud(), b.Owner)[0].ID, nil, http.StatusNoContent)
	ensure(t, restarted, b) // plans on the bulk list: looks up to date
	ensure(t, restarted, b) // the resync reads, and recreates it
	if got := ownedBy(srv.Cloud(), b.Owner); len(got) != 1 {
		t.Errorf("after the resync b has %d load balancers, want 1", len(got))
	}
}

// TestDeleteAfterRestartReads checks that a Delete never trusts the bulk list
// (a stale "nothing left" would leak a load balancer), and that a Gateway
// deleted and then ensured again reads instead of planning on it.
func TestDeleteAfterRestartReads(t *testing.T) {
	srv := startCloud(t)
	target := deadTarget(t)
	first := newProvider(t, srv)
	a, b := simple(owner("a"), 8080, target), simple(owner("b"), 8080, target)
	ensure(t, first, a)
	restarted := newProvider(t, srv)
	ensure(t, restarted, b) // the bulk list: b has nothing, a has one
	if err := restarted.Delete(context.Background(), a.Owner); err != nil {
		t.Fatal(err)
	}
	if got := ownedBy(srv.Cloud(), a.Owner); len(got) != 0 {
		t.Fatalf("after Delete a has %+v", got)
	}
	// a comes back (its class moved back to this controller): the bulk list
	// still shows its old load balancer, which must not be reported.
	ensure(t, restarted, a)
	if got := ownedBy(srv.Cloud(), a.Owner); len(got) != 1 {
		t.Errorf("after Delete and Ensure a has %d load balancers, want 1", len(got))
	}
}
