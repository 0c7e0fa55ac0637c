package aws

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go"

	"github.com/cloudgate-dev/cloudgate/providers"
)

// ELBv2 is the part of the ELBv2 API the provider calls, and no more.
type ELBv2 interface {
	DescribeLoadBalancers(context.Context, *elbv2.DescribeLoadBalancersInput, ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error)
	DescribeTargetGroups(context.Context, *elbv2.DescribeTargetGroupsInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error)
	DescribeTags(context.Context, *elbv2.DescribeTagsInput, ...func(*elbv2.Options)) (*elbv2.DescribeTagsOutput, error)
	DescribeListeners(context.Context, *elbv2.DescribeListenersInput, ...func(*elbv2.Options)) (*elbv2.DescribeListenersOutput, error)
	DescribeRules(context.Context, *elbv2.DescribeRulesInput, ...func(*elbv2.Options)) (*elbv2.DescribeRulesOutput, error)
	DescribeListenerCertificates(context.Context, *elbv2.DescribeListenerCertificatesInput, ...func(*elbv2.Options)) (*elbv2.DescribeListenerCertificatesOutput, error)
	DescribeTargetHealth(context.Context, *elbv2.DescribeTargetHealthInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error)
	DescribeLoadBalancerAttributes(context.Context, *elbv2.DescribeLoadBalancerAttributesInput, ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancerAttributesOutput, error)
	DescribeTargetGroupAttributes(context.Context, *elbv2.DescribeTargetGroupAttributesInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupAttributesOutput, error)

	CreateLoadBalancer(context.Context, *elbv2.CreateLoadBalancerInput, ...func(*elbv2.Options)) (*elbv2.CreateLoadBalancerOutput, error)
	SetSubnets(context.Context, *elbv2.SetSubnetsInput, ...func(*elbv2.Options)) (*elbv2.SetSubnetsOutput, error)
	SetSecurityGroups(context.Context, *elbv2.SetSecurityGroupsInput, ...func(*elbv2.Options)) (*elbv2.SetSecurityGroupsOutput, error)
	ModifyLoadBalancerAttributes(context.Context, *elbv2.ModifyLoadBalancerAttributesInput, ...func(*elbv2.Options)) (*elbv2.ModifyLoadBalancerAttributesOutput, error)
	ModifyTargetGroupAttributes(context.Context, *elbv2.ModifyTargetGroupAttributesInput, ...func(*elbv2.Options)) (*elbv2.ModifyTargetGroupAttributesOutput, error)
	DeleteLoadBalancer(context.Context, *elbv2.DeleteLoadBalancerInput, ...func(*elbv2.Options)) (*elbv2.DeleteLoadBalancerOutput, error)
	CreateListener(context.Context, *elbv2.CreateListenerInput, ...func(*elbv2.Options)) (*elbv2.CreateListenerOutput, error)
	ModifyListener(context.Context, *elbv2.ModifyListenerInput, ...func(*elbv2.Options)) (*elbv2.ModifyListenerOutput, error)
	AddListenerCertificates(context.Context, *elbv2.AddListenerCertificatesInput, ...func(*elbv2.Options)) (*elbv2.AddListenerCertificatesOutput, error)
	RemoveListenerCertificates(context.Context, *elbv2.RemoveListenerCertificatesInput, ...func(*elbv2.Options)) (*elbv2.RemoveListenerCertificatesOutput, error)
	DeleteListener(context.Context, *elbv2.DeleteListenerInput, ...func(*elbv2.Options)) (*elbv2.DeleteListenerOutput, error)
	CreateRule(context.Context, *elbv2.CreateRuleInput, ...func(*elbv2.Options)) (*elbv2.CreateRuleOutput, error)
	ModifyRule(context.Context, *elbv2.ModifyRuleInput, ...func(*elbv2.Options)) (*elbv2.ModifyRuleOutput, error)
	SetRulePriorities(context.Context, *elbv2.SetRulePrioritiesInput, ...func(*elbv2.Options)) (*elbv2.SetRulePrioritiesOutput, error)
	DeleteRule(context.Context, *elbv2.DeleteRuleInput, ...func(*elbv2.Options)) (*elbv2.DeleteRuleOutput, error)
	CreateTargetGroup(context.Context, *elbv2.CreateTargetGroupInput, ...func(*elbv2.Options)) (*elbv2.CreateTargetGroupOutput, error)
	ModifyTargetGroup(context.Context, *elbv2.ModifyTargetGroupInput, ...func(*elbv2.Options)) (*elbv2.ModifyTargetGroupOutput, error)
	DeleteTargetGroup(context.Context, *elbv2.DeleteTargetGroupInput, ...func(*elbv2.Options)) (*elbv2.DeleteTargetGroupOutput, error)
	RegisterTargets(context.Context, *elbv2.RegisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.RegisterTargetsOutput, error)
	DeregisterTargets(context.Context, *elbv2.DeregisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error)
	AddTags(context.Context, *elbv2.AddTagsInput, ...func(*elbv2.Options)) (*elbv2.AddTagsOutput, error)
	RemoveTags(context.Context, *elbv2.RemoveTagsInput, ...func(*elbv2.Options)) (*elbv2.RemoveTagsOutput, error)
}

