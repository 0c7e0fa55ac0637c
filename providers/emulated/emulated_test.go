package emulated_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/emulated"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
	"github.com/cloudgate-dev/cloudgate/providers/providertest"
)

func TestContract(t *testing.T) {
	providertest.Run(t, func(t *testing.T) providertest.Env {
		srv := startCloud(t)
		return providertest.Env{Provider: newProvider(t, srv), Cloud: hooks{srv.Cloud()},
			// lb.Validate leaves redirect schemes to mapping (Gateway API
			// allows http and https); the data plane refuses the rest.
			RefuseRule: func(r *lb.Rule) { r.Action = lb.Action{Redirect: &lb.Redirect{Scheme: "ftp"}} }}
	})
}

// simple is a one-listener model forwarding everything to target.
func simple(o lb.Owner, port int32, target lb.Target) *lb.LoadBalancer {
	return &lb.LoadBalancer{
		Owner: o,
		Listeners: []lb.Listener{{Name: "http", Port: port, Protocol: lb.ProtocolHTTP,
			VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{forward("all", lb.Match{}, to("g", 1))}}}}},
		TargetGroups: []lb.TargetGroup{group("g", target)},
	}
}

func TestRetriesThrottlingAndUnavailable(t *testing.T) {
	srv := startCloud(t)
	p := newProvider(t, srv)
	o := owner("retry")
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		// As many faults as the client retries: the last attempt succeeds.
		srv.Cloud().InjectFaults(emulated.DefaultRetryMax, status)
		if _, err := p.Ensure(context.Background(), simple(o, 8080, deadTarget(t))); err != nil {
			t.Fatalf("Ensure after %d injected %d: %v", emulated.DefaultRetryMax, status, err)
		}
	}
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		srv.Cloud().InjectFaults(1000, status)
		start := time.Now()
		err := p.Delete(context.Background(), o)
		took := time.Since(start)
		var apiErr *emulated.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != status || !apiErr.Transient() {
			t.Fatalf("Delete during an outage = %v, want a transient *APIError %d", err, status)
		}
		if errors.Is(err, providers.ErrInvalid) {
			t.Errorf("an outage must not be reported as an invalid configuration: %v", err)
		}
		// The controller's backoff does the rest; a worker is not held.
		if took > 500*time.Millisecond {
			t.Errorf("a failing call took %v to give up, want well under 0.5s", took)
		}
		t.Logf("a call failing with %d gave up after %v (%d attempts)", status, took, emulated.DefaultRetryMax+1)
	}
	srv.Cloud().InjectFaults(0, 0)
	if got := len(srv.Cloud().List(cloud.ListOptions{})); got != 1 {
		t.Errorf("the failed Delete changed the cloud: %d load balancers, want 1", got)
	}
}

func TestRequestedAddress(t *testing.T) {
	srv := startCloud(t)
	p := newProvider(t, srv)
	r := srv.Cloud().AddressRange()
	want := r.Addr().Next().Next().Next().String()

	m := simple(owner("static"), 8080, deadTarget(t))
	m.Options.Addresses = []string{want}
	if st := ensure(t, p, m); st.Addresses[0].Value != want {
		t.Errorf("address = %s, want the requested %s", st.Addresses[0].Value, want)
	}

	taken := simple(owner("taken"), 8080, deadTarget(t))
	taken.Options.Addresses = []string{want}
	if _, err := p.Ensure(context.Background(), taken); !errors.Is(err, providers.ErrAddressNotUsable) || !errors.Is(err, providers.ErrInvalid) {
		t.Errorf("Ensure with a taken address = %v, want ErrAddressNotUsable (an ErrInvalid)", err)
	}
	// One usable address among more: a load balancer has one address.
	two := simple(owner("two"), 8080, deadTarget(t))
	two.Options.Addresses = []string{r.Addr().Next().Next().Next().Next().Next().String(), "10.0.0.1"}
	if _, err := p.Ensure(context.Background(), two); !errors.Is(err, providers.ErrAddressNotUsable) {
		t.Errorf("Ensure with two addresses = %v, want ErrAddressNotUsable", err)
	}
	outside := simple(owner("outside"), 8080, deadTarget(t))
	outside.Options.Addresses = []string{"10.0.0.1"}
	_, err := p.Ensure(context.Background(), outside)
	var apiErr *emulated.APIError
	if !errors.Is(err, providers.ErrAddressNotUsable) || !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest {
		t.Errorf("Ensure with an address outside the range = %v, want a 400 *APIError wrapping ErrAddressNotUsable", err)
	}
	if got := len(srv.Cloud().List(cloud.ListOptions{})); got != 1 {
		t.Errorf("refused requests created load balancers: %d, want 1", got)
	}

	// The parameters' emulated.address, unless spec.addresses ask for one.
	other := r.Addr().Next().Next().Next().Next().String()
	fromParams := simple(owner("params"), 8081, deadTarget(t))
	fromParams.Options.Emulated = &lb.EmulatedOptions{Address: other}
	if st := ensure(t, p, fromParams); st.Addresses[0].Value != other {
		t.Errorf("address = %s, want emulated.address %s", st.Addresses[0].Value, other)
	}
	third := r.Addr().Next().Next().Next().Next().Next().String()
	fromParams.Options.Addresses = []string{third}
	if st := ensure(t, p, fromParams); st.Addresses[0].Value != third {
		t.Errorf("address = %s, want the Gateway's %s over emulated.address", st.Addresses[0].Value, third)
	}
}

