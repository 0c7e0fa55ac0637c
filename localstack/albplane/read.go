package albplane

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// reader turns what the ELBv2 and ACM APIs describe into a table.
type reader struct {
	elb  *elbv2.Client
	acm  *acm.Client
	keys *keys

	mu    sync.Mutex
	certs map[string]*tls.Certificate // by ARN and sha256 of ACM's PEM
	// Balancing state carried over from one read to the next, so that a
	// poll does not restart round robins: by group ARN, and by the
	// action's owner and its groups and weights.
	rr           map[string]*atomic.Uint64
	wrr, nextWRR map[string]*wrrState
}

// counter returns a group's carried-over round robin (read is never concurrent with
// itself: Plane.Sync serializes).
func (rd *reader) counter(arn string) *atomic.Uint64 {
	if c, ok := rd.rr[arn]; ok {
		return c
	}
	c := new(atomic.Uint64)
	rd.rr[arn] = c
	return c
}

func (rd *reader) balance(owner string, a *action) {
	key := owner
	for _, w := range a.Forward {
		key += fmt.Sprintf("\x00%s=%d", w.Group.ARN, w.Weight)
	}
	s, ok := rd.wrr[key]
	if !ok {
		s = a.wrr
	}
	rd.nextWRR[key] = s
	a.wrr = s
}

// read describes every load balancer with its listeners, rules, target
// groups and targets. Problems that concern one element (a certificate
// without a key, a regex that does not compile) leave that element out and
// are returned joined, with the table; an API failure returns no table.
func (rd *reader) read(ctx context.Context) (*table, error) {
	t := &table{byDNS: map[string]*balancer{}, byARN: map[string]*balancer{}}
	if rd.rr == nil {
		rd.rr = map[string]*atomic.Uint64{}
	}
	rd.nextWRR = map[string]*wrrState{}
	defer func() { rd.wrr = rd.nextWRR }()
	var lbs []elbtypes.LoadBalancer
	for pg := elbv2.NewDescribeLoadBalancersPaginator(rd.elb, &elbv2.DescribeLoadBalancersInput{}); pg.HasMorePages(); {
		out, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("albplane: DescribeLoadBalancers: %w", err)
		}
		lbs = append(lbs, out.LoadBalancers...)
	}
	groups, err := rd.groups(ctx)
	if err != nil {
		return nil, err
	}
	var problems []error
	for _, l := range lbs {
		b := &balancer{ARN: aws.ToString(l.LoadBalancerArn), DNSName: strings.ToLower(aws.ToString(l.DNSName)),
			Type: string(l.Type), Listeners: map[int32]*listener{}}
		var ls []elbtypes.Listener
		for pg := elbv2.NewDescribeListenersPaginator(rd.elb, &elbv2.DescribeListenersInput{LoadBalancerArn: l.LoadBalancerArn}); pg.HasMorePages(); {
			out, err := pg.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("albplane: DescribeListeners: %w", err)
			}
			ls = append(ls, out.Listeners...)
		}
		for _, x := range ls {
			li, err := rd.listener(ctx, x, groups)
			if err != nil {
				return nil, err
			}
			for _, m := range li.Missing {
				problems = append(problems, fmt.Errorf("listener %s: %s", aws.ToString(x.ListenerArn), m))
			}
			b.Listeners[li.Port] = li
		}
		t.byARN[b.ARN] = b
		if b.DNSName != "" {
			t.byDNS[b.DNSName] = b
		}
	}
	return t, errors.Join(problems...)
}

// groups reads every target group and its registered targets.
func (rd *reader) groups(ctx context.Context) (map[string]*group, error) {
	out := map[string]*group{}
	for pg := elbv2.NewDescribeTargetGroupsPaginator(rd.elb, &elbv2.DescribeTargetGroupsInput{}); pg.HasMorePages(); {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("albplane: DescribeTargetGroups: %w", err)
		}
		for _, g := range page.TargetGroups {
			arn := aws.ToString(g.TargetGroupArn)
			h, err := rd.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: g.TargetGroupArn})
			if err != nil {
				return nil, fmt.Errorf("albplane: DescribeTargetHealth %s: %w", arn, err)
			}
			out[arn] = &group{ARN: arn, Name: aws.ToString(g.TargetGroupName), Protocol: string(g.Protocol),
				ProtocolVersion: aws.ToString(g.ProtocolVersion), Targets: eligible(h.TargetHealthDescriptions, aws.ToInt32(g.Port)),
				next: rd.counter(arn)}
		}
	}
	return out, nil
}

