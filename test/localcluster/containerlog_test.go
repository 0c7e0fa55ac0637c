package localcluster

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// emit writes to one of the process's pipes and waits until the kubelet has
// recorded it, so that records come in a known order.
func emit(t *testing.T, l *containerLog, w *os.File, s string) {
	t.Helper()
	changed, _ := l.state()
	if _, err := w.WriteString(s); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatalf("%q was not recorded", s)
	}
}

func serveString(t *testing.T, l *containerLog, opts logOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := l.serve(context.Background(), &b, func() {}, opts); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestContainerLogServe(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "c.log")
	l, err := newContainerLog(filepath.Join(dir, "0.log"), plain)
	if err != nil {
		t.Fatal(err)
	}
	// The test plays the process.
	out, errOut := l.stdout, l.stderr
	emit(t, l, out, "out1\n")
	emit(t, l, errOut, "err1\n")
	time.Sleep(20 * time.Millisecond)
	mark := time.Now()
	time.Sleep(20 * time.Millisecond)
	emit(t, l, out, "out2\n")
	if _, err := out.WriteString("no newline"); err != nil {
		t.Fatal(err)
	}
	l.closeWriters()
	select {
	case <-l.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the output did not end when the writers closed")
	}

	const all = "out1\nerr1\nout2\nno newline"
	if data, err := os.ReadFile(plain); err != nil || string(data) != all {
		t.Errorf("combined output file %q, %v; want %q", data, err, all)
	}
	for _, tc := range []struct {
		name string
		opts logOptions
		want string
	}{
		{"all", logOptions{tail: -1}, all},
		{"tail 2", logOptions{tail: 2}, "out2\nno newline"},
		{"tail 0", logOptions{tail: 0}, ""},
		{"tail more than there is", logOptions{tail: 10}, all},
		{"limitBytes cuts a line", logOptions{tail: -1, limitBytes: 7}, "out1\ner"},
		{"limitBytes with tail", logOptions{tail: 1, limitBytes: 2}, "no"},
		{"stderr only", logOptions{tail: -1, stream: streamStderr}, "err1\n"},
		{"since", logOptions{tail: -1, since: mark}, "out2\nno newline"},
		{"since and tail", logOptions{tail: 1, since: mark}, "no newline"},
		{"since in the future", logOptions{tail: -1, since: time.Now().Add(time.Hour)}, ""},
		// The run is over: following returns at the end.
		{"follow after the end", logOptions{tail: -1, follow: true}, all},
	} {
		if got := serveString(t, l, tc.opts); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}

	stamped := serveString(t, l, logOptions{tail: -1, timestamps: true})
	lines := strings.Split(stamped, "\n")
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (out1|err1|out2|no newline)$`)
	if len(lines) != 4 {
		t.Fatalf("with timestamps: %q", stamped)
	}
	for _, line := range lines {
		if !stamp.MatchString(line) {
			t.Errorf("with timestamps, line %q", line)
		}
	}
}

// TestContainerLogFollow follows a run from the start to its end, and
// another until the client goes away.
func TestContainerLogFollow(t *testing.T) {
	dir := t.TempDir()
	l, err := newContainerLog(filepath.Join(dir, "0.log"), filepath.Join(dir, "c.log"))
	if err != nil {
		t.Fatal(err)
	}
	out := l.stdout
	emit(t, l, out, "before\n")

	pr, pw := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- l.serve(context.Background(), pw, func() {}, logOptions{tail: -1, follow: true})
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	// Whether the lines come from the first read or from following, they
	// come in order.
	for _, s := range []string{"before", "one", "two"} {
		if s != "before" {
			emit(t, l, out, s+"\n")
		}
		if !lines.Scan() || lines.Text() != s {
			t.Fatalf("followed %q (%v), want %q", lines.Text(), lines.Err(), s)
		}
	}
	l.closeWriters()
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("following did not end with the run")
	}
	if lines.Scan() {
		t.Errorf("more after the end: %q", lines.Text())
	}

	// A run that goes on: the follow ends with the request.
	l2, err := newContainerLog(filepath.Join(dir, "1.log"), filepath.Join(dir, "c.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer l2.closeWriters()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { served <- l2.serve(ctx, io.Discard, func() {}, logOptions{tail: -1, follow: true}) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("following did not end with the request")
	}
}

func TestParseLogOptions(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	parse := func(query string) (logOptions, bool, error) {
		r, err := http.NewRequest("GET", "https://127.0.0.1/containerLogs/ns/p/c?"+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		return parseLogOptions(r, now)
	}
	opts, previous, err := parse("follow=true&previous=true&timestamps=true&tailLines=3&limitBytes=100&sinceSeconds=10&stream=Stderr")
	want := logOptions{since: now.Add(-10 * time.Second), tail: 3, limitBytes: 100, follow: true, timestamps: true, stream: streamStderr}
	if err != nil || !previous || opts != want {
		t.Errorf("got %+v, %v, %v; want %+v, previous", opts, previous, err, want)
	}
	opts, _, err = parse("sinceTime=2026-05-01T11:00:00Z")
	if err != nil || !opts.since.Equal(now.Add(-time.Hour)) || opts.tail != -1 {
		t.Errorf("sinceTime: %+v, %v", opts, err)
	}
	for _, bad := range []string{"follow=maybe", "tailLines=-1", "limitBytes=0", "sinceSeconds=0", "sinceTime=yesterday", "sinceSeconds=1&sinceTime=2026-05-01T11:00:00Z", "stream=both"} {
		if _, _, err := parse(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
