package aws

import (
	"context"
	"errors"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// Outcomes of an SDK call, as CountCalls reports them.
const (
	OutcomeSuccess   = "success"
	OutcomeThrottled = "throttled"
	OutcomeInvalid   = "invalid"
	OutcomeNotFound  = "not-found" // expected: a name checked before a create, a delete of what is gone
	OutcomeError     = "error"
)

// CountCalls is an aws.Config.APIOptions entry that reports every SDK call
// (after the SDK's own retries) by operation and outcome, for metrics.
func CountCalls(record func(operation, outcome string)) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("cloudgate-count-calls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				record(awsmiddleware.GetOperationName(ctx), outcome(err))
				return out, md, err
			}), middleware.After)
	}
}

func outcome(err error) string {
	if err == nil {
		return OutcomeSuccess
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() {
			return OutcomeThrottled
		}
		if notFoundCodes[api.ErrorCode()] {
			return OutcomeNotFound
		}
		if invalidCodes[api.ErrorCode()] {
			return OutcomeInvalid
		}
	}
	return OutcomeError
}

var notFoundCodes = map[string]bool{
	"LoadBalancerNotFound": true,
	"TargetGroupNotFound":  true,
	"ListenerNotFound":     true,
	"RuleNotFound":         true,
}
