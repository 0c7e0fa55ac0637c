package emulated

import "time"

// DefaultResyncPeriod is how often the controller reads each Gateway's load
// balancer again to repair drift. The emulated API has no read quota; ten
// minutes keeps thousands of Gateways at a few reads a second.
func (p *Provider) DefaultResyncPeriod() time.Duration { return 10 * time.Minute }
