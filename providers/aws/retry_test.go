package aws

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/cloudgate-dev/cloudgate/providers"
)

// throttlingELB is an ELBv2 endpoint that answers every call with
// Throttling, as a throttled account does, and counts the requests.
func throttlingELB(t *testing.T) (url string, hits *atomic.Int64) {
	hits = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">`+
			`<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>`+
			`<RequestId>0</RequestId></ErrorResponse>`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, hits
}

// TestThrottledAccountDoesNotStorm runs 40 callers (Gateways reconciling
// at once) against a throttling ELBv2 for two seconds, with the clients
// New builds and with the SDK's standard retries: the adaptive mode New
// chooses sends far fewer requests, and the error stays transient.
func TestThrottledAccountDoesNotStorm(t *testing.T) {
	url, hits := throttlingELB(t)
	run := func(mode awssdk.RetryMode) int64 {
		cfg := awssdk.Config{Region: "us-east-1", BaseEndpoint: awssdk.String(url), RetryMode: mode,
			Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
		p, err := New(Config{AWS: cfg})
		if err != nil {
			t.Fatal(err)
		}
		hits.Store(0)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				for ctx.Err() == nil {
					_, err := p.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
					err = classify(err, "DescribeLoadBalancers", "")
					if err == nil || errors.Is(err, providers.ErrInvalid) {
						t.Errorf("a throttled call: %v, want a transient error", err)
						return
					}
				}
			})
		}
		wg.Wait()
		return hits.Load()
	}
	adaptive := run("") // New's choice
	standard := run(awssdk.RetryModeStandard)
	t.Logf("requests in 2s from 40 callers: adaptive (New's default) %d, standard %d", adaptive, standard)
	if adaptive*2 > standard {
		t.Errorf("adaptive retries sent %d requests, standard %d: want adaptive to slow the client down", adaptive, standard)
	}
}
