package emulated_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// BenchmarkProxyOverhead compares a request sent straight to a backend with
// the same request through the emulated load balancer (keep-alive on both
// legs), so the difference is the data plane's cost.
func BenchmarkProxyOverhead(b *testing.B) {
	srv := startCloud(b)
	p := newProvider(b, srv)
	target := backend(b, "bench")
	st := ensure(b, p, simple(owner("bench"), 8080, target))
	run := func(url string) func(*testing.B) {
		return func(b *testing.B) {
			c := httpClient()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		}
	}
	b.Run("direct", run(fmt.Sprintf("http://%s:%d/x", target.IP, target.Port)))
	b.Run("proxy", run("http://"+st.Addresses[0].Value+":8080/x"))
}

// BenchmarkRouteChangeToTraffic measures the time from Ensure of a model with
// a new route until a request to that route is answered by its backend.
func BenchmarkRouteChangeToTraffic(b *testing.B) {
	srv := startCloud(b)
	p := newProvider(b, srv)
	m := simple(owner("change"), 8080, backend(b, "bench"))
	st := ensure(b, p, m)
	c := httpClient()
	base := "http://" + st.Addresses[0].Value + ":8080"
	m.Listeners[0].VirtualHosts[0].Rules[0].Match.Path = &lb.PathMatch{Type: lb.MatchPrefix, Value: "/r0"}
	i := 0
	var retries int
	for b.Loop() {
		i++
		path := fmt.Sprintf("/r%d", i)
		m.Listeners[0].VirtualHosts[0].Rules[0].Match.Path.Value = path
		ensure(b, p, m)
		for {
			resp, err := c.Get(base + path)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			retries++
		}
	}
	b.ReportMetric(float64(retries)/float64(b.N), "retries/op")
}
