package manager

import (
	"context"
	"errors"
	"strings"

	"github.com/cloudgate-dev/cloudgate/providers"
)

// ReadOnlyProviders builds the enabled providers for a process that only
// reads the cloud (`cloudgate describe`), from the controller's own flags.
// The emulated provider then needs --emulated-endpoint: a cloud started in
// this process would hold nothing, and describing it would say nothing
// true about the controller's.
func ReadOnlyProviders(ctx context.Context, o Options) ([]providers.Provider, func(), error) {
	for _, name := range strings.Split(o.Providers, ",") {
		if strings.TrimSpace(name) == "emulated" && o.EmulatedEndpoint == "" {
			return nil, nil, errors.New("--emulated-endpoint is required: describe reads the emulated cloud the controller uses, it does not start one")
		}
	}
	return startProviders(ctx, o)
}
