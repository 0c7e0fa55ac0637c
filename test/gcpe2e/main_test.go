package gcpe2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/gcp"
	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
	"github.com/cloudgate-dev/cloudgate/reconciler"
	"github.com/cloudgate-dev/cloudgate/test/controlplane"
	"github.com/cloudgate-dev/cloudgate/test/harness"
)

const (
	className   = "cloudgate-gcp-e2e"
	clusterName = "gcpe2e"
	project     = "cloudgate-e2e"
	region      = "europe-west1"
	zone        = "europe-west1-b"
	// suiteResync is long so that call counts are the changes' alone: no
	// drift resync runs in the middle of a test. A test that wants a
	// reconcile of a Gateway that did not change restarts the controller.
	suiteResync = time.Hour
	// operationDelay keeps each mutation's operation RUNNING a moment, so
	// that the provider waits on it (regionOperations.wait,
	// zoneOperations.wait) as it does on GCP.
	operationDelay = 10 * time.Millisecond
)

// suite is what every test shares: one control plane, one double, one
// controller. Tests isolate themselves by namespace and run one after the
// other, so the double's call counts between two points of a test are that
// test's.
var suite struct {
	c client.Client
	d *gcptest.Double
	// log is every call the double served, in order.
	log *callLog
	// calls takes the double's call counts since the last take.
	calls *counter
	// ctl is the controller, and harness its configuration, for tests
	// that restart it.
	ctl     *harness.Controller
	harness harness.Config
	// ctx lives as long as the suite: a restarted controller runs in it.
	ctx context.Context
}

// callLog records the double's calls in the order they were answered,
// with the bodies of writes, for the tests that check an order.
type callLog struct {
	next http.Handler
	mu   sync.Mutex
	all  []call
}

type call struct {
	Method string // GET, POST, PUT, DELETE
	Path   string // from "projects/" on
	Body   []byte
	Status int
}

func (l *callLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	l.next.ServeHTTP(sw, r)
	path := r.URL.Path
	if i := strings.Index(path, "/projects/"); i >= 0 {
		path = path[i+1:]
	}
	l.mu.Lock()
	l.all = append(l.all, call{Method: r.Method, Path: path, Body: body, Status: sw.status})
	l.mu.Unlock()
}

// since returns the calls from index i on, and the index to read from next.
func (l *callLog) since(i int) ([]call, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]call(nil), l.all[i:]...), len(l.all)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// counter diffs the double's cumulative call counts.
type counter struct {
	mu   sync.Mutex
	last map[string]int
}

// take returns the calls since the last take, by method id without the
// "compute." prefix ("regionUrlMaps.update"), as the provider counts them.
func (c *counter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := suite.d.Calls()
	out := map[string]int{}
	for m, n := range now {
		if d := n - c.last[m]; d > 0 {
			out[trimMethod(m)] = d
		}
	}
	c.last = now
	return out
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	suite.ctx = ctx
	var sink logr.LogSink = discard{}
	if os.Getenv("E2E_VERBOSE") != "" {
		sink = zap.New(zap.UseDevMode(true)).GetSink()
	}
	ctrl.SetLogger(logr.New(sink))

	cp, err := controlplane.Start(ctx, controlplane.Config{Progress: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the control plane:", err)
		return 1
	}
	defer func() { _ = cp.Stop() }()

	d, err := gcptest.New(gcptest.Config{Project: project, Region: region, Zones: []string{zone, region + "-c", region + "-d"},
		OperationDelay: operationDelay, Subnetworks: []*computepb.Subnetwork{gcptest.ProxyOnlySubnet()}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	suite.d, suite.log, suite.calls = d, &callLog{next: d}, &counter{last: map[string]int{}}
	endpoint, stop, err := serve(suite.log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "serving the GCP double:", err)
		return 1
	}
	defer stop()

	newProvider := func() (providers.Provider, error) {
		// As cmd/internal/manager builds it for --providers=gcp
		// --gcp-endpoint --gcp-without-authentication.
		return gcp.New(ctx, gcp.Config{Project: project, Region: region, Zone: zone, Endpoint: endpoint, WithoutAuthentication: true,
			CountCall: reconciler.CountCloudCalls("gcp"), RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 200 * time.Millisecond})
	}
	suite.harness = harness.Config{ClusterName: clusterName, ResyncPeriod: suiteResync, NewProvider: newProvider}
	ctl, err := harness.Start(ctx, cp.REST, suite.harness)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the controller:", err)
		return 1
	}
	defer ctl.Stop()
	suite.c, suite.ctl = ctl.Client, ctl

	gc := &gwv1.GatewayClass{}
	gc.Name = className
	gc.Spec.ControllerName = gcp.ControllerName
	if err := suite.c.Create(ctx, gc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	// Whatever ran, everything the provider called must be granted.
	if err := checkRole(d.Calls()); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: deploy/gcp/cloudgate-role.yaml:", err)
		return 1
	}
	return code
}

// serve serves h on a free loopback port until stop.
func serve(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "the GCP double stopped:", err)
		}
	}()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
	}, nil
}

// discard drops the controller's logs unless E2E_VERBOSE is set.
type discard struct{}

func (discard) Init(logr.RuntimeInfo)          {}
func (discard) Enabled(int) bool               { return false }
func (discard) Info(int, string, ...any)       {}
func (discard) Error(error, string, ...any)    {}
func (discard) WithValues(...any) logr.LogSink { return discard{} }
func (discard) WithName(string) logr.LogSink   { return discard{} }
