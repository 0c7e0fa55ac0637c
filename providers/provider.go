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
	// Ensure makes the cloud match desired: it finds the resources owned by
	// desired.Owner, plans the changes and applies them. It returns the load
	// balancer's status. It must be idempotent and safe to call repeatedly.
	// A returned error is transient unless it wraps ErrInvalid.
	Ensure(ctx context.Context, desired *lb.LoadBalancer) (lb.Status, error)
	// Delete removes every resource owned by owner and frees its addresses. It
	// returns nil when nothing is left, including when nothing existed.
	Delete(ctx context.Context, owner lb.Owner) error
}
