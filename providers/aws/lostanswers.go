package aws

import (
	"context"
	"fmt"
	"strconv"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// ruleHoldingPriority handles CreateRule's PriorityInUse. The plan picks
// priorities that the observed rules leave free, so the rule holding one
// is most often this very rule: a CreateRule whose answer was lost (a 5xx
// or a dropped connection after ELBv2 created it) and that the SDK retried.
// CreateRule is not idempotent, so the retry cannot return it. That rule,
// found by its tags, is adopted. A rule of ours with another logical id
// means the observation is stale: a transient error, for the next
// reconcile to observe again. Anything else (a rule without our tags) is
// left to classify, which refuses the configuration.
func (a *applier) ruleHoldingPriority(ctx context.Context, listenerARN string, r *rule) (arn string, err error) {
	want := strconv.Itoa(int(r.Priority))
	var marker *string
	for {
		res, err := a.p.elb.DescribeRules(ctx, &elbv2.DescribeRulesInput{ListenerArn: &listenerARN, Marker: marker})
		if err != nil {
			return "", classify(err, "DescribeRules", "")
		}
		for _, cr := range res.Rules {
			if awssdk.ToString(cr.Priority) != want {
				continue
			}
			held := awssdk.ToString(cr.RuleArn)
			tags, err := a.p.tagsOf(ctx, []string{held})
			if err != nil {
				return "", err
			}
			t := tags[held]
			switch {
			case t[lb.TagCluster] != r.Tags[lb.TagCluster] || t[lb.TagGatewayUID] != r.Tags[lb.TagGatewayUID]:
				return "", nil
			case t[lb.TagResource] == r.Tags[lb.TagResource]:
				return held, nil
			default:
				return "", fmt.Errorf("CreateRule: priority %s is held by rule %s of this Gateway (%s), not seen when the plan was made; observing again", want, held, t[lb.TagResource])
			}
		}
		if marker = res.NextMarker; marker == nil || *marker == "" {
			return "", nil
		}
	}
}
