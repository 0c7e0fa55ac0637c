package gcp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Outcomes of a Compute Engine call, as Config.CountCall reports them: the
// words the AWS and emulated adapters use, so that one metric covers all.
const (
	OutcomeSuccess   = "success"
	OutcomeThrottled = "throttled"
	OutcomeInvalid   = "invalid"
	OutcomeNotFound  = "not-found"
	OutcomeConflict  = "conflict" // 409 alreadyExists, 412 conditionNotMet
	OutcomeError     = "error"
)

// retryPolicy is how the HTTP client under every Compute Engine client
// retries: 429, 403 rateLimitExceeded, 5xx (but 501) and connection errors, with exponential
// backoff that honours Retry-After; never another 4xx, which a retry
// cannot fix. The apiv1 REST clients retry nothing themselves.
type retryPolicy struct {
	Max     int
	WaitMin time.Duration
	WaitMax time.Duration
}

var defaultRetry = retryPolicy{Max: 6, WaitMin: 250 * time.Millisecond, WaitMax: 20 * time.Second}

// newHTTPClient wraps base (which carries the credentials) in the retrying
// client, and counts each call once, after its retries, by its Discovery
// method id ("regionUrlMaps.update") and outcome.
func newHTTPClient(base *http.Client, rp retryPolicy, count func(operation, outcome string)) *http.Client {
	rc := retryablehttp.NewClient()
	rc.HTTPClient = base
	rc.Logger = nil
	rc.RetryMax, rc.RetryWaitMin, rc.RetryWaitMax = rp.Max, rp.WaitMin, rp.WaitMax
	rc.CheckRetry = checkRetry
	// After the last attempt, hand the last answer to the client, which
	// turns it into a googleapi.Error with the API's reason, rather than
	// retryablehttp's "giving up" error that hides it.
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	std := rc.StandardClient()
	if count != nil {
		std.Transport = &countingTransport{next: std.Transport, count: count}
	}
	return std
}

// checkRetry retries what a retry can fix. An insert whose answer was lost
// may be retried after it took effect: the adapter reads a 409 on an
// insert back and keeps the object when it is ours (apply.go).
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		return !errors.Is(err, context.Canceled), nil
	}
	switch c := resp.StatusCode; {
	case c == http.StatusTooManyRequests:
		return true, nil
	case c >= 500 && c != http.StatusNotImplemented:
		return true, nil
	case c == http.StatusForbidden:
		// Compute Engine answers a rate quota exceeded with 403 and the
		// reason rateLimitExceeded (or userRateLimitExceeded), not 429.
		return rateLimited(resp), nil
	}
	return false, nil
}

// rateLimited reads a 403's reason, and puts the body back for whoever
// reads the answer next.
func rateLimited(resp *http.Response) bool {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return false
	}
	return bytes.Contains(b, []byte(`"rateLimitExceeded"`)) || bytes.Contains(b, []byte(`"userRateLimitExceeded"`))
}

type countingTransport struct {
	next  http.RoundTripper
	count func(operation, outcome string)
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	t.count(operationOf(r.Method, r.URL.Path), outcomeOf(resp, err))
	return resp, err
}

func outcomeOf(resp *http.Response, err error) string {
	if err != nil {
		return OutcomeError
	}
	switch c := resp.StatusCode; {
	case c < 300:
		return OutcomeSuccess
	case c == http.StatusTooManyRequests:
		return OutcomeThrottled
	case c == http.StatusForbidden && rateLimited(resp):
		return OutcomeThrottled
	case c == http.StatusNotFound:
		return OutcomeNotFound
	case c == http.StatusConflict || c == http.StatusPreconditionFailed:
		return OutcomeConflict
	case c == http.StatusBadRequest:
		return OutcomeInvalid
	}
	return OutcomeError
}

// Discovery resource names of the regional and zonal collections the
// adapter calls, by URL segment and scope.
var regionalResource = map[string]string{
	"addresses":          "addresses",
	"forwardingRules":    "forwardingRules",
	"targetHttpProxies":  "regionTargetHttpProxies",
	"targetHttpsProxies": "regionTargetHttpsProxies",
	"targetTcpProxies":   "regionTargetTcpProxies",
	"urlMaps":            "regionUrlMaps",
	"backendServices":    "regionBackendServices",
	"healthChecks":       "regionHealthChecks",
	"sslCertificates":    "regionSslCertificates",
	"subnetworks":        "subnetworks",
	"operations":         "regionOperations",
}

var globalResource = map[string]string{
	"addresses":          "globalAddresses",
	"forwardingRules":    "globalForwardingRules",
	"targetHttpProxies":  "targetHttpProxies",
	"targetHttpsProxies": "targetHttpsProxies",
	"urlMaps":            "urlMaps",
	"backendServices":    "backendServices",
	"healthChecks":       "healthChecks",
	"sslCertificates":    "sslCertificates",
	"operations":         "globalOperations",
}

// operationOf is the Discovery method id of a Compute Engine request, such
// as "regionUrlMaps.update" for PUT
// /compute/v1/projects/p/regions/r/urlMaps/m: what the metric and the IAM
// role (iam.go) name calls by. Paths it does not know come back as
// "other".
func operationOf(method, path string) string {
	_, rest, ok := strings.Cut(path, "/compute/v1/projects/")
	if !ok {
		return "other"
	}
	seg := strings.Split(rest, "/")
	if len(seg) < 2 {
		return "other"
	}
	seg = seg[1:] // the project
	var resource string
	switch seg[0] {
	case "regions":
		if len(seg) < 3 {
			return "other"
		}
		resource, seg = regionalResource[seg[2]], seg[3:]
	case "zones":
		if len(seg) < 3 {
			return "other"
		}
		resource, seg = map[string]string{"networkEndpointGroups": "networkEndpointGroups", "operations": "zoneOperations"}[seg[2]], seg[3:]
	case "global":
		if len(seg) < 2 {
			return "other"
		}
		resource, seg = globalResource[seg[1]], seg[2:]
	case "aggregated":
		if len(seg) < 2 {
			return "other"
		}
		return seg[1] + ".aggregatedList"
	default:
		return "other"
	}
	if resource == "" {
		return "other"
	}
	var verb string
	switch {
	case len(seg) == 0 && method == http.MethodGet:
		verb = "list"
	case len(seg) == 0 && method == http.MethodPost:
		verb = "insert"
	case len(seg) == 1:
		verb = map[string]string{http.MethodGet: "get", http.MethodDelete: "delete", http.MethodPut: "update", http.MethodPatch: "patch"}[method]
	case len(seg) == 2 && method == http.MethodPost:
		verb = seg[1]
	}
	if verb == "" {
		return "other"
	}
	return resource + "." + verb
}
