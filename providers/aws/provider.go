package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// ControllerName is the GatewayClass controllerName the provider serves.
const ControllerName = "cloudgate.dev/aws"

// Config configures the provider.
type Config struct {
	// AWS is the SDK configuration (region, endpoint, credentials); tests
	// add middlewares through its APIOptions.
	AWS awssdk.Config
	// ClusterName is the controller's --cluster-name. Ownership tags take
	// the cluster from each model's Owner; discovered subnets must carry
	// the tag kubernetes.io/cluster/<ClusterName> (any value) when it is
	// set.
	ClusterName string
	// VPCID is the VPC of the target groups; empty takes the subnets' VPC.
	VPCID string
	// Subnets of internet-facing load balancers, and InternalSubnets of
	// internal ones; empty discovers them in VPCID by the tags
	// kubernetes.io/role/elb=1 and kubernetes.io/role/internal-elb=1.
	Subnets         []string
	InternalSubnets []string
	// ELBv2 and EC2 replace the SDK clients (tests); nil builds them
	// from AWS.
	ELBv2 ELBv2
	EC2   EC2
	ACM   ACM
}

// Provider realizes lb models as ALBs.
type Provider struct {
	cfg Config
	elb ELBv2
	ec2 EC2
	acm ACM

	// inv is the shared region scan of what carries our tags.
	inv inventory

	mu      sync.Mutex
	subnets map[string][]string // by scheme
	vpcID   string
}

// New returns a provider; it makes no call.
func New(cfg Config) (*Provider, error) {
	if cfg.AWS.Retryer == nil && cfg.AWS.RetryMode == "" {
		// Adaptive retries: when AWS throttles, each client (one per API,
		// shared by every Gateway) slows its own sending rate down, so
		// that many Gateways reconciling at once do not storm a
		// throttled account. A mode or retryer the caller chose stays.
		cfg.AWS.RetryMode = awssdk.RetryModeAdaptive
	}
	p := &Provider{cfg: cfg, elb: cfg.ELBv2, ec2: cfg.EC2, acm: cfg.ACM, subnets: map[string][]string{}, vpcID: cfg.VPCID}
	if p.elb == nil {
		p.elb = elbv2.NewFromConfig(cfg.AWS)
	}
	if p.ec2 == nil {
		p.ec2 = ec2.NewFromConfig(cfg.AWS)
	}
	if p.acm == nil {
		p.acm = acm.NewFromConfig(cfg.AWS)
	}
	if len(cfg.Subnets) > 0 {
		p.subnets[string(lb.SchemeInternetFacing)] = slices.Clone(cfg.Subnets)
	}
	if len(cfg.InternalSubnets) > 0 {
		p.subnets[string(lb.SchemeInternal)] = slices.Clone(cfg.InternalSubnets)
	}
	return p, nil
}

// ControllerName implements providers.Provider.
func (p *Provider) ControllerName() string { return ControllerName }

