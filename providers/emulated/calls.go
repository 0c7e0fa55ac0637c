package emulated

import (
	"errors"
	"net/http"

	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
)

// Operations of the emulated cloud's API, as Config.CountCall names them:
// the verbs of a cloud SDK, so that a dashboard reads the same for every
// provider.
const (
	OpList    = "ListLoadBalancers"
	OpCreate  = "CreateLoadBalancer"
	OpReplace = "ReplaceLoadBalancer"
	OpDelete  = "DeleteLoadBalancer"
)

// Outcomes of an API call, as Config.CountCall reports them: the same words
// as the aws provider's.
const (
	OutcomeSuccess   = "success"
	OutcomeThrottled = "throttled"
	OutcomeInvalid   = "invalid"
	OutcomeNotFound  = "not-found" // expected: the delete of what is gone, a replace that meets a deleted one
	OutcomeError     = "error"
)

// Outcome classifies the result of one API call, after the client's
// retries, the way the emulated cloud answers: 429 (code Throttled) is a
// rate limit; 400 is a configuration the cloud refuses; 404 a resource that
// is not there; everything else, 503 ServiceUnavailable included (an
// outage, not a limit the caller ran into), conflicts, and failures to reach
// the cloud at all, is an error.
func Outcome(err error) string {
	if err == nil {
		return OutcomeSuccess
	}
	var e *APIError
	if !errors.As(err, &e) {
		return OutcomeError
	}
	switch {
	case e.StatusCode == http.StatusTooManyRequests || e.Code == cloud.CodeThrottled:
		return OutcomeThrottled
	case e.StatusCode == http.StatusBadRequest:
		return OutcomeInvalid
	case e.StatusCode == http.StatusNotFound:
		return OutcomeNotFound
	}
	return OutcomeError
}
