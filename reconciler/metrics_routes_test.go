package reconciler

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestRouteClockTimesEachGenerationOnce(t *testing.T) {
	var c routeClock
	t0 := time.Unix(1000, 0)
	route := func(gen int64) *gwv1.HTTPRoute {
		return &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{UID: "u", Generation: gen}}
	}
	c.seen(route(1), t0)
	// An update event hands the old object's generation in again: the
	// clock keeps the first time it saw it.
	c.seen(route(1), t0.Add(time.Second))
	if d, ok := c.programmed("u", 1, t0.Add(3*time.Second)); !ok || d != 3*time.Second {
		t.Errorf("generation 1 timed %v, %v; want 3s", d, ok)
	}
	if _, ok := c.programmed("u", 1, t0.Add(4*time.Second)); ok {
		t.Error("generation 1 was timed twice")
	}

	// A reconcile that programs a newer generation than the one pending
	// (the cache got ahead of the watch's handler) drops the older one
	// untimed; the newer one is timed from when the handler sees it.
	c.seen(route(2), t0.Add(5*time.Second))
	if _, ok := c.programmed("u", 3, t0.Add(6*time.Second)); ok {
		t.Error("generation 2's start timed generation 3")
	}
	c.seen(route(3), t0.Add(7*time.Second))
	// A reconcile that still had generation 2 does not end generation 3.
	if _, ok := c.programmed("u", 2, t0.Add(8*time.Second)); ok {
		t.Error("an older generation ended the newer one's timing")
	}
	if d, ok := c.programmed("u", 3, t0.Add(9*time.Second)); !ok || d != 2*time.Second {
		t.Errorf("generation 3 timed %v, %v; want 2s", d, ok)
	}

	c.seen(route(4), t0)
	c.forget("u")
	if _, ok := c.programmed("u", 4, t0.Add(time.Second)); ok {
		t.Error("a deleted route was timed")
	}
}