func TestRefusesForeignLoadBalancerWithOurName(t *testing.T) {
	srv := startCloud(t)
	p := newProvider(t, srv)
	o := owner("squatted")
	if _, err := (hooks{srv.Cloud()}).PlantForeign(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	_, err := p.Ensure(context.Background(), simple(o, 8080, deadTarget(t)))
	if !errors.Is(err, providers.ErrInvalid) || !strings.Contains(err.Error(), "refusing to adopt") {
		t.Fatalf("Ensure over a foreign load balancer = %v, want a refusal wrapping ErrInvalid", err)
	}
}

func TestReplaceNeedsCurrentVersion(t *testing.T) {
	srv := startCloud(t)
	created, err := srv.Cloud().Create(cloud.LoadBalancer{Name: "versioned"})
	if err != nil {
		t.Fatal(err)
	}
	put := func(version int64, ifMatch string) (int, cloud.Error) {
		in := created
		in.Version = version
		in.Tags = map[string]string{"v": "x"}
		body, _ := json.Marshal(in)
		req, _ := http.NewRequest(http.MethodPut, srv.URL()+"/v1/loadbalancers/"+created.ID, bytes.NewReader(body))
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e cloud.Error
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e
	}
	if code, _ := put(created.Version, ""); code != http.StatusOK {
		t.Fatalf("first replace: %d", code)
	}
	// A second writer that read the same version must not overwrite.
	if code, e := put(created.Version, ""); code != http.StatusConflict || e.Code != cloud.CodeVersionConflict {
		t.Errorf("stale replace = %d %q, want 409 %s", code, e.Code, cloud.CodeVersionConflict)
	}
	if code, e := put(0, `"1"`); code != http.StatusPreconditionFailed || e.Code != cloud.CodePrecondition {
		t.Errorf("stale If-Match = %d %q, want 412", code, e.Code)
	}
	resp, err := http.Post(srv.URL()+"/v1/loadbalancers", "application/json", strings.NewReader(`{"name":"versioned"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("duplicate create = %d, want 409", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL()+"/v1/loadbalancers/lb-missing", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("delete of a missing load balancer = %d, want 404", resp.StatusCode)
	}
}

func TestNamesAreStableAndBounded(t *testing.T) {
	long := strings.Repeat("a", 253)
	o := lb.Owner{Cluster: "c", Namespace: strings.Repeat("n", 63), Name: long, UID: "u1"}
	n1 := emulated.LoadBalancerName(o)
	if n1 != emulated.LoadBalancerName(o) || len(n1) > 63 {
		t.Errorf("name %q (%d characters) is unstable or too long", n1, len(n1))
	}
	o2 := o
	o2.Name = long[:252] + "b"
	if emulated.LoadBalancerName(o2) == n1 {
		t.Errorf("Gateways differing in their last character share the name %q", n1)
	}
}
