package main

import "testing"

func TestParseBench(t *testing.T) {
	out := []byte(`goos: linux
pkg: github.com/cloudgate-dev/cloudgate/providers/emulated/dataplane
BenchmarkForward/fast-2   	   45337	     50282 ns/op	        -1.000 extra-allocs/op	    8733 B/op	      99 allocs/op
pkg: github.com/cloudgate-dev/cloudgate/test/e2e
BenchmarkRouteChangeToTraffic/routes=10-2         	      50	  24910000 ns/op	        20.84 p50-ms	        61.66 p99-ms
BenchmarkRouteChangeToTraffic/routes=3000 logs a line
BenchmarkThousandGateways   	       1	         0 ns/op	        38.73 programmed-s
`)
	res := results{}
	parseBench(out, res)
	for _, c := range []struct {
		name, unit string
		want       float64
	}{
		{"dataplane BenchmarkForward/fast", "extra-allocs/op", -1},
		{"dataplane BenchmarkForward/fast", "allocs/op", 99},
		{"e2e BenchmarkRouteChangeToTraffic/routes=10", "p50-ms", 20.84},
		{"e2e BenchmarkThousandGateways", "programmed-s", 38.73},
	} {
		if got, ok := res[c.name][c.unit]; !ok || got != c.want {
			t.Errorf("%s %s = %v (found %v), want %v", c.name, c.unit, got, ok, c.want)
		}
	}
	if len(res) != 3 {
		t.Errorf("parsed %d benchmarks, want 3: %v", len(res), res)
	}
}
