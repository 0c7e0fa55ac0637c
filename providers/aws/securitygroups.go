package aws

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// Security groups. Without aws.securityGroups, every load balancer gets a
// security group of its own, created before it and deleted after it, with
// one ingress rule per listener port and source range; with
// aws.backendSecurityGroup, that group also gets one ingress rule per
// target port from ours. Every rule the provider authorizes carries the
// ownership tags, and only rules with them are ever revoked: in a group
// that is not ours (the backend group), those are the only change made.
// Given security groups are attached as they are and never modified.

// Kinds of the plan's security group steps.
const (
	kindSecurityGroup providers.Kind = "security group"
	kindSGRule        providers.Kind = "security group rule"
)

// ownedSG stands for the ID of the provider's own security group in the
// desired state, which has no ID before the group exists; the observed
// state uses it too, so that the diff compares like with like.
const ownedSG = "owned"

// logicalSG is the owned group's cloudgate.dev/resource tag.
const logicalSG = "security-group"

// securityGroup is the load balancer's own group.
type securityGroup struct {
	Name string
	Tags map[string]string
	ID   string // observed only
}

// sgRule is one ingress rule: a port from a CIDR or from a group.
type sgRule struct {
	Group  string // the group the rule is in: ownedSG or an ID
	Port   int32
	CIDR   string // IPv4 or IPv6
	Source string // a referenced group: ownedSG or an ID
	ID     string // observed only
	Tags   map[string]string
}

func (r sgRule) key() string {
	src := r.CIDR
	if r.Source != "" {
		src = "group " + r.Source
	}
	return fmt.Sprintf("%s tcp/%d from %s", r.Group, r.Port, src)
}

// security is the security group part of a state.
type security struct {
	Owned  *securityGroup
	Extra  []*securityGroup // further owned groups (observed only)
	Rules  []sgRule         // desired: sorted by key
	Groups []string         // the load balancer's groups (ownedSG for ours), sorted
	// subnets are the load balancer's (desired only): the owned group
	// goes in their VPC.
	subnets []string
}

// desiredSecurity is the pure conversion of the options, the ALB's
// listener ports and the model's target ports.
func desiredSecurity(m *lb.LoadBalancer, listeners []*listener, ipType string, subnets []string) *security {
	var a lb.AWSOptions
	if m.Options.AWS != nil {
		a = *m.Options.AWS
	}
	if len(a.SecurityGroups) > 0 {
		return &security{Groups: sortedCopy(a.SecurityGroups)}
	}
	// Ownership tags only: user tags change with the Gateway's labels,
	// and EC2 would need CreateTags and DeleteTags calls (and grants) to
	// follow them; the group and its rules are found by ownership alone.
	sec := &security{Owned: &securityGroup{Name: sgName(m.Owner), Tags: m.Owner.Tags(logicalSG)}, Groups: []string{ownedSG}, subnets: subnets}
	ranges := a.SourceRanges
	if len(ranges) == 0 {
		ranges = []string{"0.0.0.0/0"}
		if ipType == "dualstack" {
			ranges = append(ranges, "::/0")
		}
	}
	tags := m.Owner.Tags("")
	seen := map[string]bool{}
	add := func(r sgRule) {
		r.Tags = tags
		if !seen[r.key()] {
			seen[r.key()] = true
			sec.Rules = append(sec.Rules, r)
		}
	}
	for _, l := range listeners {
		for _, c := range ranges {
			add(sgRule{Group: ownedSG, Port: l.Port, CIDR: canonicalCIDR(c)})
		}
	}
	if a.BackendSecurityGroup != "" {
		for _, tg := range m.TargetGroups {
			if isStream(tg.Protocol) {
				continue // the NLB's: it has no group of ours
			}
			for _, t := range tg.Targets {
				add(sgRule{Group: a.BackendSecurityGroup, Port: t.Port, Source: ownedSG})
			}
			if hc := tg.HealthCheck; hc != nil && hc.Port != 0 {
				add(sgRule{Group: a.BackendSecurityGroup, Port: hc.Port, Source: ownedSG})
			}
		}
	}
	slices.SortFunc(sec.Rules, func(x, y sgRule) int {
		if x.key() < y.key() {
			return -1
		}
		if x.key() > y.key() {
			return 1
		}
		return 0
	})
	return sec
}

// canonicalCIDR is the form EC2 returns a range in (the network address,
// IPv6 compressed), so that "10.0.0.1/8" is not authorized anew each time.
func canonicalCIDR(c string) string {
	p, err := netip.ParsePrefix(c)
	if err != nil {
		return c // mapping refused it; EC2 will too
	}
	return p.Masked().String()
}

// sgName is the owned group's name: unique per Gateway, and readable in
// the console next to the load balancer of the same name.
func sgName(o lb.Owner) string { return lbName(o) }

