package cloud

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

func TestAllocation(t *testing.T) {
	c := New(Config{AddressRange: netip.MustParsePrefix("127.99.7.0/30")})
	defer c.Close()
	var ids []string
	for i, want := range []string{"127.99.7.1", "127.99.7.2", "127.99.7.3"} {
		got, err := c.Create(LoadBalancer{Name: "lb" + string(rune('a'+i))})
		if err != nil || got.Address != want {
			t.Fatalf("create %d: %v at %s, want %s", i, err, got.Address, want)
		}
		ids = append(ids, got.ID)
	}
	var e *Error
	if _, err := c.Create(LoadBalancer{Name: "full"}); !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable {
		t.Errorf("create in a full range = %v, want 503", err)
	}
	if err := c.Delete(ids[1]); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Create(LoadBalancer{Name: "again"}); err != nil || got.Address != "127.99.7.2" {
		t.Errorf("after a delete: %v at %s, want the freed 127.99.7.2", err, got.Address)
	}
	for _, bad := range []string{"127.99.7.0", "127.99.8.1", "127.99.7.1", "x"} {
		_, err := c.Create(LoadBalancer{Name: "req", Spec: Spec{Options: lb.Options{Addresses: []string{bad}}}})
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
			t.Errorf("requested address %s: %v, want 400", bad, err)
		}
	}
}

func TestAPIListFiltersAndErrors(t *testing.T) {
	c := New(Config{AddressRange: netip.MustParsePrefix("127.99.8.0/24")})
	defer c.Close()
	ts := httptest.NewServer(c.Handler())
	defer ts.Close()
	for _, in := range []LoadBalancer{
		{Name: "one", Tags: map[string]string{"k": "a", "env": "x"}},
		{Name: "two", Tags: map[string]string{"k": "b", "env": "x"}},
	} {
		if _, err := c.Create(in); err != nil {
			t.Fatal(err)
		}
	}
	var l List
	getJSON(t, ts.URL+"/v1/loadbalancers?tag=env=x&tag=k=b", http.StatusOK, &l)
	if len(l.Items) != 1 || l.Items[0].Name != "two" || l.Items[0].Tags["k"] != "b" {
		t.Errorf("filtered list = %+v", l.Items)
	}
	var e Error
	getJSON(t, ts.URL+"/v1/loadbalancers/nope", http.StatusNotFound, &e)
	if e.Code != CodeNotFound || e.Message == "" {
		t.Errorf("404 body = %+v", e)
	}
	c.InjectFaults(2, http.StatusTooManyRequests)
	getJSON(t, ts.URL+"/v1/loadbalancers", http.StatusTooManyRequests, &e)
	getJSON(t, ts.URL+"/v1/loadbalancers", http.StatusTooManyRequests, &e)
	if e.Code != CodeThrottled {
		t.Errorf("injected fault body = %+v", e)
	}
	getJSON(t, ts.URL+"/v1/loadbalancers", http.StatusOK, &l)
}

func TestCloseClosesDataPlane(t *testing.T) {
	c := New(Config{AddressRange: netip.MustParsePrefix("127.99.9.0/24")})
	got, err := c.Create(LoadBalancer{Name: "x", Spec: Spec{Listeners: []lb.Listener{{Name: "l", Port: 8080, Protocol: lb.ProtocolHTTP}}}})
	if err != nil || got.State != StateActive || !got.Listeners[0].Bound {
		t.Fatalf("create: %v %+v", err, got)
	}
	addr := net.JoinHostPort(got.Address, "8080")
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	c.Close()
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Error("data plane port open after Close")
	}
}

func getJSON(t *testing.T, url string, status int, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("GET %s = %d, want %d", url, resp.StatusCode, status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}