// Capabilities are what this slice realizes on an ALB and an NLB, no more.
func (p *Provider) Capabilities() lb.Capabilities {
	return lb.Capabilities{
		Provider: "aws",
		// HTTPS: PEM certificates are imported into ACM, ACM ARNs are
		// served as they are. TCP, UDP and TLS listeners go to an NLB
		// of the Gateway's own (nlb.go), a TCP and a UDP one on the same
		// port as one TCP_UDP listener; TLS Terminate serves the
		// certificates from ACM.
		Protocols: map[lb.Protocol]bool{lb.ProtocolHTTP: true, lb.ProtocolHTTPS: true,
			lb.ProtocolTCP: true, lb.ProtocolUDP: true, lb.ProtocolTLS: true},
		TLSTerminate: true,
		// An NLB listener has one default action and no rules: SNI picks
		// a certificate, never a target group (nlb.go refuses Streams
		// that go elsewhere than the first).
		TLSIgnoresServerName: true,
		TCPUDPSharedPort:     true,
		CertificateRefs:      map[lb.CertificateRefKind]bool{lb.CertificateRefACM: true},
		// Regexes go to ALB's RegexValues when its dialect reads them as
		// RE2 does, and are refused naming the construct when not
		// (albRegex). Paths compare case-sensitively; header (but Host)
		// and query values compare ignoring case, as ALB does (rules.go):
		// no case-sensitive comparison is offered for query strings.
		PathMatch:   map[lb.MatchType]bool{lb.MatchExact: true, lb.MatchPrefix: true, lb.MatchRegex: true},
		HeaderMatch: map[lb.MatchType]bool{lb.MatchExact: true, lb.MatchRegex: true},
		QueryMatch:  map[lb.MatchType]bool{lb.MatchExact: true},
		// ALB's query-string conditions ignore case in names and values.
		QueryMatchIgnoresCase: true,
		// Rule transforms: host-header-rewrite for the hostname,
		// url-rewrite for full paths and prefixes (convertRewrite); a
		// full path replaces the whole path ("^[^?]*") whatever the
		// rule's path match.
		Rewrite:                   true,
		PrefixRewrite:             true,
		FullPathRewriteOnAnyMatch: true,
		MethodMatch:               true,
		FixedResponse:             true,
		// A redirect action's Port takes any port (convertAction).
		Redirect:            true,
		RedirectPort:        true,
		RedirectStatusCodes: map[int]bool{301: true, 302: true},
		// A target group's health check Matcher takes codes and ranges
		// (matcher).
		HealthCheckSuccessCodes: true,
		// Cookie sessions as target group stickiness (stickiness.go).
		SessionPersistence: sessionCaps,
		// No CORS: an ALB cannot answer a preflight itself (a
		// fixed-response action sets no headers), and its listener
		// attributes routing.http.response.access_control_* set one
		// static value on every response of the listener, for every
		// origin: no per-rule policy, no origin matching or echo.
		BackendProtocols: map[lb.Protocol]bool{lb.ProtocolHTTP: true, lb.ProtocolHTTPS: true,
			lb.ProtocolTCP: true, lb.ProtocolUDP: true},
		// Target groups with TLS become HTTPS target groups (tlsGroup).
		// ALB does not verify them: "the load balancer establishes TLS
		// connections with the targets using certificates that you
		// install on the targets. The load balancer does not validate
		// these certificates" (ALB target groups, routing
		// configuration), so BackendTLSVerify stays unset and mapping
		// says so on each BackendTLSPolicy. It presents no client
		// certificate to targets either: BackendClientCertificate unset.
		BackendTLS: true,
		// 100 rules per ALB, less the catch-all 404 of each VirtualHost.
		MaxRulesPerListener: maxRulesPerALB - defaultRuleReserve,
		// 5 values per rule: one goes to the host, and a Prefix path
		// takes two ("/a" and "/a/*") where the model counts one.
		MaxConditionValuesPerRule: maxConditionValues - 2,
		// ALB rules and NLB listeners alike forward to at most 5.
		MaxTargetGroupsPerAction: maxGroupsPerAction,
		// ALB's quota is 25 certificates per load balancer, not counting
		// the default ones (ELB quotas page, "Certificates per Application
		// Load Balancer (excluding default certificates)"): one listener
		// serves at most 26; desired refuses more than 25 SNI ones in all.
		MaxCertificatesPerListener: maxSNICertificates + 1,
		// The quotas these limits derive from, which the parameters'
		// aws.quotas raise for an account with raised quotas.
		Quotas: lb.Quotas{RulesPerLoadBalancer: maxRulesPerALB, CertificatesPerLoadBalancer: maxSNICertificates},
		// What an unset field becomes, for describe (convert.go and
		// options.go apply them).
		ParameterDefaults: map[string]string{
			"scheme":                  string(lb.SchemeInternetFacing),
			"ipAddressType":           "ipv4",
			"idleTimeout":             albAttributeDefaults["idle_timeout.timeout_seconds"] + "s",
			"deletionProtection":      albAttributeDefaults["deletion_protection.enabled"],
			"aws.sslPolicy":           defaultSSLPolicy,
			"aws.targetType":          "ip",
			"aws.deregistrationDelay": groupAttributeDefaults["deregistration_delay.timeout_seconds"] + "s",
			"aws.sourceRanges":        "0.0.0.0/0 (and ::/0 when dualstack)",
		},
	}
}

