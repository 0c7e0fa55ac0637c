package providers

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid marks an error that retrying cannot fix: the cloud refused the
// configuration itself (for example an address outside the allowed range). The
// reconciler turns it into a status condition instead of backing off forever.
var ErrInvalid = errors.New("configuration refused by the cloud")

// ErrAddressNotUsable marks a refusal of the addresses the Gateway's
// spec.addresses request (outside the cloud's range, taken, or more than
// it gives): the reconciler reports Programmed=False with reason
// AddressNotUsable, as the Gateway API asks, rather than Invalid. It
// matches ErrInvalid, since retrying the same request cannot fix it.
var ErrAddressNotUsable = fmt.Errorf("%w: a requested address is not usable", ErrInvalid)

// InvalidError is a refusal that names the parts of the model at fault, so that
// the reconciler can leave out the routes behind them and apply the rest: one
// tenant's route never blocks a whole Gateway. It matches ErrInvalid.
type InvalidError struct {
	// Elements are the names, as the model spells them, of the lb.Rule,
	// lb.Stream, lb.TargetGroup, lb.Listener or lb.Certificate the cloud
	// refused. Empty means the cloud did not say which part it refused.
	Elements []string
	// Message is the cloud's explanation. It may carry request ids and other
	// variable text: it belongs in Events and logs, not in conditions.
	Message string
	// Cause is the provider's own error for the refusal (for example the
	// emulated adapter's *APIError), kept so that errors.As still finds it;
	// nil when there is none.
	Cause error
}

func (e *InvalidError) Error() string {
	if len(e.Elements) == 0 {
		return fmt.Sprintf("%s: %s", ErrInvalid, e.Message)
	}
	return fmt.Sprintf("%s: %s (at %s)", ErrInvalid, e.Message, strings.Join(e.Elements, ", "))
}

// Unwrap makes errors.Is(err, ErrInvalid) hold, and errors.As reach Cause.
func (e *InvalidError) Unwrap() []error {
	if e.Cause == nil {
		return []error{ErrInvalid}
	}
	return []error{ErrInvalid, e.Cause}
}
