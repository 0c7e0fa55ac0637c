package localstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func startProxy(t *testing.T, cfg FaultConfig) *FaultProxy {
	t.Helper()
	p, err := StartFaultProxy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// proxied is an SDK configuration through p without the SDK's retries, so
// that each call is one request.
func proxied(t *testing.T, e *Env, p *FaultProxy) aws.Config {
	t.Helper()
	cfg, err := e.AWSConfigVia(context.Background(), p.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RetryMaxAttempts = 1
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	cfg.HTTPClient = &http.Client{Transport: bodyWithoutWriteTo{awshttp.NewBuildableClient().GetTransport()}}
	return cfg
}

// bodyWithoutWriteTo hides the io.WriterTo of a request's body from
// net/http. The SDK closes a request's body once the answer is in, and its
// body's WriteTo then returns io.EOF, which io.Copy passes on as an error.
// net/http's writer may still be in its last read of the body, the one that
// checks for bytes beyond Content-Length; that read then fails, and net/http
// closes the connection while the 200 is being read: "use of closed network
// connection" on about one call in a few hundred. The SDK's own retryers
// retry that error (the controller's calls do); these tests turn retries
// off, so that each call is one request, and must not meet it. Through Read,
// a closed body reads as a plain io.EOF.
type bodyWithoutWriteTo struct{ next http.RoundTripper }

func (t bodyWithoutWriteTo) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r = r.Clone(r.Context())
		r.Body = struct{ io.ReadCloser }{r.Body}
	}
	return t.next.RoundTrip(r)
}

// TestFaultProxyAnswersAsAWS checks that the SDK reads each injected fault
// as the error AWS would return: the code, the status, and whether the
// SDK's retryer takes it for throttling.
func TestFaultProxyAnswersAsAWS(t *testing.T) {
	e := motoEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		kind     FaultKind
		status   int
		throttle bool
		elb, ec2 string
		acm      string
	}{
		{FaultThrottle, 400, true, "Throttling", "RequestLimitExceeded", "ThrottlingException"},
		{FaultInternal, 500, false, "InternalFailure", "InternalError", "InternalFailure"},
		{FaultUnavailable, 503, false, "ServiceUnavailable", "Unavailable", "ServiceUnavailable"},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			p := startProxy(t, FaultConfig{Target: e.Endpoint, Rate: 1, Before: []FaultKind{tc.kind}})
			cfg := proxied(t, e, p)
			check := func(op, want string, err error) {
				t.Helper()
				var api smithy.APIError
				if !errors.As(err, &api) {
					t.Fatalf("%s: got %v, want the API error %s", op, err, want)
				}
				if api.ErrorCode() != want {
					t.Errorf("%s: error code %q, want %q", op, api.ErrorCode(), want)
				}
				var re *smithyhttp.ResponseError
				if !errors.As(err, &re) || re.HTTPStatusCode() != tc.status {
					t.Errorf("%s: got %v, want HTTP %d", op, err, tc.status)
				}
				if got := retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool(); got != tc.throttle {
					t.Errorf("%s: the SDK takes it for throttling: %v, want %v", op, got, tc.throttle)
				}
				if got := (retry.NewStandard()).IsErrorRetryable(err); !got {
					t.Errorf("%s: the SDK's standard retryer does not retry it", op)
				}
			}
			_, err := elbv2.NewFromConfig(cfg).DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
			check("DescribeLoadBalancers", tc.elb, err)
			_, err = ec2.NewFromConfig(cfg).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
			check("DescribeSubnets", tc.ec2, err)
			_, err = acm.NewFromConfig(cfg).ListCertificates(ctx, &acm.ListCertificatesInput{})
			check("ListCertificates", tc.acm, err)

			c := p.Counts()
			want := map[string]int{"DescribeLoadBalancers": 1, "DescribeSubnets": 1, "ListCertificates": 1}
			if !equalCounts(c.Injected, want) || !equalCounts(c.Requests, want) || c.Kinds[tc.kind] != 3 || Total(c.Lost) != 0 {
				t.Errorf("counts %+v, want %v injected %s before the target", c, want, tc.kind)
			}
		})
	}
}