// observeSecurity reads the owned groups and every ingress rule with the
// owner's tags, by tag filters: two calls.
func (p *Provider) observeSecurity(ctx context.Context, o lb.Owner, lbGroups []string) (*security, error) {
	filters := []ec2types.Filter{
		{Name: awssdk.String("tag:" + lb.TagCluster), Values: []string{o.Cluster}},
		{Name: awssdk.String("tag:" + lb.TagGatewayUID), Values: []string{o.UID}},
	}
	sec := &security{}
	groups, err := p.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: filters})
	if err != nil {
		return nil, classify(err, "DescribeSecurityGroups", "")
	}
	for _, g := range groups.SecurityGroups {
		t := ec2Tags(g.Tags)
		if !owns(t, o) || t[lb.TagResource] != logicalSG {
			continue
		}
		sg := &securityGroup{Name: awssdk.ToString(g.GroupName), Tags: t, ID: awssdk.ToString(g.GroupId)}
		if sec.Owned == nil {
			sec.Owned = sg
		} else {
			sec.Extra = append(sec.Extra, sg)
		}
	}
	local := func(id string) string {
		if sec.Owned != nil && id == sec.Owned.ID {
			return ownedSG
		}
		return id
	}
	var token *string
	for {
		rules, err := p.ec2.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{Filters: filters, NextToken: token})
		if err != nil {
			return nil, classify(err, "DescribeSecurityGroupRules", "")
		}
		for _, r := range rules.SecurityGroupRules {
			if awssdk.ToBool(r.IsEgress) {
				continue
			}
			from, to := awssdk.ToInt32(r.FromPort), awssdk.ToInt32(r.ToPort)
			or := sgRule{Group: local(awssdk.ToString(r.GroupId)), Port: from, ID: awssdk.ToString(r.SecurityGroupRuleId)}
			if from != to || awssdk.ToString(r.IpProtocol) != "tcp" {
				or.Port = -1 // not a rule we write: revoked as unwanted
			}
			switch {
			case r.CidrIpv4 != nil:
				or.CIDR = *r.CidrIpv4
			case r.CidrIpv6 != nil:
				or.CIDR = *r.CidrIpv6
			case r.ReferencedGroupInfo != nil:
				or.Source = local(awssdk.ToString(r.ReferencedGroupInfo.GroupId))
			}
			sec.Rules = append(sec.Rules, or)
		}
		if token = rules.NextToken; token == nil || *token == "" {
			break
		}
	}
	for _, id := range lbGroups {
		sec.Groups = append(sec.Groups, local(id))
	}
	slices.Sort(sec.Groups)
	return sec, nil
}

func ec2Tags(ts []ec2types.Tag) map[string]string {
	out := map[string]string{}
	for _, t := range ts {
		out[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
	}
	return out
}

func ec2TagSpec(kind ec2types.ResourceType, t map[string]string) []ec2types.TagSpecification {
	spec := ec2types.TagSpecification{ResourceType: kind}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range t {
			if !yield(k) {
				return
			}
		}
	}) {
		spec.Tags = append(spec.Tags, ec2types.Tag{Key: awssdk.String(k), Value: awssdk.String(t[k])})
	}
	return []ec2types.TagSpecification{spec}
}

// planSecurity is the pure diff of the security groups: what runs before
// the load balancer changes (the owned group's creation, rules authorized
// and revoked while their groups stay), and what runs after it is gone or
// no longer uses the owned group (rules that point at it, then the group).
func planSecurity(want, have *security) (first, last []*change) {
	if want == nil {
		want = &security{}
	}
	if have == nil {
		have = &security{}
	}
	step := func(kind providers.Kind, logical, id string, act providers.Action, why string) providers.Step {
		return providers.Step{Kind: kind, LogicalID: logical, CloudID: id, Action: act, Why: why}
	}
	ownedGoes := want.Owned == nil && have.Owned != nil
	switch {
	case want.Owned != nil && have.Owned == nil:
		first = append(first, &change{step: step(kindSecurityGroup, logicalSG, "", providers.ActionCreate, providers.WhyMissing), run: createSG(want.Owned, want.subnets)})
	case want.Owned != nil:
		first = append(first, &change{step: step(kindSecurityGroup, logicalSG, have.Owned.ID, providers.ActionNothing, providers.WhyUpToDate)})
	}
	wanted := map[string]bool{}
	for _, r := range want.Rules {
		wanted[r.key()] = true
	}
	held := map[string]bool{}
	for _, r := range have.Rules {
		held[r.key()] = true
	}
	// One call per group and direction: the first step of each carries it.
	var add []sgRule
	for _, r := range want.Rules {
		if held[r.key()] {
			first = append(first, &change{step: step(kindSGRule, r.key(), "", providers.ActionNothing, providers.WhyUpToDate)})
			continue
		}
		add = append(add, r)
	}
	for _, g := range groupsOf(add) {
		rs := rulesIn(add, g)
		for i, r := range rs {
			c := &change{step: step(kindSGRule, r.key(), "", providers.ActionCreate, providers.WhyMissing)}
			if i == 0 {
				c.run = authorize(g, rs)
			}
			first = append(first, c)
		}
	}
	var remove []sgRule
	for _, r := range have.Rules {
		if !wanted[r.key()] || r.Port < 0 {
			remove = append(remove, r)
		}
	}
	for _, g := range groupsOf(remove) {
		rs := rulesIn(remove, g)
		if g == ownedSG && ownedGoes {
			for _, r := range rs {
				last = append(last, &change{step: step(kindSGRule, r.key(), r.ID, providers.ActionDelete, providers.WhyHolderGoes)})
			}
			continue
		}
		// A rule that lets the owned group in goes before the group
		// (EC2 refuses to delete a group that a rule references).
		goesLast := ownedGoes && slices.ContainsFunc(rs, func(r sgRule) bool { return r.Source == ownedSG })
		for i, r := range rs {
			c := &change{step: step(kindSGRule, r.key(), r.ID, providers.ActionDelete, providers.WhyUnwanted)}
			if i == 0 {
				c.run = revoke(g, rs)
			}
			if goesLast {
				last = append(last, c)
			} else {
				first = append(first, c)
			}
		}
	}
	if ownedGoes {
		last = append(last, &change{step: step(kindSecurityGroup, logicalSG, have.Owned.ID, providers.ActionDelete, providers.WhyUnwanted), run: deleteSG(have.Owned)})
	}
	for _, g := range have.Extra {
		last = append(last, &change{step: step(kindSecurityGroup, logicalSG, g.ID, providers.ActionDelete, "a second security group with the same owner"), run: deleteSG(g)})
	}
	return first, last
}