// Plan implements providers.Provider: it reads, never writes.
func (p *Provider) Plan(ctx context.Context, m *lb.LoadBalancer) (providers.Plan, error) {
	cs, _, err := p.plan(ctx, m)
	if err != nil {
		return providers.Plan{}, err
	}
	return stepsOf(cs), nil
}

// Ensure implements providers.Provider.
func (p *Provider) Ensure(ctx context.Context, m *lb.LoadBalancer) (providers.Result, error) {
	cs, a, err := p.plan(ctx, m)
	if err != nil {
		return providers.Result{}, err
	}
	applied, err := a.run(ctx, cs)
	if err != nil {
		return providers.Result{Applied: applied}, err
	}
	// A new load balancer is "provisioning" in the create's answer: read
	// its state once more rather than report it not ready until the next
	// resync (one call for the ALB and the NLB).
	byARN := map[string]*loadBalancer{}
	for _, l := range []*loadBalancer{a.lb, a.nlb} {
		if l != nil && l.State != "active" && len(m.Listeners) > 0 {
			byARN[l.ARN] = l
		}
	}
	if len(byARN) > 0 {
		out, err := p.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: slices.Sorted(maps.Keys(byARN))})
		if err != nil {
			return providers.Result{Applied: applied}, classify(err, "DescribeLoadBalancers", "")
		}
		for _, got := range out.LoadBalancers {
			if l := byARN[awssdk.ToString(got.LoadBalancerArn)]; l != nil && got.State != nil {
				l.State = string(got.State.Code)
			}
		}
	}
	return providers.Result{Status: status(m, a), Applied: applied}, nil
}

// Delete implements providers.Provider: the plan against the empty model.
func (p *Provider) Delete(ctx context.Context, o lb.Owner) error {
	cs, a, err := p.plan(ctx, &lb.LoadBalancer{Owner: o})
	if err != nil {
		return err
	}
	_, err = a.run(ctx, cs)
	return err
}

func (p *Provider) plan(ctx context.Context, m *lb.LoadBalancer) ([]*change, *applier, error) {
	empty := len(m.Listeners) == 0 && len(m.TargetGroups) == 0
	var subnets []string
	if !empty {
		if err := m.Validate(); err != nil {
			return nil, nil, &providers.InvalidError{Message: err.Error(), Cause: err}
		}
		if err := checkTags(m); err != nil {
			return nil, nil, err
		}
		if subnets = optionSubnets(m.Options); subnets == nil {
			var err error
			if subnets, err = p.subnetsFor(ctx, m.Options.Scheme); err != nil {
				return nil, nil, err
			}
		}
	}
	want, err := p.desired(m, subnets)
	if err != nil {
		return nil, nil, err
	}
	have, err := p.observe(ctx, m.Owner)
	if err != nil {
		return nil, nil, err
	}
	if err := p.withElasticIPs(ctx, m, want, have); err != nil {
		return nil, nil, err
	}
	trimObserved(want, have)
	cs := plan(want, have)
	if err := p.checkNames(ctx, cs, want); err != nil {
		return nil, nil, err
	}
	a := &applier{p: p, lb: have.LB, want: want, listeners: map[string]string{}, groups: map[string]string{}, certs: map[string]string{}}
	for arn, logical := range servedCertificates(have.Certs) {
		a.certs[logical] = arn
	}
	if have.Security != nil && have.Security.Owned != nil {
		a.sg = have.Security.Owned.ID
	}
	if have.LB != nil && want.LB != nil && want.LB.Name == have.LB.Name {
		for _, l := range have.Listeners {
			a.listeners[l.Logical] = l.ARN
		}
	}
	a.adoptNLB(want, have)
	for _, g := range have.Groups {
		a.groups[g.Name] = g.ARN
	}
	if len(want.Groups) > 0 {
		if a.vpcID, err = p.vpc(ctx, subnets); err != nil {
			return nil, nil, err
		}
	}
	return cs, a, nil
}

