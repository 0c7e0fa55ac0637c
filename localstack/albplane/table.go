package albplane

import (
	"crypto/tls"
	"net/netip"
	"regexp"
	"sync"
	"sync/atomic"
)

// The routing table: what Sync read, in the form requests are served
// from. A table is never changed once published; Sync builds a new one.

type table struct {
	byDNS map[string]*balancer // by lower-case DNS name
	byARN map[string]*balancer
}

// balancer is one load balancer.
type balancer struct {
	ARN       string
	DNSName   string
	Type      string // application or network
	Listeners map[int32]*listener
}

// listener is one listener with its rules.
type listener struct {
	ARN      string
	Port     int32
	Protocol string // HTTP, HTTPS, TCP, TLS, UDP, TCP_UDP
	// Rules in evaluation order: by priority, the default rule last.
	Rules []*rule
	// Certs: the default certificate first, then the certificate list.
	// A certificate whose key the plane lacks is left out and named in
	// Missing.
	Certs   []*tls.Certificate
	Missing []string
	// Default is the default action of an NLB listener (the forward).
	Default *action
}

// rule is a listener rule: all conditions must hold.
type rule struct {
	Priority   string // "default" for the default rule
	Conditions []condition
	Action     *action
	Transforms []transform
}

// condition is one rule condition; its values are ORed.
type condition struct {
	Field string // host-header, path-pattern, http-header, query-string, http-request-method, source-ip
	// Header is the http-header condition's name.
	Header string
	// Values are literal strings with wildcards (host, path, header),
	// methods, or query key/value pairs (Query).
	Values []string
	Query  []queryPair
	Regex  []*regexp.Regexp
	CIDRs  []netip.Prefix
}

type queryPair struct {
	Key   string // "" matches any key
	Value string
}

// action is what a rule does.
type action struct {
	Type     string // forward, fixed-response, redirect
	Forward  []weighted
	Fixed    fixed
	Redirect redirect
	// wrr is pickGroup's state, kept across Syncs while the rule's
	// groups and weights stay the same.
	wrr *wrrState
}

type weighted struct {
	Group  *group
	Weight int32
}

type fixed struct {
	Status      int
	ContentType string
	Body        string
}

type redirect struct {
	Status                            int
	Protocol, Host, Port, Path, Query string
}

type transform struct {
	Type    string // host-header-rewrite, url-rewrite
	Regex   *regexp.Regexp
	Replace string
}

// group is a target group.
type group struct {
	ARN             string
	Name            string
	Protocol        string // HTTP, HTTPS, TCP, TLS, UDP, TCP_UDP
	ProtocolVersion string // HTTP1, HTTP2, GRPC (ALB groups)
	// Targets are the ones a request may go to ("ip:port").
	Targets []string
	next    *atomic.Uint64
}

// pick returns the next target, round robin (ALB's default algorithm);
// false when there is none.
func (g *group) pick() (string, bool) {
	if len(g.Targets) == 0 {
		return "", false
	}
	n := g.next.Add(1) - 1
	return g.Targets[n%uint64(len(g.Targets))], true
}

// pickGroup chooses a group of a weighted forward in proportion to the
// weights (smooth weighted round robin): over each cycle of sum(weights)
// requests every group gets exactly its weight, interleaved, so a test
// can count. Groups of weight 0 get nothing; nil when all weigh 0.
func (a *action) pickGroup() *group {
	a.wrr.mu.Lock()
	defer a.wrr.mu.Unlock()
	current := a.wrr.current
	var total int64
	best := -1
	for i, w := range a.Forward {
		if w.Weight <= 0 {
			continue
		}
		total += int64(w.Weight)
		current[i] += int64(w.Weight)
		if best < 0 || current[i] > current[best] {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	current[best] -= total
	return a.Forward[best].Group
}

type wrrState struct {
	mu      sync.Mutex
	current []int64
}
