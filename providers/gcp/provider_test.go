package gcp

import (
	"testing"
	"time"
)

// TestResyncPeriodFor checks the figures DefaultResyncPeriod's comment and
// the README state.
func TestResyncPeriodFor(t *testing.T) {
	for _, c := range []struct {
		gateways int
		want     time.Duration
	}{
		{0, 10 * time.Minute},
		{250, 10 * time.Minute},
		{1000, 40 * time.Minute},
	} {
		if got := resyncPeriodFor(c.gateways); got.Round(time.Second) != c.want {
			t.Errorf("resyncPeriodFor(%d) = %s, want %s", c.gateways, got, c.want)
		}
	}
}
