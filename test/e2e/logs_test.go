package e2e

import (
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// errorLog counts the controller's error-level log lines, and keeps the last
// few, so that a test can tell whether an operation logged errors.
var errorLog = &errorCounter{}

type errorCounter struct {
	mu    sync.Mutex
	count int
	last  []string
}

func (e *errorCounter) add(msg string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.count++
	line := msg
	if err != nil {
		line += ": " + err.Error()
	}
	e.last = append(e.last, line)
	if len(e.last) > 10 {
		e.last = e.last[1:]
	}
}

func (e *errorCounter) snapshot() (int, []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.count, append([]string(nil), e.last...)
}

// countingSink passes every line to next (when set) and counts Error calls.
type countingSink struct {
	next logr.LogSink
}

func (s countingSink) Init(info logr.RuntimeInfo) {
	if s.next != nil {
		s.next.Init(info)
	}
}
func (s countingSink) Enabled(level int) bool { return s.next != nil && s.next.Enabled(level) }
func (s countingSink) Info(level int, msg string, kv ...any) {
	if s.next != nil {
		s.next.Info(level, msg, kv...)
	}
}
func (s countingSink) Error(err error, msg string, kv ...any) {
	errorLog.add(msg, err)
	if s.next != nil {
		s.next.Error(err, msg, kv...)
	}
}
func (s countingSink) WithValues(kv ...any) logr.LogSink {
	if s.next == nil {
		return s
	}
	return countingSink{next: s.next.WithValues(kv...)}
}
func (s countingSink) WithName(name string) logr.LogSink {
	if s.next == nil {
		return s
	}
	return countingSink{next: s.next.WithName(name)}
}

// Deleting a Gateway and its routes at once is routine: the status writes to
// routes already gone and the finalizer's removal from a Gateway already gone
// are not errors.
func TestDeletingAGatewayWithItsRoutesLogsNoError(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "app")
	gw := gateway(ns, "gw", httpListener("http", 80))
	var routes []*gwv1.HTTPRoute
	for _, name := range []string{"r1", "r2", "r3"} {
		routes = append(routes, route(ns, name, "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"+name), backendRef("app", 1))))
	}
	create(t, gw)
	for _, r := range routes {
		create(t, r)
	}
	expectBackend(t, "GET", "http://"+programmedAddress(t, ns, "gw")+"/r1", "", nil, "app")

	before, _ := errorLog.snapshot()
	for _, r := range routes {
		must(t, suite.c.Delete(ctxFor(t), r))
	}
	deleteAndWait(t, gw)
	time.Sleep(time.Second) // let the last events drain
	after, last := errorLog.snapshot()
	if after != before {
		t.Errorf("%d error lines while deleting a Gateway and its routes: %q", after-before, last)
	}
}
