package providers

import (
	"context"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// Provider realizes lb.LoadBalancer models in one cloud.
type Provider interface {
	// ControllerName is the GatewayClass controllerName this provider serves,
	// e.g. "cloudgate.dev/emulated".
	ControllerName() string
	// Capabilities says what the provider can realize; mapping reports the rest.
	Capabilities() lb.Capabilities
	// Plan is a dry run of Ensure: it finds the resources owned by
	// desired.Owner and returns the steps that would make them match
	// desired. It reads the cloud afresh and never writes to it.
	Plan(ctx context.Context, desired *lb.LoadBalancer) (Plan, error)
	// Ensure makes the cloud match desired: Plan, then apply the plan's
	// steps in dependency order. It must be idempotent and safe to call
	// repeatedly; a no-op Ensure writes nothing. A returned error is
	// transient unless it wraps ErrInvalid; the Result then holds what was
	// applied before it.
	Ensure(ctx context.Context, desired *lb.LoadBalancer) (Result, error)
	// Delete removes every resource owned by owner and frees its addresses:
	// it applies the plan against the empty model. It returns nil when
	// nothing is left, including when nothing existed.
	Delete(ctx context.Context, owner lb.Owner) error
}

// Result is what Ensure did.
type Result struct {
	// Status is the load balancer's state after the plan ran: addresses,
	// readiness, per-listener state. Zero after an error.
	Status lb.Status
	// Applied is the plan as it ran, with the cloud ids of what it created.
	// It is the last plan Ensure made when it had to plan again (the cloud
	// changed under the first); after an error it holds the steps that ran
	// before the error, and none when nothing ran.
	Applied Plan
}