// eligible are the targets a request may go to. "Health checks for
// Application Load Balancer target groups"
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html):
// requests go to healthy targets, and "If a target group contains only
// unhealthy registered targets, the load balancer routes requests to all
// those targets, regardless of their health status" (fail open). The plane
// runs no health checks of its own: the states are the API's (moto reports
// every registered target healthy). Draining, unused and unavailable
// targets get nothing.
func eligible(ds []elbtypes.TargetHealthDescription, groupPort int32) []string {
	var healthy, rest []string
	for _, d := range ds {
		if d.Target == nil {
			continue
		}
		port := groupPort
		if d.Target.Port != nil {
			port = *d.Target.Port
		}
		addr := net.JoinHostPort(aws.ToString(d.Target.Id), strconv.Itoa(int(port)))
		state := elbtypes.TargetHealthStateEnum("")
		if d.TargetHealth != nil {
			state = d.TargetHealth.State
		}
		switch state {
		case elbtypes.TargetHealthStateEnumHealthy:
			healthy = append(healthy, addr)
		case elbtypes.TargetHealthStateEnumUnhealthy, elbtypes.TargetHealthStateEnumInitial, elbtypes.TargetHealthStateEnumUnhealthyDraining:
			rest = append(rest, addr)
		}
	}
	if len(healthy) > 0 {
		slices.Sort(healthy)
		return healthy
	}
	slices.Sort(rest)
	return rest
}

func (rd *reader) listener(ctx context.Context, x elbtypes.Listener, groups map[string]*group) (*listener, error) {
	li := &listener{ARN: aws.ToString(x.ListenerArn), Port: aws.ToInt32(x.Port), Protocol: string(x.Protocol)}
	switch x.Protocol {
	case elbtypes.ProtocolEnumHttps, elbtypes.ProtocolEnumTls:
		if err := rd.listenerCerts(ctx, x, li); err != nil {
			return nil, err
		}
	}
	def, err := convertActions(x.DefaultActions, groups)
	if err != nil {
		li.Missing = append(li.Missing, "default action: "+err.Error())
	} else if def.Type == "forward" {
		rd.balance(li.ARN, def)
	}
	li.Default = def
	switch x.Protocol {
	case elbtypes.ProtocolEnumHttp, elbtypes.ProtocolEnumHttps:
	default:
		return li, nil // an NLB's listener has no rules
	}
	var rules []elbtypes.Rule
	in := &elbv2.DescribeRulesInput{ListenerArn: x.ListenerArn}
	for {
		out, err := rd.elb.DescribeRules(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("albplane: DescribeRules %s: %w", li.ARN, err)
		}
		rules = append(rules, out.Rules...)
		if aws.ToString(out.NextMarker) == "" {
			break
		}
		in.Marker = out.NextMarker
	}
	// "Listener rules for your Application Load Balancer"
	// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-rules.html):
	// rules are evaluated in priority order, from the lowest value to the
	// highest, and the default rule last.
	sortRules(rules)
	for _, r := range rules {
		cr, err := convertRule(r, groups)
		if err != nil {
			li.Missing = append(li.Missing, fmt.Sprintf("rule %s: %v (left out)", aws.ToString(r.RuleArn), err))
			continue
		}
		if cr.Action.Type == "forward" {
			rd.balance(aws.ToString(r.RuleArn), cr.Action)
		}
		li.Rules = append(li.Rules, cr)
	}
	if n := len(rules); (n == 0 || !aws.ToBool(rules[n-1].IsDefault)) && li.Default != nil {
		// An API that lists no default rule: the listener's default
		// actions are that rule's.
		li.Rules = append(li.Rules, &rule{Priority: "default", Action: li.Default})
	}
	return li, nil
}

func sortRules(rules []elbtypes.Rule) {
	slices.SortStableFunc(rules, func(a, b elbtypes.Rule) int { return cmp.Compare(rulePriority(a), rulePriority(b)) })
}

// rulePriority orders the default rule after every other.
func rulePriority(r elbtypes.Rule) int {
	if aws.ToBool(r.IsDefault) || aws.ToString(r.Priority) == "default" {
		return int(^uint(0) >> 1)
	}
	n, err := strconv.Atoi(aws.ToString(r.Priority))
	if err != nil {
		return int(^uint(0) >> 1)
	}
	return n
}

