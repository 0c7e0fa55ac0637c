package gcp

import (
	"fmt"
	"strings"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// checkOptions refuses, by parameter name, the load balancer options this
// adapter does not realize, so that none is silently dropped.
func checkOptions(o lb.Options, loc location) error {
	var refused []string
	if g := o.GCP; g != nil && g.Region != "" && g.Region != loc.Region {
		// Delete knows only the owner, not the parameters it was made
		// with: a controller that wrote into several regions would have
		// to scan them all to find what to delete.
		refused = append(refused, fmt.Sprintf("gcp.region %q (this controller serves %s, its --gcp-region; run one controller per region)", g.Region, loc.Region))
	}
	if o.IPAddressType != "" && o.IPAddressType != "ipv4" {
		refused = append(refused, fmt.Sprintf("ipAddressType %q (the GCP provider reserves IPv4 addresses only)", o.IPAddressType))
	}
	if o.IdleTimeout > 0 {
		refused = append(refused, "idleTimeout (not realized on GCP yet)")
	}
	if o.DeletionProtection {
		refused = append(refused, "deletionProtection (GCP load balancers have no deletion protection)")
	}
	if o.AccessLogs != nil {
		refused = append(refused, "accessLogs (GCP logs load balancer requests to Cloud Logging, not to a bucket)")
	}
	if o.Scheme != "" && o.Scheme != lb.SchemeInternetFacing && o.Scheme != lb.SchemeInternal {
		refused = append(refused, fmt.Sprintf("scheme %q", o.Scheme))
	}
	if o.Scheme == lb.SchemeInternal && loc.Subnetwork == "" {
		refused = append(refused, "scheme internal without a subnetwork (--gcp-subnetwork): an internal address is taken from one")
	}
	if len(refused) == 0 {
		return nil
	}
	return &providers.InvalidError{Message: "the GCP provider does not support " + strings.Join(refused, "; ")}
}
