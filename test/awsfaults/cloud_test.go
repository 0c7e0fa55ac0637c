package awsfaults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// resource is one cloud resource as the test reads it from moto.
type resource struct {
	kind string // "load balancer", "listener", "rule", "target group", "certificate"
	arn  string
	name string
	tags map[string]string
	// parent is the ARN of the load balancer (listeners) or listener (rules).
	parent string
}

func (r resource) String() string {
	return fmt.Sprintf("%s %s (%s=%q %s=%q)", r.kind, r.name, lb.TagGateway, r.tags[lb.TagGateway], lb.TagResource, r.tags[lb.TagResource])
}

// cloud is everything in the test's moto.
type cloud struct {
	all []resource
}

// readCloud reads every load balancer, listener, rule, target group and
// imported certificate, with their tags, with the test's own clients.
func readCloud(ctx context.Context, cfg awssdk.Config) (*cloud, error) {
	elb, cm := elbv2.NewFromConfig(cfg), acm.NewFromConfig(cfg)
	c := &cloud{}
	var elbRes []resource
	lbs, err := elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
	if err != nil {
		return nil, err
	}
	for _, l := range lbs.LoadBalancers {
		elbRes = append(elbRes, resource{kind: "load balancer", arn: *l.LoadBalancerArn, name: *l.LoadBalancerName})
		ls, err := elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: l.LoadBalancerArn})
		if err != nil {
			return nil, err
		}
		for _, li := range ls.Listeners {
			elbRes = append(elbRes, resource{kind: "listener", arn: *li.ListenerArn, name: fmt.Sprint(*li.Port), parent: *l.LoadBalancerArn})
			rs, err := elb.DescribeRules(ctx, &elbv2.DescribeRulesInput{ListenerArn: li.ListenerArn})
			if err != nil {
				return nil, err
			}
			for _, r := range rs.Rules {
				if !awssdk.ToBool(r.IsDefault) {
					elbRes = append(elbRes, resource{kind: "rule", arn: *r.RuleArn, name: "priority " + awssdk.ToString(r.Priority), parent: *li.ListenerArn})
				}
			}
		}
	}
	tgs, err := elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{})
	if err != nil {
		return nil, err
	}
	for _, g := range tgs.TargetGroups {
		elbRes = append(elbRes, resource{kind: "target group", arn: *g.TargetGroupArn, name: *g.TargetGroupName})
	}
	for batch := range slices.Chunk(elbRes, 20) {
		var arns []string
		for _, r := range batch {
			arns = append(arns, r.arn)
		}
		out, err := elb.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: arns})
		if err != nil {
			return nil, err
		}
		for _, d := range out.TagDescriptions {
			i := slices.IndexFunc(batch, func(r resource) bool { return r.arn == *d.ResourceArn })
			if i < 0 {
				continue
			}
			batch[i].tags = map[string]string{}
			for _, t := range d.Tags {
				batch[i].tags[*t.Key] = *t.Value
			}
		}
	}
	c.all = elbRes
	certs, err := cm.ListCertificates(ctx, &acm.ListCertificatesInput{Includes: &acmtypes.Filters{KeyTypes: acmtypes.KeyAlgorithm("").Values()}})
	if err != nil {
		return nil, err
	}
	for _, s := range certs.CertificateSummaryList {
		out, err := cm.ListTagsForCertificate(ctx, &acm.ListTagsForCertificateInput{CertificateArn: s.CertificateArn})
		if err != nil {
			return nil, err
		}
		r := resource{kind: "certificate", arn: *s.CertificateArn, name: awssdk.ToString(s.DomainName), tags: map[string]string{}}
		for _, t := range out.Tags {
			r.tags[*t.Key] = awssdk.ToString(t.Value)
		}
		c.all = append(c.all, r)
	}
	return c, nil
}

// expectation is what one Gateway must hold in the cloud.
type expectation struct {
	listeners int
	// rules per listener: the route rules attached to it (no hostnames, so
	// no VirtualHost catch-alls).
	rules  int
	groups int
	certs  int
}

// check returns every way the cloud differs from want (by Gateway UID):
// a resource without the cluster's tags, a Gateway without exactly one
// load balancer, missing or duplicated listeners, rules, target groups or
// certificates, and anything of a Gateway not in want.
func (c *cloud) check(cluster string, want map[string]expectation) error {
	var errs []error
	byUID := map[string]map[string][]resource{} // uid → kind → resources
	for _, r := range c.all {
		if r.tags[lb.TagCluster] != cluster || r.tags[lb.TagGatewayUID] == "" || r.tags[lb.TagResource] == "" {
			errs = append(errs, fmt.Errorf("%s has no ownership tags of cluster %s: %v", r, cluster, r.tags))
			continue
		}
		uid := r.tags[lb.TagGatewayUID]
		if _, ok := want[uid]; !ok {
			errs = append(errs, fmt.Errorf("leaked: %s of a Gateway that is gone", r))
			continue
		}
		if byUID[uid] == nil {
			byUID[uid] = map[string][]resource{}
		}
		byUID[uid][r.kind] = append(byUID[uid][r.kind], r)
	}
	for _, uid := range sortedKeys(want) {
		w, have := want[uid], byUID[uid]
		count := func(kind string, rs []resource, n int) {
			if len(rs) != n {
				errs = append(errs, fmt.Errorf("gateway %s: %d %ss, want %d: %v", uid, len(rs), kind, n, rs))
			}
			seen := map[string]resource{}
			for _, r := range rs {
				if d, ok := seen[r.tags[lb.TagResource]]; ok {
					errs = append(errs, fmt.Errorf("gateway %s: duplicate %s: %s and %s", uid, kind, d.arn, r.arn))
				}
				seen[r.tags[lb.TagResource]] = r
			}
		}
		lbs := have["load balancer"]
		count("load balancer", lbs, 1)
		count("target group", have["target group"], w.groups)
		count("certificate", have["certificate"], w.certs)
		if len(lbs) != 1 {
			continue
		}
		var listeners []resource
		for _, l := range have["listener"] {
			if l.parent == lbs[0].arn {
				listeners = append(listeners, l)
			}
		}
		count("listener", listeners, w.listeners)
		for _, l := range listeners {
			var rules []resource
			for _, r := range have["rule"] {
				if r.parent == l.arn {
					rules = append(rules, r)
				}
			}
			count("rule", rules, w.rules)
		}
	}
	return errors.Join(errs...)
}

// summary counts the resources by kind, for the log.
func (c *cloud) summary() string {
	n := map[string]int{}
	for _, r := range c.all {
		n[r.kind]++
	}
	var parts []string
	for _, k := range sortedKeys(n) {
		parts = append(parts, fmt.Sprintf("%d %ss", n[k], k))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
