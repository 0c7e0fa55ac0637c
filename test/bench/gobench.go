package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log"
	"maps"
	"os"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"
)

// results holds go test benchmark figures: by "pkg Benchmark/sub", by unit.
type results map[string]map[string]float64

// parseBench reads go test -bench output. The package (the last element of
// its "pkg:" line) qualifies each name, since two packages have a
// BenchmarkRouteChangeToTraffic.
func parseBench(out []byte, into results) {
	pkg := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = path.Base(strings.TrimSpace(p))
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue // a log line that starts with a benchmark's name
		}
		name := fields[0]
		// The -GOMAXPROCS suffix.
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			m[fields[i+1]] = v
		}
		into[pkg+" "+name] = m
	}
}

// runGoTest runs go test with args, its output shown as it comes, and
// parses the benchmark lines even when the run fails.
func runGoTest(into results, args ...string) {
	log.Printf("go %s", strings.Join(args, " "))
	var buf bytes.Buffer
	cmd := exec.Command("go", args...)
	cmd.Stdout = io.MultiWriter(os.Stderr, &buf)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		log.Printf("go test: %v (figures it printed are kept)", err)
	}
	parseBench(buf.Bytes(), into)
}

// goBenchRows runs the repository's benchmarks and turns them into rows:
// first the data plane's, then every figure of the others, each with its
// target where issue 12 sets one.
func goBenchRows() []row {
	res := results{}
	runGoTest(res, "test", "-run", "^$", "-bench", ".", "-benchtime", "2s", "-timeout", "10m", "./providers/...")
	runGoTest(res, "test", "-run", "^$", "-bench", ".", "-benchtime", "2s", "-timeout", "20m", "./test/e2e/...")

	var rows []row
	fast, okF := res["dataplane BenchmarkForward/fast"]
	direct, okD := res["dataplane BenchmarkForward/direct"]
	full, okU := res["dataplane BenchmarkForward/full"]
	if okF && okD && okU {
		extra := fast["extra-allocs/op"]
		rows = append(rows,
			row{metric: "allocations per request beyond net/http (full path: " + num(full["extra-allocs/op"]) + ")", ours: num(extra),
				target: "≤ 2", met: yesNo(extra <= 2)},
			row{metric: "allocs/op, client+proxy+backend in one process (full path: " + num(full["allocs/op"]) + ")",
				ours: num(fast["allocs/op"]), direct: num(direct["allocs/op"])},
			row{metric: "µs per request, one at a time, in one process (full path: " + micros(full["ns/op"]) + ")",
				ours: micros(fast["ns/op"]), direct: micros(direct["ns/op"]),
				ratio: fmt.Sprintf("%.2f× direct", fast["ns/op"]/direct["ns/op"])},
		)
	} else {
		rows = append(rows, row{metric: "allocations per request beyond net/http", ours: "not measured", target: "≤ 2"})
	}
	delete(res, "dataplane BenchmarkForward/fast")
	delete(res, "dataplane BenchmarkForward/direct")
	delete(res, "dataplane BenchmarkForward/full")

	// Issue 12's targets by benchmark and unit; these are printed, measured
	// or not.
	targets := []struct {
		bench, unit, text string
		met               func(float64) bool
	}{
		{"e2e BenchmarkRouteChangeToTraffic/routes=3000", "p50-ms", "≤ 30 ms", func(v float64) bool { return v <= 30 }},
		{"e2e BenchmarkRouteChangeToTraffic/routes=3000", "p99-ms", "≤ 100 ms", func(v float64) bool { return v <= 100 }},
		{"e2e BenchmarkEndpointChange/routes=3000", "p50-ms", "≤ 30 ms", func(v float64) bool { return v <= 30 }},
		{"e2e BenchmarkThousandGateways", "programmed-s", "reported", func(float64) bool { return true }},
		{"e2e BenchmarkThousandGateways", "rss-MiB", "≤ 150 MiB", func(v float64) bool { return v <= 150 }},
		{"e2e BenchmarkThousandGateways", "restart-cloud-writes", "0", func(v float64) bool { return v == 0 }},
		{"e2e BenchmarkThousandGateways", "restart-status-writes", "0", func(v float64) bool { return v == 0 }},
	}
	// Before the loop below, which takes the figures it prints out of res.
	const small, large = "e2e BenchmarkRouteChangeToTraffic/routes=10", "e2e BenchmarkRouteChangeToTraffic/routes=3000"
	ratioRow := row{metric: "route change p50, 3000 routes over 10", target: "≤ 1.5", ours: "not measured"}
	if a, ok := res[small]["p50-ms"]; ok && a > 0 {
		if b, ok := res[large]["p50-ms"]; ok {
			ratioRow.ours, ratioRow.met = fmt.Sprintf("%.2f", b/a), yesNo(b/a <= 1.5)
		}
	}
	for _, t := range targets {
		r := row{metric: t.bench + " " + t.unit, target: t.text, ours: "not measured"}
		if v, ok := res[t.bench][t.unit]; ok {
			r.ours, r.met = num(v), yesNo(t.met(v))
			delete(res[t.bench], t.unit)
		}
		rows = append(rows, r)
	}
	rows = append(rows, ratioRow)

	// Every other figure, without a target.
	for _, name := range slices.Sorted(maps.Keys(res)) {
		for _, unit := range slices.Sorted(maps.Keys(res[name])) {
			v := res[name][unit]
			if unit == "ns/op" && v == 0 {
				continue // a benchmark whose time per op means nothing reports 0
			}
			rows = append(rows, row{metric: name + " " + unit, ours: num(v)})
		}
	}
	return rows
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

func micros(ns float64) string { return fmt.Sprintf("%.1f µs", ns/1000) }
