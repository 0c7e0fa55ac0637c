package gcp

import (
	"fmt"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// Retries (lb.Retry) are not in Capabilities, so mapping refuses the rules
// that ask for them; retryRefusal is the backstop's reason should a model
// carry one anyway.
//
// Why not, although a URL map's routeAction.retryPolicy exists
// (retryConditions, numRetries, perTryTimeout): its conditions are
// classes, and none of the classes that hold 5xx codes is exact.
//   - "5xx" is every code 500-599 and "gateway-error" 502, 503 and 504,
//     where the Gateway API's codes are single statuses: 500 alone, or
//     500, 502, 503 and 504 together (what HTTPRouteRetryCodes tests, and
//     what the API says implementations MUST retry), is no class.
//   - "5xx", "gateway-error" and "reset" also retry a request whose
//     connection was reset after it was sent, whatever its method; the
//     Gateway API says that SHOULD NOT be done by default (the request
//     may have been processed), and lb.Retry retries it for safe methods
//     only.
//   - What is exact, "connect-failure" and "refused-stream" (nothing
//     reached the backend) and "retriable-4xx" (409 alone), does not
//     retry a safe request whose connection was lost, which lb.Retry
//     does; and Capabilities has no flag for a provider that retries
//     connection failures and 409 only, so claiming Retry would claim
//     HTTPRouteRetryCodes too.
//
// GCP retries on a schedule of its own (no base interval to set), so a
// backoff could never be carried either.
func retryRefusal(r *lb.Retry) string {
	return fmt.Sprintf("a retry policy (%d attempts, codes %v): GCP's retry conditions are classes of codes (5xx, gateway-error, retriable-4xx) that also retry reset connections of any method", r.Attempts, r.Codes)
}
