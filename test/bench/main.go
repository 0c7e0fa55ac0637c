// Command bench measures what issue 12 tracks and prints one table: the
// emulated proxy's throughput and one-connection latency next to nginx's
// and a direct connection's (wrk against the same 64-byte backend), the
// data plane's allocations per request, and the go test benchmarks of the
// control plane, each figure next to its target. `make bench` runs it; it
// needs wrk and nginx on PATH (the Makefile installs them) and, for the
// go test benchmarks, KUBEBUILDER_ASSETS.
//
// The backend and the emulated proxy run as child processes of this
// command (the same binary, told its role by BENCH_ROLE), nginx as a child
// with a configuration of its own in a temporary directory; all three end
// with the command.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/dataplane"
)

func main() {
	switch os.Getenv("BENCH_ROLE") {
	case "backend":
		serveChild(backendHandler())
		return
	case "proxy":
		serveProxy(os.Getenv("BENCH_BACKEND"))
		return
	}
	duration := flag.Duration("duration", 9*time.Second, "wrk's throughput runs of each path, in all rounds")
	latency := flag.Duration("latency-duration", 6*time.Second, "wrk's one-connection runs of each path, in all rounds")
	goBench := flag.Bool("go-bench", true, "run the go test benchmarks too")
	cpuProfile := flag.String("cpuprofile", "", "write the emulated proxy's CPU profile, over all its wrk runs, to this file")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench: ")

	var rows []row
	rows = append(rows, proxyRows(*duration, *latency, *cpuProfile)...)
	if *goBench {
		rows = append(rows, goBenchRows()...)
	}
	printTable(os.Stdout, rows)
}

// row is one line of the table. Empty strings print as "-".
type row struct {
	metric, ours, nginx, direct, ratio, target, met string
}

func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tours\tnginx\tdirect\tratio\ttarget\tmet")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.metric, dash(r.ours), dash(r.nginx), dash(r.direct), dash(r.ratio), dash(r.target), dash(r.met))
	}
	_ = tw.Flush()
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// body64 is the backend's answer: 64 bytes, as in the figures.
var body64 = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n")

func backendHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body64)
	})
}

// serveChild serves h on a free loopback port, prints the address, and
// exits when its parent closes stdin (or dies).
func serveChild(h http.Handler) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	go func() { _ = http.Serve(ln, h) }()
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// serveProxy runs the emulated data plane with one HTTP listener whose one
// rule forwards everything to backend, as a Gateway with one HTTPRoute does.
func serveProxy(backend string) {
	host, portStr, err := net.SplitHostPort(backend)
	if err != nil {
		log.Fatal(err)
	}
	port, _ := strconv.Atoi(portStr)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	lport := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	c, err := dataplane.Compile(dataplane.Spec{
		TargetGroups: []lb.TargetGroup{{Name: "app", Protocol: lb.ProtocolHTTP, Targets: []lb.Target{{IP: host, Port: int32(port)}}}},
		Listeners: []lb.Listener{{Name: "http", Port: int32(lport), Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{{
			Rules: []lb.Rule{{Name: "all", Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchPrefix, Value: "/"}},
				Action: lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "app", Weight: 1}}}}},
		}}}},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := dataplane.NewServer(dataplane.Config{Address: netip.MustParseAddr("127.0.0.1")})
	if st := srv.Apply(c); !st[0].Bound {
		log.Fatal(st[0].Error)
	}
	if path := os.Getenv("BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	fmt.Printf("127.0.0.1:%d\n", lport)
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
}

// startChild runs this binary in role and returns the address it serves.
func startChild(role string, env ...string) (string, func()) {
	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), append(env, "BENCH_ROLE="+role)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		log.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		log.Fatalf("%s: %v", role, err)
	}
	return strings.TrimSpace(addr), func() { _ = stdin.Close(); _ = cmd.Wait() }
}

const nginxConf = `worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	upstream backend {
		server %[2]s;
		keepalive 64;
	}
	server {
		listen %[3]s;
		location / {
			proxy_pass http://backend;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
`

// startNginx runs nginx (one worker, keep-alive to backend) in front of
// backend, with its configuration and files in a temporary directory.
func startNginx(backend string) (string, func()) {
	dir, err := os.MkdirTemp("", "bench-nginx-")
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, backend, addr), 0o600); err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command("nginx", "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		_ = os.RemoveAll(dir)
	}
	if err := waitHTTP("http://" + addr + "/"); err != nil {
		stop()
		log.Fatalf("nginx: %v", err)
	}
	return addr, stop
}

