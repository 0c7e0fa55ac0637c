package providers

import "errors"

// ErrInvalid marks an error that retrying cannot fix: the cloud refused the
// configuration itself (for example an address outside the allowed range). The
// reconciler turns it into a status condition instead of backing off forever.
var ErrInvalid = errors.New("configuration refused by the cloud")
