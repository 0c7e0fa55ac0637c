package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestRoutesByHostPathHeaderQueryAndMethod(t *testing.T) {
	ns := namespace(t)
	for _, b := range []string{"default", "exact", "prefix", "regex", "header", "query", "method", "other-host"} {
		backend(t, ns, b)
	}
	headerMatch := pathMatch(gwv1.PathMatchPathPrefix, "/")
	headerMatch.Headers = []gwv1.HTTPHeaderMatch{{Name: "X-Env", Value: "canary"}}
	queryMatch := pathMatch(gwv1.PathMatchPathPrefix, "/")
	queryMatch.QueryParams = []gwv1.HTTPQueryParamMatch{{Name: "v", Value: "2"}}
	post := gwv1.HTTPMethodPost
	methodMatch := pathMatch(gwv1.PathMatchPathPrefix, "/")
	methodMatch.Method = &post

	create(t,
		gateway(ns, "gw", httpListener("http", 80)),
		route(ns, "app", "gw", []string{"app.example.com"},
			rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("default", 1)),
			rule(pathMatch(gwv1.PathMatchExact, "/exact"), backendRef("exact", 1)),
			rule(pathMatch(gwv1.PathMatchPathPrefix, "/prefix"), backendRef("prefix", 1)),
			rule(pathMatch(gwv1.PathMatchRegularExpression, "/re/[0-9]+"), backendRef("regex", 1)),
			rule(headerMatch, backendRef("header", 1)),
			rule(queryMatch, backendRef("query", 1)),
			rule(methodMatch, backendRef("method", 1)),
		),
		route(ns, "other", "gw", []string{"*.other.example"},
			rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("other-host", 1))),
	)
	base := "http://" + programmedAddress(t, ns, "gw")
	app := "app.example.com"
	cases := []struct {
		method, path, host string
		header             http.Header
		want               string
	}{
		{"GET", "/", app, nil, "default"},
		{"GET", "/exact", app, nil, "exact"},
		{"GET", "/exact/more", app, nil, "default"},
		{"GET", "/prefix", app, nil, "prefix"},
		{"GET", "/prefix/a/b", app, nil, "prefix"},
		{"GET", "/prefixed", app, nil, "default"},
		{"GET", "/re/123", app, nil, "regex"},
		{"GET", "/re/12a", app, nil, "default"},
		{"GET", "/", app, hdr("X-Env", "canary"), "header"},
		{"GET", "/", app, hdr("X-Env", "prod"), "default"},
		{"GET", "/?v=2", app, nil, "query"},
		{"GET", "/?v=3", app, nil, "default"},
		{"POST", "/", app, nil, "method"},
		{"GET", "/", "a.other.example", nil, "other-host"},
		{"GET", "/", "a.b.other.example", nil, "other-host"},
		{"GET", "/", "other.example", nil, "404"},
		{"GET", "/", "unknown.example.com", nil, "404"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s %s%s %v", c.method, c.host, c.path, c.header), func(t *testing.T) {
			expectBackend(t, c.method, base+c.path, c.host, c.header, c.want)
		})
	}
}

func TestWeightedSplitIsWithinFivePercent(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "seventy")
	backend(t, ns, "thirty")
	create(t,
		gateway(ns, "gw", httpListener("http", 80)),
		route(ns, "split", "gw", nil,
			rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("seventy", 70), backendRef("thirty", 30))),
	)
	url := "http://" + programmedAddress(t, ns, "gw") + "/"
	eventually(t, 15*time.Second, func() error {
		r, err := send("GET", url, "", nil)
		if err == nil && r.status != 200 {
			err = fmt.Errorf("status %d", r.status)
		}
		return err
	})
	counts := map[string]int{}
	const n = 1000
	for i := 0; i < n; i++ {
		r, err := send("GET", url, "", nil)
		must(t, err)
		counts[r.backend]++
	}
	share := float64(counts["seventy"]) / n
	t.Logf("70/30 split over %d requests: %v (%.1f%% to seventy)", n, counts, share*100)
	if share < 0.65 || share > 0.75 || counts["seventy"]+counts["thirty"] != n {
		t.Fatalf("split %v is not 70/30 within ±5%%", counts)
	}
}

func TestNoMatchIs404AndInvalidBackendIs500(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "ok")
	create(t,
		gateway(ns, "gw", httpListener("http", 80)),
		route(ns, "r", "gw", nil,
			rule(pathMatch(gwv1.PathMatchPathPrefix, "/ok"), backendRef("ok", 1)),
			rule(pathMatch(gwv1.PathMatchPathPrefix, "/missing"), backendRef("does-not-exist", 1)),
		),
	)
	base := "http://" + programmedAddress(t, ns, "gw")
	expectBackend(t, "GET", base+"/ok", "", nil, "ok")
	expectBackend(t, "GET", base+"/missing", "", nil, "500")
	expectBackend(t, "GET", base+"/elsewhere", "", nil, "404")
	routeParentCondition(t, ns, "r", string(gwv1.RouteConditionResolvedRefs), "False", string(gwv1.RouteReasonBackendNotFound))
	routeParentCondition(t, ns, "r", string(gwv1.RouteConditionAccepted), "True", string(gwv1.RouteReasonAccepted))
}

// TestRouteChangeUnderTrafficFailsNoRequest changes a route back and forth
// while clients send requests without pause; every request must succeed.
func TestRouteChangeUnderTrafficFailsNoRequest(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "blue")
	backend(t, ns, "green")
	create(t,
		gateway(ns, "gw", httpListener("http", 80)),
		route(ns, "r", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("blue", 1))),
	)
	url := "http://" + programmedAddress(t, ns, "gw") + "/"
	expectBackend(t, "GET", url, "", nil, "blue")

	var sent, failed atomic.Int64
	seen := sync.Map{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := send("GET", url, "", nil)
				sent.Add(1)
				if err != nil || r.status != http.StatusOK {
					failed.Add(1)
					continue
				}
				seen.Store(r.backend, true)
			}
		}()
	}
	key := types.NamespacedName{Namespace: ns, Name: "r"}
	for i := 0; i < 10; i++ {
		next := "green"
		if i%2 == 1 {
			next = "blue"
		}
		must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var r gwv1.HTTPRoute
			must(t, suite.c.Get(ctxFor(t), key, &r))
			r.Spec.Rules[0].BackendRefs = []gwv1.HTTPBackendRef{backendRef(next, 1)}
			return suite.c.Update(ctxFor(t), &r)
		}))
		expectBackend(t, "GET", url, "", nil, next)
	}
	close(stop)
	wg.Wait()
	_, sawGreen := seen.Load("green")
	t.Logf("%d requests during 10 route changes, %d failed", sent.Load(), failed.Load())
	if failed.Load() != 0 || !sawGreen {
		t.Fatalf("%d of %d requests failed (saw green: %v)", failed.Load(), sent.Load(), sawGreen)
	}
}