func waitHTTP(url string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rounds is how many turns each path's wrk runs take (see proxyRows).
const rounds = 3

// medians returns the median of each figure of runs.
func medians(runs []wrkResult) wrkResult {
	median := func(f func(wrkResult) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return wrkResult{
		rps: median(func(r wrkResult) float64 { return r.rps }),
		p50: time.Duration(median(func(r wrkResult) float64 { return float64(r.p50) })),
		p99: time.Duration(median(func(r wrkResult) float64 { return float64(r.p99) })),
	}
}

// wrkResult is what one wrk run measured.
type wrkResult struct {
	rps      float64
	p50, p99 time.Duration
}

var (
	rpsLine     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	percentLine = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
)

func runWrk(url string, conns int, d time.Duration) (wrkResult, error) {
	out, err := exec.Command("wrk", "-t1", "-c"+strconv.Itoa(conns), "-d"+d.String(), "--latency", url).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	if bytes.Contains(out, []byte("Non-2xx")) || bytes.Contains(out, []byte("Socket errors")) {
		return wrkResult{}, fmt.Errorf("wrk saw errors: %s", out)
	}
	var res wrkResult
	m := rpsLine.FindSubmatch(out)
	if m == nil {
		return res, fmt.Errorf("no Requests/sec in wrk's output: %s", out)
	}
	res.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	for _, m := range percentLine.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(m[3])]
		d := time.Duration(v * float64(unit))
		if string(m[1]) == "50" {
			res.p50 = d
		} else {
			res.p99 = d
		}
	}
	return res, nil
}

// proxyRows measures direct, nginx and the emulated proxy, one after the
// other, each under the same load.
func proxyRows(duration, latency time.Duration, cpuProfile string) []row {
	backend, stopBackend := startChild("backend")
	defer stopBackend()
	proxy, stopProxy := startChild("proxy", "BENCH_BACKEND="+backend, "BENCH_CPUPROFILE="+cpuProfile)
	defer stopProxy()
	nginx, stopNginx := startNginx(backend)
	defer stopNginx()
	if err := waitHTTP("http://" + proxy + "/"); err != nil {
		log.Fatalf("emulated proxy: %v", err)
	}
	// The machine is shared: the runs take turns, round by round, and each
	// figure is the median of its rounds, so that a burst of other work
	// weighs on every path alike rather than on whichever ran then.
	targets := []struct{ name, url string }{
		{"direct", "http://" + backend + "/"}, {"nginx", "http://" + nginx + "/"}, {"emulated", "http://" + proxy + "/"},
	}
	for _, t := range targets { // warm-up: connections, caches
		if _, err := runWrk(t.url, 32, time.Second); err != nil {
			log.Print(err)
			return []row{{metric: "proxy throughput and latency", ours: "not measured"}}
		}
	}
	runs := make([][]wrkResult, len(targets)) // by target: load runs, then one-connection runs
	for round := range rounds {
		for i, t := range targets {
			log.Printf("round %d/%d, %s: wrk with 32 connections for %v, then 1 for %v", round+1, rounds, t.name, duration/rounds, latency/rounds)
			load, err := runWrk(t.url, 32, duration/rounds)
			if err != nil {
				log.Print(err)
				return []row{{metric: "proxy throughput and latency", ours: "not measured"}}
			}
			one, err := runWrk(t.url, 1, latency/rounds)
			if err != nil {
				log.Print(err)
				return []row{{metric: "proxy throughput and latency", ours: "not measured"}}
			}
			runs[i] = append(runs[i], wrkResult{rps: load.rps, p50: one.p50, p99: one.p99})
		}
	}
	d, n, e := medians(runs[0]), medians(runs[1]), medians(runs[2])
	us := func(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }
	ratio := e.rps / n.rps
	return []row{
		{
			metric: "throughput, 32 connections (rps)",
			ours:   fmt.Sprintf("%.0f", e.rps), nginx: fmt.Sprintf("%.0f", n.rps), direct: fmt.Sprintf("%.0f", d.rps),
			ratio: fmt.Sprintf("%.2f× nginx", ratio), target: "≥ 0.6× nginx", met: yesNo(ratio >= 0.6),
		},
		{
			metric: "1 connection p50",
			ours:   us(e.p50), nginx: us(n.p50), direct: us(d.p50),
			ratio: "+" + us(e.p50-d.p50) + " over direct", target: "≤ direct + 50 µs", met: yesNo(e.p50 <= d.p50+50*time.Microsecond),
		},
		{
			metric: "1 connection p99",
			ours:   us(e.p99), nginx: us(n.p99), direct: us(d.p99),
			target: "≤ 1000 µs", met: yesNo(e.p99 <= time.Millisecond),
		},
	}
}
