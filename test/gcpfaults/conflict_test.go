package gcpfaults

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

// urlMapWrites records the provider's URL map updates: the fingerprint
// each carried and the code it got.
type urlMapWrites struct {
	mu     sync.Mutex
	writes []string // "fingerprint code"
	// edit, when set, runs before the first update is served, with the
	// update's body.
	edit func(body *computepb.UrlMap) error
	err  error
}

func (w *urlMapWrites) hook() gcptest.Hook {
	var body *computepb.UrlMap
	return gcptest.Hook{Method: "compute.regionUrlMaps.update",
		Before: func(c gcptest.Call) {
			body = &computepb.UrlMap{}
			err := protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(c.Body, body)
			w.mu.Lock()
			edit := w.edit
			w.edit = nil
			w.mu.Unlock()
			if err == nil && edit != nil {
				err = edit(body)
			}
			if err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
			}
		},
		After: func(c gcptest.Call) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.writes = append(w.writes, fmt.Sprintf("%s %d", body.GetFingerprint(), c.Code))
		},
	}
}

func (w *urlMapWrites) arm(edit func(body *computepb.UrlMap) error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes, w.edit, w.err = nil, edit, nil
}

func (w *urlMapWrites) seen() ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.writes...), w.err
}

// paths lists the path matches of a URL map's route rules.
func paths(um *computepb.UrlMap) []string {
	var out []string
	for _, pm := range um.GetPathMatchers() {
		for _, rr := range pm.GetRouteRules() {
			for _, m := range rr.GetMatchRules() {
				out = append(out, m.GetPrefixMatch()+m.GetFullPathMatch())
			}
		}
	}
	return out
}

// hasPath says whether a route rule matches path (as a prefix, which GCP
// may write with a trailing slash, or in full).
func hasPath(um *computepb.UrlMap, path string) bool {
	for _, p := range paths(um) {
		if p == path || p == path+"/" {
			return true
		}
	}
	return false
}

// TestConcurrentURLMapEditIsNotOverwrittenBlindly: someone else changes
// the URL map after the provider read it and before its write lands (a
// hook of the double runs the edit right before the provider's update is
// served, so the window is hit every time). The update carries the
// fingerprint of the read and gets 412; the provider reads again and
// plans from what is there:
//   - when the edit differs from what the provider wants, its next write
//     carries the fingerprint the edit left (it read the edited map) and
//     puts the map back in line with the routes;
//   - when the edit is exactly the provider's change, its new plan finds
//     the map up to date and writes nothing more: a retry of the refused
//     write, or a write of a plan made before the edit, would write again.
func TestConcurrentURLMapEditIsNotOverwrittenBlindly(t *testing.T) {
	const (
		cluster  = "faults-conflict"
		class    = "gcp-faults-conflict"
		deadline = 30 * time.Second
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := startDouble(ctx, gcptest.Config{})
	must(t, err)
	d := srv.Double()
	ns := namespace(t, ctx, class)
	service(t, ctx, ns, "svc-a", 1)
	must(t, suite.c.Create(ctx, gateway(ns, "gw", class, false)))
	must(t, suite.c.Create(ctx, httpRoute(ns, "r", "gw", []routeRule{{"/a", "svc-a"}})))
	calls := newCallCounts()
	startController(t, srv, cluster, calls)
	converged := func() error {
		_, err := eventually(deadline, func() error {
			_, err := k8sConverged(ctx, ns, nil)
			return err
		})
		return err
	}
	if err := converged(); err != nil {
		logEvents(t, ctx, ns)
		t.Fatal(err)
	}
	ums := gcptest.Objects[*computepb.UrlMap](d)
	if len(ums) != 1 {
		t.Fatalf("%d URL maps, want 1", len(ums))
	}
	link := ums[0].GetSelfLink()
	urlMap := func() *computepb.UrlMap {
		um, ok := gcptest.Get[*computepb.UrlMap](d, link)
		if !ok {
			t.Fatalf("the URL map %s is gone", link)
		}
		return um
	}
	writes := &urlMapWrites{}
	d.AddHook(writes.hook())

	t.Run("an edit unlike the provider's change", func(t *testing.T) {
		before := urlMap()
		var edited string // the fingerprint the edit left
		writes.arm(func(*computepb.UrlMap) error {
			// Someone else answers 503 where the provider answers 404.
			err := d.Edit(link, func(m proto.Message) {
				m.(*computepb.UrlMap).DefaultRouteAction.FaultInjectionPolicy.Abort.HttpStatus = proto.Uint32(503)
			})
			um, _ := gcptest.Get[*computepb.UrlMap](d, link)
			edited = um.GetFingerprint()
			return err
		})
		must(t, updateRoute(ctx, ns, "r", []routeRule{{"/a2", "svc-a"}}))
		if err := converged(); err != nil {
			logEvents(t, ctx, ns)
			t.Fatal(err)
		}
		got, err := writes.seen()
		must(t, err)
		want := []string{before.GetFingerprint() + " 412", edited + " 200"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("the provider's URL map updates (fingerprint, code): %q, want %q: the refused write, then one on the edited map's fingerprint", got, want)
		}
		after := urlMap()
		if !hasPath(after, "/a2") || hasPath(after, "/a") || after.GetDefaultRouteAction().GetFaultInjectionPolicy().GetAbort().GetHttpStatus() != 404 {
			t.Errorf("the URL map has paths %v and default abort %d, want the route's /a2 and the provider's 404", paths(after),
				after.GetDefaultRouteAction().GetFaultInjectionPolicy().GetAbort().GetHttpStatus())
		}
		t.Logf("URL map updates: %q (edit left fingerprint %s)", got, edited)
	})

	t.Run("an edit that is the provider's change", func(t *testing.T) {
		before := urlMap()
		writes.arm(func(body *computepb.UrlMap) error {
			// Someone else makes the very change the provider is about
			// to write.
			return d.Edit(link, func(m proto.Message) {
				proto.Reset(m)
				proto.Merge(m, body)
			})
		})
		must(t, updateRoute(ctx, ns, "r", []routeRule{{"/a3", "svc-a"}}))
		if err := converged(); err != nil {
			logEvents(t, ctx, ns)
			t.Fatal(err)
		}
		got, err := writes.seen()
		must(t, err)
		want := []string{before.GetFingerprint() + " 412"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("the provider's URL map updates (fingerprint, code): %q, want only the refused one %q: the plan after the 412 did not start from the map as edited", got, want)
		}
		if after := urlMap(); !hasPath(after, "/a3") || hasPath(after, "/a2") {
			t.Errorf("the URL map has paths %v, want the route's /a3", paths(after))
		}
		t.Logf("URL map updates: %q", got)
	})
	if err := deleteGateways(ctx, ns, deadline); err != nil {
		t.Fatal(err)
	}
	if objs, err := readCloud(d).ours(cluster); err != nil || len(objs) > 0 {
		t.Errorf("after the Gateway's deletion, the double holds %v %v", objs, err)
	}
	t.Logf("provider calls (after retries): %s", formatCounts(calls.snapshot()))
	if n := d.Calls()["compute.regionUrlMaps.update"]; n != 3 {
		t.Errorf("the double saw %d URL map updates, want 3 (two refused with 412, one accepted)", n)
	}
}
