package mapping

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"0s":        0,
		"0ms":       0,
		"1s":        time.Second,
		"500ms":     500 * time.Millisecond,
		"1h":        time.Hour,
		"1m":        time.Minute,
		"1h2m3s4ms": time.Hour + 2*time.Minute + 3*time.Second + 4*time.Millisecond,
		"99999h":    99999 * time.Hour,
		"1s1s":      2 * time.Second, // the upstream pattern allows repeats
		"10m5ms":    10*time.Minute + 5*time.Millisecond,
	}
	for in, want := range good {
		got, err := parseDuration(in)
		if err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "s", "1", "1.5s", "-1s", "1us", "1d", "100000s", "1h1h1h1h1h", " 1s", "1s ", "1S", "1mss"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v; want an error", in, got)
		}
	}
}