// listenerCerts: the listener's default certificate (DescribeListeners)
// and its certificate list (DescribeListenerCertificates, where the
// default may appear again with IsDefault set).
func (rd *reader) listenerCerts(ctx context.Context, x elbtypes.Listener, li *listener) error {
	var arns []string
	for _, c := range x.Certificates {
		if a := aws.ToString(c.CertificateArn); a != "" && !slices.Contains(arns, a) {
			arns = append(arns, a)
		}
	}
	in := &elbv2.DescribeListenerCertificatesInput{ListenerArn: x.ListenerArn}
	for {
		out, err := rd.elb.DescribeListenerCertificates(ctx, in)
		if err != nil {
			return fmt.Errorf("albplane: DescribeListenerCertificates %s: %w", li.ARN, err)
		}
		for _, c := range out.Certificates {
			a := aws.ToString(c.CertificateArn)
			switch {
			case a == "" || slices.Contains(arns, a):
			case aws.ToBool(c.IsDefault):
				arns = slices.Insert(arns, 0, a)
			default:
				arns = append(arns, a)
			}
		}
		if aws.ToString(out.NextMarker) == "" {
			break
		}
		in.Marker = out.NextMarker
	}
	for _, arn := range arns {
		c, err := rd.cert(ctx, arn)
		if err != nil {
			li.Missing = append(li.Missing, fmt.Sprintf("certificate %s: %v", arn, err))
			continue
		}
		li.Certs = append(li.Certs, c)
	}
	return nil
}

// cert reads an ACM certificate and pairs it with its key.
func (rd *reader) cert(ctx context.Context, arn string) (*tls.Certificate, error) {
	out, err := rd.acm.GetCertificate(ctx, &acm.GetCertificateInput{CertificateArn: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("GetCertificate: %w", err)
	}
	chain := aws.ToString(out.Certificate) + "\n" + aws.ToString(out.CertificateChain)
	sum := sha256.Sum256([]byte(chain))
	key := arn + "\x00" + string(sum[:])
	rd.mu.Lock()
	c, ok := rd.certs[key]
	rd.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err = rd.keys.certificate(chain)
	if err != nil {
		return nil, err
	}
	rd.mu.Lock()
	if rd.certs == nil {
		rd.certs = map[string]*tls.Certificate{}
	}
	rd.certs[key] = c
	rd.mu.Unlock()
	return c, nil
}

func convertRule(r elbtypes.Rule, groups map[string]*group) (*rule, error) {
	out := &rule{Priority: aws.ToString(r.Priority)}
	for _, c := range r.Conditions {
		cc, err := convertCondition(c)
		if err != nil {
			return nil, err
		}
		out.Conditions = append(out.Conditions, cc)
	}
	a, err := convertActions(r.Actions, groups)
	if err != nil {
		return nil, err
	}
	out.Action = a
	for _, t := range r.Transforms {
		var rws []elbtypes.RewriteConfig
		switch t.Type {
		case elbtypes.TransformTypeEnumHostHeaderRewrite:
			if t.HostHeaderRewriteConfig != nil {
				rws = t.HostHeaderRewriteConfig.Rewrites
			}
		case elbtypes.TransformTypeEnumUrlRewrite:
			if t.UrlRewriteConfig != nil {
				rws = t.UrlRewriteConfig.Rewrites
			}
		default:
			return nil, fmt.Errorf("transform type %q is not one ALB has", t.Type)
		}
		for _, rw := range rws {
			re, err := regexp.Compile(aws.ToString(rw.Regex))
			if err != nil {
				return nil, fmt.Errorf("transform %s: %w", t.Type, err)
			}
			out.Transforms = append(out.Transforms, transform{Type: string(t.Type), Regex: re, Replace: aws.ToString(rw.Replace)})
		}
	}
	return out, nil
}

func convertCondition(c elbtypes.RuleCondition) (condition, error) {
	out := condition{Field: aws.ToString(c.Field)}
	var regex []string
	// The condition's own Values and RegexValues are the older form of the
	// per-field configs; ELBv2 returns both.
	out.Values = append(out.Values, c.Values...)
	regex = append(regex, c.RegexValues...)
	switch out.Field {
	case "host-header":
		if h := c.HostHeaderConfig; h != nil {
			out.Values = append(out.Values, h.Values...)
			regex = append(regex, h.RegexValues...)
		}
	case "path-pattern":
		if p := c.PathPatternConfig; p != nil {
			out.Values = append(out.Values, p.Values...)
			regex = append(regex, p.RegexValues...)
		}
	case "http-header":
		if h := c.HttpHeaderConfig; h != nil {
			out.Header = aws.ToString(h.HttpHeaderName)
			out.Values = append(out.Values, h.Values...)
			regex = append(regex, h.RegexValues...)
		}
	case "http-request-method":
		if m := c.HttpRequestMethodConfig; m != nil {
			out.Values = append(out.Values, m.Values...)
		}
	case "query-string":
		if q := c.QueryStringConfig; q != nil {
			for _, kv := range q.Values {
				out.Query = append(out.Query, queryPair{Key: aws.ToString(kv.Key), Value: aws.ToString(kv.Value)})
			}
		}
		out.Values = nil
	case "source-ip":
		vs := out.Values
		if s := c.SourceIpConfig; s != nil {
			vs = append(vs, s.Values...)
		}
		out.Values = nil
		for _, v := range vs {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				return out, fmt.Errorf("source-ip %q: %w", v, err)
			}
			out.CIDRs = append(out.CIDRs, p.Masked())
		}
	default:
		return out, fmt.Errorf("condition field %q is not one ALB has", out.Field)
	}
	out.Values = slices.Compact(out.Values)
	for _, s := range slices.Compact(regex) {
		re, err := regexp.Compile(s)
		if err != nil {
			return out, fmt.Errorf("%s regex %q: %w", out.Field, s, err)
		}
		out.Regex = append(out.Regex, re)
	}
	return out, nil
}

