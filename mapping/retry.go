package mapping

import (
	"slices"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// ruleRetry converts an HTTPRoute rule's retry. The provider must carry
// retries (lb.Capabilities.Retry), and a backoff only where it honours
// the base interval (RetryBackoff): the API forbids claiming a backoff
// that is not applied. Attempts default to 1, as the API says; zero
// disables retries and gives no lb.Retry. The API server checks the
// bounds of attempts (minimum 0) and codes (400-599) too; they are
// checked again for objects stored under older CRDs, and attempts get
// Cloudgate's upper bound, lb.MaxRetryAttempts.
func (b *builder) ruleRetry(r *gwv1.HTTPRouteRetry) (*lb.Retry, problem) {
	if r == nil {
		return nil, problem{}
	}
	if !b.caps.Retry {
		return nil, unsupportedValue("rule retry is not supported by provider %s", b.caps.Provider)
	}
	attempts := 1
	if r.Attempts != nil {
		attempts = *r.Attempts
	}
	if attempts < 0 || attempts > lb.MaxRetryAttempts {
		return nil, unsupportedValue("retry.attempts %d is not between 0 and %d", attempts, lb.MaxRetryAttempts)
	}
	var codes []int
	for _, c := range r.Codes {
		if c < 400 || c > 599 {
			return nil, unsupportedValue("retry.codes %d is not a status code between 400 and 599", int(c))
		}
		codes = append(codes, int(c))
	}
	slices.Sort(codes)
	codes = slices.Compact(codes)
	out := &lb.Retry{Attempts: attempts, Codes: codes}
	if r.Backoff != nil {
		if !b.caps.RetryBackoff {
			return nil, unsupportedValue("retry backoff is not supported by provider %s", b.caps.Provider)
		}
		d, err := parseDuration(string(*r.Backoff))
		if err != nil {
			return nil, unsupportedValue("retry.backoff %s is not a Gateway API duration", quote(string(*r.Backoff)))
		}
		out.Backoff = &d
	}
	if attempts == 0 {
		return nil, problem{}
	}
	return out, problem{}
}