// EC2 is the part of the EC2 API the provider calls: subnet discovery,
// Elastic IP lookup, and the load balancers' own security groups and
// rules.
type EC2 interface {
	DescribeSubnets(context.Context, *ec2.DescribeSubnetsInput, ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	// DescribeAddresses finds the Elastic IPs a Gateway's spec.addresses
	// name (addresses.go).
	DescribeAddresses(context.Context, *ec2.DescribeAddressesInput, ...func(*ec2.Options)) (*ec2.DescribeAddressesOutput, error)
	DescribeSecurityGroups(context.Context, *ec2.DescribeSecurityGroupsInput, ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	DescribeSecurityGroupRules(context.Context, *ec2.DescribeSecurityGroupRulesInput, ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupRulesOutput, error)
	CreateSecurityGroup(context.Context, *ec2.CreateSecurityGroupInput, ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error)
	AuthorizeSecurityGroupIngress(context.Context, *ec2.AuthorizeSecurityGroupIngressInput, ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error)
	RevokeSecurityGroupIngress(context.Context, *ec2.RevokeSecurityGroupIngressInput, ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupIngressOutput, error)
	DeleteSecurityGroup(context.Context, *ec2.DeleteSecurityGroupInput, ...func(*ec2.Options)) (*ec2.DeleteSecurityGroupOutput, error)
}

// invalidCodes are the ELBv2 and EC2 error codes that refuse the
// configuration itself: retrying cannot help.
var invalidCodes = map[string]bool{
	"ValidationError":                          true,
	"InvalidConfigurationRequest":              true,
	"InvalidLoadBalancerAction":                true,
	"IncompatibleProtocols":                    true,
	"UnsupportedProtocol":                      true,
	"InvalidScheme":                            true,
	"InvalidSubnet":                            true,
	"SubnetNotFound":                           true,
	"InvalidSecurityGroup":                     true,
	"InvalidTarget":                            true,
	"TooManyRules":                             true,
	"TooManyActions":                           true,
	"TooManyConditions":                        true,
	"TooManyTargetGroups":                      true,
	"TooManyListeners":                         true,
	"TooManyLoadBalancers":                     true,
	"TooManyTags":                              true,
	"TooManyTargets":                           true,
	"TooManyRegistrationsForTargetId":          true,
	"TooManyUniqueTargetGroupsPerLoadBalancer": true,
	"TargetGroupAssociationLimit":              true,
	"DuplicateTagKeys":                         true,
	"DuplicateListener":                        true,
	"DuplicateLoadBalancerName":                true,
	"DuplicateTargetGroupName":                 true,
	"PriorityInUse":                            true,
	"CertificateNotFound":                      true,
	"TooManyCertificates":                      true,
	"SSLPolicyNotFound":                        true,
	"OperationNotPermitted":                    true,
	// EC2's, for security groups and rules.
	"InvalidGroup.NotFound":              true,
	"InvalidParameterValue":              true,
	"InvalidPermission.Malformed":        true,
	"RulesPerSecurityGroupLimitExceeded": true,
	"SecurityGroupLimitExceeded":         true,
}

// classify turns an SDK error for the model element elem ("" when the call
// is for the load balancer as a whole) into an *providers.InvalidError when
// the cloud refused the configuration; anything else (throttling, 5xx,
// network) stays a transient error. Codes are matched with errors.As on
// smithy.APIError, never on message text.
func classify(err error, op string, elem string) error {
	if err == nil {
		return nil
	}
	var api smithy.APIError
	if errors.As(err, &api) && invalidCodes[api.ErrorCode()] {
		ie := &providers.InvalidError{Message: fmt.Sprintf("%s: %s: %s", op, api.ErrorCode(), api.ErrorMessage()), Cause: err}
		if elem != "" {
			ie.Elements = []string{elem}
		}
		return ie
	}
	return fmt.Errorf("%s: %w", op, err)
}