// convertActions takes the rule's last action, the one that answers
// (ALB's authenticate actions come before it; the provider writes none).
func convertActions(as []elbtypes.Action, groups map[string]*group) (*action, error) {
	if len(as) == 0 {
		return nil, errors.New("no action")
	}
	slices.SortStableFunc(as, func(a, b elbtypes.Action) int { return int(aws.ToInt32(a.Order)) - int(aws.ToInt32(b.Order)) })
	a := as[len(as)-1]
	out := &action{Type: string(a.Type), wrr: &wrrState{}}
	switch a.Type {
	case elbtypes.ActionTypeEnumForward:
		var tuples []elbtypes.TargetGroupTuple
		if a.ForwardConfig != nil {
			tuples = a.ForwardConfig.TargetGroups
		}
		if len(tuples) == 0 && a.TargetGroupArn != nil {
			tuples = []elbtypes.TargetGroupTuple{{TargetGroupArn: a.TargetGroupArn, Weight: aws.Int32(1)}}
		}
		for _, tg := range tuples {
			g, ok := groups[aws.ToString(tg.TargetGroupArn)]
			if !ok {
				return nil, fmt.Errorf("forward to unknown target group %s", aws.ToString(tg.TargetGroupArn))
			}
			// "Rule action types": a weight is 0 to 999; one group alone
			// takes every request whatever its weight.
			w := int32(1)
			if tg.Weight != nil && len(tuples) > 1 {
				w = *tg.Weight
			}
			out.Forward = append(out.Forward, weighted{Group: g, Weight: w})
		}
		out.wrr.current = make([]int64, len(out.Forward))
	case elbtypes.ActionTypeEnumFixedResponse:
		f := a.FixedResponseConfig
		if f == nil {
			return nil, errors.New("fixed-response without a configuration")
		}
		code, err := strconv.Atoi(aws.ToString(f.StatusCode))
		if err != nil {
			return nil, fmt.Errorf("fixed-response status %q: %w", aws.ToString(f.StatusCode), err)
		}
		out.Fixed = fixed{Status: code, ContentType: aws.ToString(f.ContentType), Body: aws.ToString(f.MessageBody)}
	case elbtypes.ActionTypeEnumRedirect:
		rc := a.RedirectConfig
		if rc == nil {
			return nil, errors.New("redirect without a configuration")
		}
		status := 302
		if rc.StatusCode == elbtypes.RedirectActionStatusCodeEnumHttp301 {
			status = 301
		}
		// "Any components that you do not modify retain their original
		// values" (RedirectActionConfig).
		or := func(p *string, def string) string {
			if v := aws.ToString(p); v != "" {
				return v
			}
			return def
		}
		out.Redirect = redirect{Status: status, Protocol: or(rc.Protocol, "#{protocol}"), Host: or(rc.Host, "#{host}"),
			Port: or(rc.Port, "#{port}"), Path: or(rc.Path, "/#{path}"), Query: or(rc.Query, "#{query}")}
	default:
		return nil, fmt.Errorf("action type %s is not served by albplane", a.Type)
	}
	return out, nil
}