// TestFaultProxyLostAnswer checks the lost answer: the call fails for its
// caller, but took effect.
func TestFaultProxyLostAnswer(t *testing.T) {
	e := motoEnv(t)
	ctx := context.Background()
	direct, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, kind := range []FaultKind{FaultInternal, FaultReset} {
		t.Run(string(kind), func(t *testing.T) {
			var mu sync.Mutex
			var answered []string
			p := startProxy(t, FaultConfig{Target: e.Endpoint, Rate: 1, LostAnswers: 1, After: []FaultKind{kind},
				Answered: func(op string) { mu.Lock(); answered = append(answered, op); mu.Unlock() }})
			name := fmt.Sprintf("faultproxy-lost-%d", i)
			_, err := elbv2.NewFromConfig(proxied(t, e, p)).CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{
				Name: aws.String(name), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String(e.VPCID), TargetType: types.TargetTypeEnumIp})
			if err == nil {
				t.Fatal("CreateTargetGroup through the proxy succeeded; want its answer lost")
			}
			if kind == FaultInternal {
				var re *smithyhttp.ResponseError
				if !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
					t.Errorf("got %v, want HTTP 500", err)
				}
			}
			got, err := elbv2.NewFromConfig(direct).DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{name}})
			if err != nil || len(got.TargetGroups) != 1 {
				t.Fatalf("the target group whose answer was lost is not in moto: %v", err)
			}
			t.Cleanup(func() {
				_, _ = elbv2.NewFromConfig(direct).DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: got.TargetGroups[0].TargetGroupArn})
			})
			c := p.Counts()
			if c.Lost["CreateTargetGroup"] != 1 || c.Injected["CreateTargetGroup"] != 1 || c.Kinds[kind] != 1 {
				t.Errorf("counts %+v, want one lost CreateTargetGroup of kind %s", c, kind)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(answered, []string{"CreateTargetGroup"}) {
				t.Errorf("Answered saw %v, want [CreateTargetGroup]", answered)
			}
		})
	}
}

// TestFaultProxyRateIsSeeded checks that about Rate of the calls fail,
// that the others pass through unchanged, and that a seed repeats the
// same failures.
func TestFaultProxyRateIsSeeded(t *testing.T) {
	e := motoEnv(t)
	ctx := context.Background()
	const calls, rate = 120, 0.25
	run := func(seed uint64) []int {
		p := startProxy(t, FaultConfig{Target: e.Endpoint, Rate: rate, Seed: seed})
		c := elbv2.NewFromConfig(proxied(t, e, p))
		var failed []int
		for i := range calls {
			out, err := c.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
			if err != nil {
				var api smithy.APIError
				if !errors.As(err, &api) {
					t.Fatalf("call %d: %v is not an API error", i, err)
				}
				failed = append(failed, i)
			} else if out == nil {
				t.Fatalf("call %d: no answer", i)
			}
		}
		counts := p.Counts()
		if counts.Requests["DescribeLoadBalancers"] != calls || counts.Injected["DescribeLoadBalancers"] != len(failed) {
			t.Errorf("seed %d: counts %+v, want %d requests and %d injected", seed, counts, calls, len(failed))
		}
		// Binomial(120, 0.25): mean 30, standard deviation 4.7; the bounds
		// are more than four deviations away.
		if len(failed) < 10 || len(failed) > 50 {
			t.Errorf("seed %d: %d of %d calls failed at rate %v", seed, len(failed), calls, rate)
		}
		return failed
	}
	a, b, other := run(7), run(7), run(8)
	if !slices.Equal(a, b) {
		t.Errorf("the same seed failed calls %v, then %v", a, b)
	}
	if slices.Equal(a, other) {
		t.Errorf("seeds 7 and 8 failed the same calls %v", a)
	}
}

// TestFaultProxyStreamsLongBodies checks that a body longer than what the
// proxy parses reaches the target whole, and that Close frees the port.
func TestFaultProxyStreamsLongBodies(t *testing.T) {
	body := bytes.Repeat([]byte("Action=Nothing&"), maxParsedBody/10)
	var got []byte
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
	}))
	defer target.Close()
	p, err := StartFaultProxy(FaultConfig{Target: target.URL})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(p.URL, "application/x-www-form-urlencoded", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !bytes.Equal(got, body) {
		t.Errorf("the target got %d bytes, want the %d sent", len(got), len(body))
	}
	if n := p.Counts().Requests["unknown"]; n != 1 {
		t.Errorf("a long body counts as operation %v, want one unknown", p.Counts().Requests)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(p.URL, "http://"), time.Second)
	if err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Close", p.URL)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