// checkNames refuses, before any write, to create over a load balancer or
// target group that holds our name without our tags: ELBv2 would return
// the existing one (its create calls are idempotent by name), and we would
// take over what is not ours.
func (p *Provider) checkNames(ctx context.Context, cs []*change, want *state) error {
	for _, c := range cs {
		if c.step.Action != providers.ActionCreate && c.step.Action != providers.ActionRecreate {
			continue
		}
		switch c.step.Kind {
		case providers.KindLoadBalancer:
			if c.step.Action == providers.ActionRecreate {
				continue // the old one is ours, found by tag
			}
			lbName := want.LB
			if c.step.LogicalID == logicalNLB {
				lbName = want.NLB
			}
			out, err := p.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{lbName.Name}})
			if err == nil {
				if err := p.ownedSinceScan(ctx, out.LoadBalancers[0].LoadBalancerArn, lbName.Tags); err != nil {
					return err
				}
				return &providers.InvalidError{Message: fmt.Sprintf("load balancer name %q is held by a load balancer without Cloudgate's tags for this Gateway", lbName.Name)}
			}
			if !isCode(err, "LoadBalancerNotFound") {
				return classify(err, "DescribeLoadBalancers", "")
			}
		case providers.KindTargetGroup:
			for _, g := range want.Groups {
				if g.Logical != c.step.LogicalID {
					continue
				}
				out, err := p.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{g.Name}})
				if err == nil {
					if err := p.ownedSinceScan(ctx, out.TargetGroups[0].TargetGroupArn, g.Tags); err != nil {
						return err
					}
					return &providers.InvalidError{Elements: []string{g.Logical},
						Message: fmt.Sprintf("target group name %q is held by a target group without Cloudgate's tags for this Gateway", g.Name)}
				}
				if !isCode(err, "TargetGroupNotFound") {
					return classify(err, "DescribeTargetGroups", "")
				}
			}
		}
	}
	return nil
}

// ownedSinceScan is checkNames' answer for a resource that holds our name:
// when its tags are ours (want's ownership tags), it was made after the
// region scan the plan used (by another process, such as a previous leader),
// so the scan is dropped and a transient error makes the reconcile read
// again. Otherwise it returns nil: the name is held by someone else.
func (p *Provider) ownedSinceScan(ctx context.Context, arn *string, want map[string]string) error {
	tags, err := p.tagsOf(ctx, []string{awssdk.ToString(arn)})
	if err != nil {
		return err
	}
	t := tags[awssdk.ToString(arn)]
	if t[lb.TagCluster] == "" || t[lb.TagCluster] != want[lb.TagCluster] || t[lb.TagGatewayUID] != want[lb.TagGatewayUID] {
		return nil
	}
	p.inv.invalidate()
	return fmt.Errorf("%s carries this Gateway's tags but was not in the region scan; reading again", awssdk.ToString(arn))
}

// subnetsFor returns the configured subnets of scheme, or discovers them
// once by the Kubernetes role tags.
func (p *Provider) subnetsFor(ctx context.Context, scheme lb.Scheme) ([]string, error) {
	if scheme == "" {
		scheme = lb.SchemeInternetFacing
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.subnets[string(scheme)]; len(s) > 0 {
		return s, nil
	}
	role := "kubernetes.io/role/elb"
	if scheme == lb.SchemeInternal {
		role = "kubernetes.io/role/internal-elb"
	}
	filters := []ec2types.Filter{{Name: awssdk.String("tag:" + role), Values: []string{"1", ""}}}
	if p.vpcID != "" {
		filters = append(filters, ec2types.Filter{Name: awssdk.String("vpc-id"), Values: []string{p.vpcID}})
	}
	if p.cfg.ClusterName != "" {
		filters = append(filters, ec2types.Filter{Name: awssdk.String("tag-key"), Values: []string{"kubernetes.io/cluster/" + p.cfg.ClusterName}})
	}
	out, err := p.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: filters})
	if err != nil {
		return nil, classify(err, "DescribeSubnets", "")
	}
	var ids []string
	for _, s := range out.Subnets {
		ids = append(ids, awssdk.ToString(s.SubnetId))
		if p.vpcID == "" {
			p.vpcID = awssdk.ToString(s.VpcId)
		}
	}
	if len(ids) < 2 {
		return nil, &providers.InvalidError{Message: fmt.Sprintf("an ALB needs subnets in two zones; found %d tagged %s=1 (and kubernetes.io/cluster/%s)", len(ids), role, p.cfg.ClusterName)}
	}
	slices.Sort(ids)
	p.subnets[string(scheme)] = ids
	return ids, nil
}

