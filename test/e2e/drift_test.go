package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// cloudDo sends one request to the emulated cloud's API, as an operator
// with cloud credentials would, behind the controller's back.
func cloudDo(t testing.TB, method, path string, body any) {
	t.Helper()
	var data []byte
	if body != nil {
		var err error
		data, err = json.Marshal(body)
		must(t, err)
	}
	req, err := http.NewRequest(method, suite.cloud.URL()+path, bytes.NewReader(data))
	must(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %s", method, path, resp.Status)
	}
}

// servesAgain waits until the Gateway's current address answers with want.
func servesAgain(t testing.TB, ns, name, want string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	eventually(t, timeout, func() error {
		gw := getGateway(t, ns, name)
		if len(gw.Status.Addresses) == 0 {
			return fmt.Errorf("no address")
		}
		r, err := send("GET", "http://"+gw.Status.Addresses[0].Value+"/", "", nil)
		if err != nil {
			return err
		}
		if r.status != http.StatusOK || r.backend != want {
			return fmt.Errorf("got %d from %q", r.status, r.backend)
		}
		return nil
	})
	return time.Since(start)
}

// A load balancer deleted, and another edited, in the cloud behind the
// controller's back are both repaired within one resync period (the suite runs
// with a short one), with no Kubernetes change to trigger it.
func TestDriftIsRepairedWithinOneResync(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "app")
	for _, name := range []string{"deleted", "edited"} {
		create(t, gateway(ns, name, httpListener("http", 80)),
			route(ns, name, name, nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("app", 1))))
	}
	for _, name := range []string{"deleted", "edited"} {
		expectBackend(t, "GET", "http://"+programmedAddress(t, ns, name)+"/", "", nil, "app")
	}

	del := cloudLoadBalancers(t, ns, "deleted")
	ed := cloudLoadBalancers(t, ns, "edited")
	if len(del) != 1 || len(ed) != 1 {
		t.Fatalf("want one load balancer each, got %d and %d", len(del), len(ed))
	}
	cloudDo(t, http.MethodDelete, "/v1/loadbalancers/"+url.PathEscape(del[0].ID), nil)
	edited := ed[0]
	for i := range edited.Spec.Listeners {
		for j := range edited.Spec.Listeners[i].VirtualHosts {
			edited.Spec.Listeners[i].VirtualHosts[j].Rules = nil // every request now 404s
		}
	}
	cloudDo(t, http.MethodPut, "/v1/loadbalancers/"+url.PathEscape(edited.ID), edited)
	if r, err := send("GET", "http://"+edited.Address+"/", "", nil); err != nil || r.status != http.StatusNotFound {
		t.Fatalf("the out-of-band edit did not take: %v %+v", err, r)
	}

	limit := suiteResync*5/4 + 5*time.Second
	t.Logf("deleted load balancer serving again after %s", servesAgain(t, ns, "deleted", "app", limit).Round(100*time.Millisecond))
	t.Logf("edited load balancer repaired after %s", servesAgain(t, ns, "edited", "app", limit).Round(100*time.Millisecond))
	if n := len(cloudLoadBalancers(t, ns, "deleted")); n != 1 {
		t.Fatalf("%d load balancers after the repair, want 1", n)
	}
}

// With the cloud failing every call for one Gateway, another Gateway's changes
// still go through at once, and the failing Gateway's request rate falls as
// the controller backs off.
func TestOutageOfOneGatewayDelaysNoOther(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "v1")
	backend(t, ns, "v2")
	for _, name := range []string{"failing", "healthy"} {
		create(t, gateway(ns, name, httpListener("http", 80)),
			route(ns, name, name, nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("v1", 1))))
	}
	for _, name := range []string{"failing", "healthy"} {
		expectBackend(t, "GET", "http://"+programmedAddress(t, ns, name)+"/", "", nil, "v1")
	}
	failing := string(getGateway(t, ns, "failing").UID)
	c := suite.cloud.Cloud()
	c.InjectOwnerFault(failing, http.StatusServiceUnavailable, 0)
	defer c.ClearOwnerFault(failing)

	toV2 := func(name string) {
		// The controller writes the route's status meanwhile, so a conflict
		// is expected now and then: read again and retry.
		must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var r gwv1.HTTPRoute
			if err := suite.c.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: name}, &r); err != nil {
				return err
			}
			r.Spec.Rules[0].BackendRefs = []gwv1.HTTPBackendRef{backendRef("v2", 1)}
			return suite.c.Update(ctxFor(t), &r)
		}))
	}
	start := c.Stats().Owners[failing]
	errorsBefore, _ := errorLog.snapshot()
	began := time.Now()
	toV2("failing")
	toV2("healthy")
	took := servesAgain(t, ns, "healthy", "v2", 10*time.Second)
	t.Logf("the healthy Gateway's change served after %s", took.Round(time.Millisecond))

	// The failing Gateway's requests, window by window.
	outage := 12 * time.Second
	if s, err := strconv.Atoi(os.Getenv("CLOUDGATE_OUTAGE_SECONDS")); err == nil && s > 0 {
		outage = time.Duration(s) * time.Second
	}
	window := outage / 3
	var counts []int64
	last := start
	for end := began.Add(window); !end.After(began.Add(outage)); end = end.Add(window) {
		time.Sleep(time.Until(end))
		now := c.Stats().Owners[failing]
		counts = append(counts, now-last)
		last = now
	}
	t.Logf("requests for the failing Gateway per %s window over a %s outage: %v", window, outage, counts)
	if counts[0] == 0 {
		t.Fatalf("the failing Gateway made no request at all: %v", counts)
	}
	if counts[len(counts)-1] >= counts[0] {
		t.Errorf("the request rate did not fall under the outage: %v", counts)
	}
	if r, err := send("GET", "http://"+programmedAddress(t, ns, "healthy")+"/", "", nil); err != nil || r.backend != "v2" {
		t.Errorf("the healthy Gateway: %v %+v", err, r)
	}

	// The failing calls are errors the controller reports (which also shows
	// that the error counter TestDeletingAGatewayWithItsRoutesLogsNoError
	// relies on sees the controller's log).
	if n, _ := errorLog.snapshot(); n == errorsBefore {
		t.Errorf("no error logged for the failing cloud calls")
	}

	// The cloud recovers: the failing Gateway catches up by itself.
	c.ClearOwnerFault(failing)
	t.Logf("the failing Gateway served its change %s after the outage ended", servesAgain(t, ns, "failing", "v2", 2*outage+10*time.Second).Round(time.Millisecond))
}