func groupsOf(rs []sgRule) []string {
	var out []string
	for _, r := range rs {
		if !slices.Contains(out, r.Group) {
			out = append(out, r.Group)
		}
	}
	return out
}

func rulesIn(rs []sgRule, group string) []sgRule {
	var out []sgRule
	for _, r := range rs {
		if r.Group == group {
			out = append(out, r)
		}
	}
	return out
}

// groupID resolves ownedSG to the owned group's ID.
func (a *applier) groupID(g string) string {
	if g == ownedSG {
		return a.sg
	}
	return g
}

func createSG(g *securityGroup, subnets []string) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		vpc, err := a.p.vpc(ctx, subnets)
		if err != nil {
			return err
		}
		out, err := a.p.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String(g.Name), VpcId: awssdk.String(vpc),
			Description:       awssdk.String("Cloudgate load balancer " + g.Tags[lb.TagGateway]),
			TagSpecifications: ec2TagSpec(ec2types.ResourceTypeSecurityGroup, g.Tags)})
		if err != nil {
			return classify(err, "CreateSecurityGroup", "")
		}
		a.sg, c.step.CloudID = awssdk.ToString(out.GroupId), awssdk.ToString(out.GroupId)
		return nil
	}
}

func authorize(group string, rs []sgRule) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		var perms []ec2types.IpPermission
		for _, r := range rs {
			perm := ec2types.IpPermission{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(r.Port), ToPort: awssdk.Int32(r.Port)}
			desc := awssdk.String("Cloudgate " + r.Tags[lb.TagGateway])
			switch {
			case r.Source != "":
				perm.UserIdGroupPairs = []ec2types.UserIdGroupPair{{GroupId: awssdk.String(a.groupID(r.Source)), Description: desc}}
			case netip.MustParsePrefix(r.CIDR).Addr().Is4():
				perm.IpRanges = []ec2types.IpRange{{CidrIp: awssdk.String(r.CIDR), Description: desc}}
			default:
				perm.Ipv6Ranges = []ec2types.Ipv6Range{{CidrIpv6: awssdk.String(r.CIDR), Description: desc}}
			}
			perms = append(perms, perm)
		}
		_, err := a.p.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: awssdk.String(a.groupID(group)),
			IpPermissions: perms, TagSpecifications: ec2TagSpec(ec2types.ResourceTypeSecurityGroupRule, rs[0].Tags)})
		if err != nil {
			return classify(err, "AuthorizeSecurityGroupIngress", "")
		}
		c.step.CloudID = a.groupID(group)
		return nil
	}
}

func revoke(group string, rs []sgRule) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		var ids []string
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		_, err := a.p.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: awssdk.String(a.groupID(group)),
			SecurityGroupRuleIds: ids})
		if isCode(err, "InvalidSecurityGroupRuleId.NotFound") || isCode(err, "InvalidGroup.NotFound") {
			return nil
		}
		return classify(err, "RevokeSecurityGroupIngress", "")
	}
}

// deleteSG deletes an owned group. Right after its load balancer goes, EC2
// still counts the load balancer's network interfaces in it for a few
// minutes and answers DependencyViolation: a transient error, so the
// controller retries later and finds only the group left to delete.
func deleteSG(g *securityGroup) func(context.Context, *applier, *change) error {
	return func(ctx context.Context, a *applier, c *change) error {
		_, err := a.p.ec2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: awssdk.String(g.ID)})
		if isCode(err, "InvalidGroup.NotFound") {
			return nil
		}
		if isCode(err, "DependencyViolation") {
			return fmt.Errorf("security group %s is still in use (its load balancer is going): %w", g.ID, err)
		}
		return classify(err, "DeleteSecurityGroup", "")
	}
}

// lbGroupIDs resolves the load balancer's groups for ELBv2.
func (a *applier) lbGroupIDs(groups []string) []string {
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		out = append(out, a.groupID(g))
	}
	return out
}
