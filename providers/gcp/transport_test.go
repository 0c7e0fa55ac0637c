package gcp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestOperationOf(t *testing.T) {
	for _, c := range []struct{ method, path, want string }{
		{"PUT", "/compute/v1/projects/p/regions/r/urlMaps/m", "regionUrlMaps.update"},
		{"POST", "/compute/v1/projects/p/regions/r/urlMaps", "regionUrlMaps.insert"},
		{"GET", "/compute/v1/projects/p/regions/r/forwardingRules", "forwardingRules.list"},
		{"POST", "/compute/v1/projects/p/regions/r/forwardingRules/f/setTarget", "forwardingRules.setTarget"},
		{"DELETE", "/compute/v1/projects/p/regions/r/addresses/a", "addresses.delete"},
		{"POST", "/compute/v1/projects/p/zones/z/networkEndpointGroups/n/attachNetworkEndpoints", "networkEndpointGroups.attachNetworkEndpoints"},
		{"GET", "/compute/v1/projects/p/aggregated/networkEndpointGroups", "networkEndpointGroups.aggregatedList"},
		{"POST", "/compute/v1/projects/p/regions/r/operations/o/wait", "regionOperations.wait"},
		{"POST", "/compute/v1/projects/p/zones/z/operations/o/wait", "zoneOperations.wait"},
		{"GET", "/compute/v1/projects/p/global/urlMaps/m", "urlMaps.get"},
		{"GET", "/elsewhere", "other"},
		{"GET", "/compute/v1/projects/p/regions/r/instances", "other"},
	} {
		if got := operationOf(c.method, c.path); got != c.want {
			t.Errorf("operationOf(%s %s) = %q, want %q", c.method, c.path, got, c.want)
		}
	}
}

// TestRetries checks what the HTTP client retries: 429, 5xx and a 403
// rateLimitExceeded, until they pass; never a 400 or another 403. Each
// call is counted once, after its retries.
func TestRetries(t *testing.T) {
	for _, c := range []struct {
		name      string
		status    int
		body      string
		wantTries int32
		outcome   string
	}{
		{"throttled", http.StatusTooManyRequests, `{}`, 3, OutcomeSuccess},
		{"unavailable", http.StatusServiceUnavailable, `{}`, 3, OutcomeSuccess},
		{"rate quota", http.StatusForbidden, `{"error":{"code":403,"errors":[{"reason":"rateLimitExceeded"}]}}`, 3, OutcomeSuccess},
		{"forbidden", http.StatusForbidden, `{"error":{"code":403,"errors":[{"reason":"forbidden"}]}}`, 1, OutcomeError},
		{"invalid", http.StatusBadRequest, `{"error":{"code":400,"errors":[{"reason":"invalid"}]}}`, 1, OutcomeInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			var tries atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tries.Add(1) <= 2 {
					w.WriteHeader(c.status)
					_, _ = io.WriteString(w, c.body)
					return
				}
				_, _ = io.WriteString(w, `{}`)
			}))
			defer srv.Close()
			counted := map[string]int{}
			hc := newHTTPClient(&http.Client{}, retryPolicy{Max: 4, WaitMin: time.Millisecond, WaitMax: 5 * time.Millisecond},
				func(op, outcome string) { counted[op+" "+outcome]++ })
			resp, err := hc.Get(srv.URL + "/compute/v1/projects/p/regions/r/urlMaps/m")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if got := tries.Load(); got != c.wantTries {
				t.Errorf("%d tries, want %d", got, c.wantTries)
			}
			if c.wantTries == 1 && string(body) != c.body {
				t.Errorf("the caller read %q, want the API's answer %q", body, c.body)
			}
			if len(counted) != 1 || counted["regionUrlMaps.get "+c.outcome] != 1 {
				t.Errorf("counted %v, want one regionUrlMaps.get %s", counted, c.outcome)
			}
		})
	}
}
