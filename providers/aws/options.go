package aws

import (
	"strings"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// unappliedOptions refuses the parameters the provider does not apply, so
// that none is silently ignored: the Gateway is told (Programmed=False/
// Invalid, the list in its event) instead of getting a load balancer
// without them.
func unappliedOptions(o lb.Options) error {
	var missing []string
	add := func(cond bool, field string) {
		if cond {
			missing = append(missing, field)
		}
	}
	add(o.IdleTimeout != 0, "idleTimeout")
	add(o.DeletionProtection, "deletionProtection")
	add(o.AccessLogs != nil, "accessLogs")
	// An ALB's addresses are the cloud's to allocate; an NLB could take
	// Elastic IPs, which this provider does not allocate.
	add(len(o.Addresses) > 0, "static addresses")
	if a := o.AWS; a != nil {
		add(len(a.Attributes) > 0, "aws.attributes")
		add(len(a.TargetGroupAttributes) > 0, "aws.targetGroupAttributes")
		add(len(a.Subnets) > 0, "aws.subnets")
		add(len(a.SecurityGroups) > 0, "aws.securityGroups")
		add(len(a.SourceRanges) > 0, "aws.sourceRanges")
		add(a.BackendSecurityGroup != "", "aws.backendSecurityGroup")
		add(a.SSLPolicy != "", "aws.sslPolicy")
		add(a.TargetType != "" && a.TargetType != "ip", "aws.targetType "+a.TargetType)
		add(a.DeregistrationDelay != nil, "aws.deregistrationDelay")
		add(a.Quotas != (lb.Quotas{}), "aws.quotas")
	}
	if len(missing) == 0 {
		return nil
	}
	return &providers.InvalidError{Message: "the aws provider does not apply " + strings.Join(missing, ", ") + " yet"}
}