func (p *Provider) vpc(ctx context.Context, subnets []string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.vpcID != "" {
		return p.vpcID, nil
	}
	out, err := p.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: subnets})
	if err != nil {
		return "", classify(err, "DescribeSubnets", "")
	}
	if len(out.Subnets) == 0 {
		return "", errors.New("no subnets to take the VPC from")
	}
	p.vpcID = awssdk.ToString(out.Subnets[0].VpcId)
	return p.vpcID, nil
}

// status is the load balancers after the plan: their DNS names (the
// ALB's first), and every listener of the model in place on its own.
func status(m *lb.LoadBalancer, a *applier) lb.Status {
	st := lb.Status{Listeners: map[string]lb.ListenerStatus{}}
	var lbs []*loadBalancer
	if a.want.LB != nil {
		lbs = append(lbs, a.lb)
	}
	if a.want.NLB != nil {
		lbs = append(lbs, a.nlb)
	}
	if len(lbs) == 0 {
		return st
	}
	ready := true
	for _, l := range lbs {
		if l == nil {
			ready = false
			continue
		}
		switch {
		case l == a.nlb && a.want.NLB != nil && len(a.want.NLB.staticIPs) > 0:
			// The Elastic IPs the Gateway requested, as it lists them.
			for _, ip := range a.want.NLB.staticIPs {
				st.Addresses = append(st.Addresses, lb.Address{Type: lb.AddressIP, Value: ip})
			}
		case l.DNSName != "":
			st.Addresses = append(st.Addresses, lb.Address{Type: lb.AddressHostname, Value: l.DNSName})
		}
		ready = ready && l.DNSName != "" && (l.State == "" || l.State == "active")
	}
	serves := servedBy(a.want)
	for _, l := range m.Listeners {
		_, ok := a.listeners[serves[l.Name]]
		st.Listeners[l.Name] = lb.ListenerStatus{Ready: ok}
		ready = ready && ok
	}
	st.Ready = ready
	if !ready {
		st.Message = "provisioning"
	}
	st.Notes = splitNotes(a.want)
	return st
}

// The drift resync's read budget. ELBv2 refills an account's bucket for
// Describe calls at 10 per second per region (the ELB API throttling page;
// 40 at most in a burst), shared with every other tool and console of the
// account. A resync of one Gateway costs about readsPerResync calls
// (measured on moto for a Gateway with one or two listeners and target
// groups: 7 to 11, besides the region scan shared by all Gateways for a
// minute, see inventory.go; plus DescribeLoadBalancerAttributes and one
// DescribeTargetGroupAttributes per group for the parameters' attributes,
// options.go: 9 to 14), so resyncing N Gateways in period P costs
// N*readsPerResync/P calls per second; resyncBudget keeps that at a fifth
// of the refill rate.
const (
	readsPerResync = 13
	resyncBudget   = 2 // Describe calls per second
	minResync      = 10 * time.Minute
)

// DefaultResyncPeriod is how often the reconciler reads a Gateway's load
// balancers again to repair drift when --resync-period is 0: 10 minutes up
// to 92 Gateways, then longer in proportion (about 108 minutes for 1,000
// Gateways), so that resyncs take at most resyncBudget Describe calls per
// second. The Gateways counted are those the last region scan found.
func (p *Provider) DefaultResyncPeriod() time.Duration {
	p.inv.mu.Lock()
	n := p.inv.gateways
	p.inv.mu.Unlock()
	return resyncPeriodFor(n)
}

// resyncPeriodFor is the period that spends resyncBudget on n Gateways.
func resyncPeriodFor(n int) time.Duration {
	return max(minResync, time.Duration(n*readsPerResync/resyncBudget)*time.Second)
}
