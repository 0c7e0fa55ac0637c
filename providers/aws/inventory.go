package aws

import (
	"context"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// The inventory is which load balancers, target groups and imported
// certificates in the region carry Cloudgate's tags: a scan of the whole
// region (ELBv2 and ACM have no server-side tag filter), shared by every
// Gateway's observe for inventoryTTL.
//
// Scanning once per Gateway made each observe cost reads in proportion to
// the account's load balancers, target groups and certificates: 14 reads per
// Gateway at 50 Gateways, and about 220 at 1,000, which no resync period
// could keep under ELBv2's Describe rate limit. With the inventory, an
// observe describes only the Gateway's own resources, by ARN, and reads
// their tags again: ownership is always decided on fresh tags, and the
// inventory only says where to look.
//
// What the inventory can miss is what was created since its scan. Our own
// creates and deletes drop it (applier.run), so this process never plans on
// a scan older than its own writes. A resource another process made since
// the scan (an old leader during a handover) is found by name before we
// create over it (checkNames), which drops the inventory and reads again.

// inventoryTTL bounds the age of the scan an observe decides on; it is
// short next to any resync period, so a resync still sees a change made out
// of band within a minute of it.
const inventoryTTL = time.Minute

type inventory struct {
	mu sync.Mutex
	// gen counts invalidations: a scan that began before one is not kept.
	gen    uint64
	snap   *regionScan
	flight *scanFlight
	// gateways is how many Gateways of the cluster the last scan found
	// load balancers for (DefaultResyncPeriod scales with it).
	gateways int
}

// regionScan is one scan: the tags of every ALB, NLB, target group and
// imported certificate that carries a Cloudgate cluster tag, by ARN.
type regionScan struct {
	at     time.Time
	lbs    map[string]taggedLB
	groups map[string]map[string]string
	certs  map[string]map[string]string
}

type taggedLB struct {
	kind elbtypes.LoadBalancerTypeEnum
	tags map[string]string
}

type scanFlight struct {
	gen  uint64 // inventory.gen when the scan began
	done chan struct{}
	scan *regionScan
	err  error
}

// invalidate drops the scan; the next observe scans again.
func (inv *inventory) invalidate() {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.gen++
	inv.snap = nil
}

// scan returns a scan younger than inventoryTTL, making one if needed; a
// scan in flight is shared.
func (p *Provider) scan(ctx context.Context) (*regionScan, error) {
	inv := &p.inv
	inv.mu.Lock()
	if s := inv.snap; s != nil && time.Since(s.at) < inventoryTTL {
		inv.mu.Unlock()
		return s, nil
	}
	// A scan that began before the last invalidation may miss what that
	// invalidation was for (our own create): it is not joined.
	if f := inv.flight; f != nil && f.gen == inv.gen {
		inv.mu.Unlock()
		select {
		case <-f.done:
			if f.err != nil {
				// The scanner's error (its context, say) need not be ours.
				return p.scanRegion(ctx)
			}
			return f.scan, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	gen := inv.gen
	f := &scanFlight{gen: gen, done: make(chan struct{})}
	inv.flight = f
	inv.mu.Unlock()

	s, err := p.scanRegion(ctx)
	inv.mu.Lock()
	if inv.flight == f {
		inv.flight = nil
	}
	if err == nil && inv.gen == gen {
		inv.snap = s
	}
	if err == nil {
		inv.gateways = s.gateways(p.cfg.ClusterName)
	}
	inv.mu.Unlock()
	f.scan, f.err = s, err
	close(f.done)
	return s, err
}

// scanRegion lists every load balancer, target group and imported
// certificate, and the tags of each.
func (p *Provider) scanRegion(ctx context.Context) (*regionScan, error) {
	s := &regionScan{at: time.Now(), lbs: map[string]taggedLB{}, groups: map[string]map[string]string{}, certs: map[string]map[string]string{}}
	kinds := map[string]elbtypes.LoadBalancerTypeEnum{}
	var arns []string
	lbPages := elbv2.NewDescribeLoadBalancersPaginator(p.elb, &elbv2.DescribeLoadBalancersInput{})
	for lbPages.HasMorePages() {
		page, err := lbPages.NextPage(ctx)
		if err != nil {
			return nil, classify(err, "DescribeLoadBalancers", "")
		}
		for _, l := range page.LoadBalancers {
			if l.Type == elbtypes.LoadBalancerTypeEnumApplication || l.Type == elbtypes.LoadBalancerTypeEnumNetwork {
				arn := awssdk.ToString(l.LoadBalancerArn)
				arns = append(arns, arn)
				kinds[arn] = l.Type
			}
		}
	}
	tgPages := elbv2.NewDescribeTargetGroupsPaginator(p.elb, &elbv2.DescribeTargetGroupsInput{})
	for tgPages.HasMorePages() {
		page, err := tgPages.NextPage(ctx)
		if err != nil {
			return nil, classify(err, "DescribeTargetGroups", "")
		}
		for _, g := range page.TargetGroups {
			arns = append(arns, awssdk.ToString(g.TargetGroupArn))
		}
	}
	tags, err := p.tagsOf(ctx, arns)
	if err != nil {
		return nil, err
	}
	for _, arn := range arns {
		t := tags[arn]
		if _, ok := t[lb.TagCluster]; !ok {
			continue
		}
		if kind, isLB := kinds[arn]; isLB {
			s.lbs[arn] = taggedLB{kind: kind, tags: t}
		} else {
			s.groups[arn] = t
		}
	}

	in := &acm.ListCertificatesInput{Includes: &acmtypes.Filters{KeyTypes: acmtypes.KeyAlgorithm("").Values()}}
	certPages := acm.NewListCertificatesPaginator(p.acm, in)
	for certPages.HasMorePages() {
		page, err := certPages.NextPage(ctx)
		if err != nil {
			return nil, classify(err, "ListCertificates", "")
		}
		for _, c := range page.CertificateSummaryList {
			if c.Type != "" && c.Type != acmtypes.CertificateTypeImported {
				continue // ACM-issued or private: never ours
			}
			arn := awssdk.ToString(c.CertificateArn)
			res, err := p.acm.ListTagsForCertificate(ctx, &acm.ListTagsForCertificateInput{CertificateArn: &arn})
			if isCode(err, "ResourceNotFoundException") {
				continue // deleted meanwhile
			}
			if err != nil {
				return nil, classify(err, "ListTagsForCertificate", "")
			}
			t := map[string]string{}
			for _, tag := range res.Tags {
				t[awssdk.ToString(tag.Key)] = awssdk.ToString(tag.Value)
			}
			if _, ok := t[lb.TagCluster]; ok {
				s.certs[arn] = t
			}
		}
	}
	return s, nil
}

// gateways counts the Gateways of cluster ("" for any) with a load
// balancer in s.
func (s *regionScan) gateways(cluster string) int {
	uids := map[string]bool{}
	for _, l := range s.lbs {
		if cluster == "" || l.tags[lb.TagCluster] == cluster {
			uids[l.tags[lb.TagGatewayUID]] = true
		}
	}
	return len(uids)
}

// owned returns the ARNs of o's load balancers and target groups in s.
func (s *regionScan) owned(o lb.Owner) (lbs, groups []string) {
	for arn, l := range s.lbs {
		if owns(l.tags, o) && ownedKind(l.tags[lb.TagResource], l.kind) {
			lbs = append(lbs, arn)
		}
	}
	for arn, t := range s.groups {
		if owns(t, o) {
			groups = append(groups, arn)
		}
	}
	return lbs, groups
}
