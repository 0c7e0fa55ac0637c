package dataplane

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// Spec is what the data plane of one load balancer must serve.
type Spec struct {
	Listeners    []lb.Listener
	TargetGroups []lb.TargetGroup
	Emulated     *lb.EmulatedOptions
	// IdleTimeout closes a TCP or TLS connection, or ends a UDP session, that
	// carried no bytes for this long; zero means the data plane's defaults
	// (defaultTCPIdle, defaultUDPIdle). HTTP keep-alive has its own limit.
	IdleTimeout time.Duration
}

// Compiled is a validated, immutable form of a Spec, ready to be applied to a
// Server. It may be applied to several Servers.
type Compiled struct {
	// tables by port, sorted by port.
	tables []*table
	// groups are the compiled target groups by name: with the tables'
	// rules, what Recompile reuses.
	groups map[string]*group
}

// Unchanged says which parts of a Spec are the same as in the Spec an
// earlier Compiled came from (Recompile).
type Unchanged struct {
	// Rules are, by listener name, the runs of rules whose lb.Rule is as
	// it was, in the order of the spec's virtual hosts and rules: a
	// change to one rule of thousands names two runs, not thousands of
	// rules.
	Rules map[string][]Run
	// TargetGroups are the names of the target groups that are as they were.
	TargetGroups map[string]bool
}

// Run says that Len rules of a listener's virtual host Host, from its rule
// At on, are the rules of the same listener's virtual host PrevHost in the
// earlier spec, from its rule PrevAt on, unchanged. Hosts and rules count
// by their index in their spec.
type Run struct {
	Host, At, PrevHost, PrevAt, Len int
}

// Ports returns the compiled listener ports in ascending order.
func (c *Compiled) Ports() []int32 {
	ports := make([]int32, len(c.tables))
	for i, t := range c.tables {
		ports[i] = t.port
	}
	return ports
}

// table is the routing table of one listener. It is swapped whole through an
// atomic pointer, so every field is read-only after compile.
type table struct {
	name     string
	port     int32
	protocol lb.Protocol
	hosts    hostTable[*vhost]
	// vhosts are the virtual hosts in the spec's order, for Recompile.
	vhosts []*vhost
	// firstCert is the listener's fallback certificate for a TLS hello that
	// matches no virtual host and no catch-all.
	firstCert *tls.Certificate
	// clientTLS is an HTTPS listener's TLS configuration when it asks
	// clients for certificates (lb.Listener.ClientValidation); nil uses
	// the port's own, which asks for none.
	clientTLS       *tls.Config
	responseHeaders [][2]string
	// streams routes a TCP, UDP or TLS listener's connections; nil for HTTP
	// and HTTPS (stream.go).
	streams *streamTable
}

type vhost struct {
	hostname string
	certs    []*tls.Certificate
	rules    []rule
}

type rule struct {
	name    string
	host    string // "" (any), exact, or "*.suffix"
	path    *pathMatcher
	method  string
	headers []valueMatcher
	query   []valueMatcher
	action  action
}

type pathMatcher struct {
	typ   lb.MatchType
	value string // Exact: the path; Prefix: the prefix without a trailing slash
	re    *regexp.Regexp
}

// valueMatcher compares a header (canonical name) or query parameter.
type valueMatcher struct {
	name  string
	value string
	re    *regexp.Regexp // nil for Exact
}

// action is a compiled lb.Action. Exactly one of status, redirect and
// backends is set.
type action struct {
	status   int // FixedResponse; 0 otherwise
	redirect *redirect
	backends []backend
	total    int64 // sum of weights
	// invalidStatus answers the share of invalid backends (and a pick of
	// nothing, when every weight is zero): lb.Action.InvalidBackendStatus,
	// 500 by default.
	invalidStatus int

	requestHeaders  *headerMod
	responseHeaders *headerMod
	rewrite         *rewrite
	mirrors         []mirror
	// Zero means no limit. backendTimeout is zero when requestTimeout
	// already bounds it. With a retry, backendTimeout bounds each attempt.
	requestTimeout time.Duration
	backendTimeout time.Duration
	retry          *retryPolicy   // nil: one attempt
	cors           *corsPolicy    // nil: no CORS handling
	session        *sessionPolicy // nil: no session persistence (sessions.go)
}

type backend struct {
	upTo  int64  // cumulative weight: picked when the random draw is below upTo
	group *group // nil: invalid backend reference, answered with the action's invalidStatus

	requestHeaders  *headerMod
	responseHeaders *headerMod
	// rewrite is the backend's own URL rewrite, whose fields win over the
	// action's for requests sent to this backend.
	rewrite *rewrite
}

// group is a compiled target group. next is the one mutable field: the
// round-robin position, shared by every rule that forwards to the group.
type group struct {
	name     string
	protocol lb.Protocol
	h2c      bool       // speak HTTP/2 with prior knowledge to the targets
	targets  []*url.URL // HTTP, HTTPS and H2C groups
	addrs    []string   // TCP and UDP groups: "ip:port"
	next     atomic.Uint64
	// tls, when set, is the client TLS to every target (lb.BackendTLS),
	// and tlsKey names it for the shared Transports (backendtls.go).
	tls    *tls.Config
	tlsKey string
	// broken marks a group Compile refused; it is never served.
	broken bool
}

// layer4 reports whether the group carries streams (TCP or UDP) rather than
// HTTP requests.
func (g *group) layer4() bool {
	return g.protocol == lb.ProtocolTCP || g.protocol == lb.ProtocolUDP
}

// hostTable selects the most specific entry for a hostname: exact names
// first, then wildcards by length (longest suffix first), then the catch-all.
type hostTable[T any] struct {
	exact    map[string]T
	wildcard []wildcardEntry[T]
	any      T
	hasAny   bool
}

type wildcardEntry[T any] struct {
	suffix string // ".example.com"
	value  T
}

func (h *hostTable[T]) add(hostname string, v T) error {
	switch {
	case hostname == "":
		if h.hasAny {
			return errors.New("duplicate catch-all virtual host")
		}
		h.any, h.hasAny = v, true
	case strings.HasPrefix(hostname, "*."):
		suffix := hostname[1:]
		for _, w := range h.wildcard {
			if w.suffix == suffix {
				return fmt.Errorf("duplicate virtual host %q", hostname)
			}
		}
		h.wildcard = append(h.wildcard, wildcardEntry[T]{suffix: suffix, value: v})
		// Stable so that equal lengths keep the model's order.
		slices.SortStableFunc(h.wildcard, func(a, b wildcardEntry[T]) int { return len(b.suffix) - len(a.suffix) })
	default:
		if h.exact == nil {
			h.exact = map[string]T{}
		}
		if _, dup := h.exact[hostname]; dup {
			return fmt.Errorf("duplicate virtual host %q", hostname)
		}
		h.exact[hostname] = v
	}
	return nil
}

func (h *hostTable[T]) lookup(host string) (T, bool) {
	if v, ok := h.exact[host]; ok {
		return v, true
	}
	for _, w := range h.wildcard {
		if len(host) > len(w.suffix) && strings.HasSuffix(host, w.suffix) {
			return w.value, true
		}
	}
	return h.any, h.hasAny
}

// hostMatches applies the model's hostname semantics: "" matches any host, a
// wildcard "*.example.com" matches one or more labels before ".example.com"
// (but not example.com itself), anything else must be equal.
func hostMatches(pattern, host string) bool {
	if pattern == "" {
		return true
	}
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		return len(host) > len(suffix) && strings.HasSuffix(host, suffix)
	}
	return pattern == host
}

// normalizeHost lowercases a hostname and drops a trailing dot, so that the
// model's names and request hosts compare equal.
func normalizeHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// Compile validates spec and builds its routing tables. The error lists every
// problem found, so one API call reports them all.
func Compile(spec Spec) (*Compiled, error) {
	return Recompile(nil, spec, Unchanged{})
}

// Recompile is Compile for a spec of which same names the parts that are as
// in the spec prev was compiled from: those parts are taken from prev, not
// compiled again, so a change to one rule of thousands compiles one rule.
// A kept rule is compiled again all the same when a target group it uses
// changed (it holds the compiled group). prev nil compiles everything.
func Recompile(prev *Compiled, spec Spec, same Unchanged) (*Compiled, error) {
	if prev == nil {
		same = Unchanged{}
	}
	var errs []error
	groups := make(map[string]*group, len(spec.TargetGroups))
	for _, tg := range spec.TargetGroups {
		if g, ok := prev.group(tg.Name); ok && same.TargetGroups[tg.Name] {
			groups[tg.Name] = g
			continue
		}
		g, err := compileGroup(tg)
		if err != nil {
			errs = append(errs, refuse(KindTargetGroup, tg.Name, err))
			// Kept, marked broken, so that the rules and streams that use
			// it are not blamed too: leaving out the group is enough.
			g.broken = true
		}
		if _, dup := groups[tg.Name]; dup {
			errs = append(errs, refuse(KindTargetGroup, tg.Name, errors.New("duplicate name")))
		}
		groups[tg.Name] = g
	}
	var headers [][2]string
	if spec.Emulated != nil {
		for k, v := range spec.Emulated.ResponseHeaders {
			if !validHeaderName(k) {
				errs = append(errs, fmt.Errorf("invalid response header name %q", k))
				continue
			}
			headers = append(headers, [2]string{http.CanonicalHeaderKey(k), v})
		}
		slices.SortFunc(headers, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	}
	c := &Compiled{groups: groups}
	ports := map[int32]bool{}
	for _, l := range spec.Listeners {
		if ports[l.Port] {
			errs = append(errs, refuse(KindListener, l.Name, fmt.Errorf("port %d already has a listener", l.Port)))
			continue
		}
		ports[l.Port] = true
		t, err := compileListener(l, groups, spec.IdleTimeout, prev.reuse(l.Name, same))
		if err != nil {
			errs = append(errs, refuse(KindListener, l.Name, err))
			continue
		}
		t.responseHeaders = headers
		c.tables = append(c.tables, t)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(c.tables, func(a, b *table) int { return int(a.port - b.port) })
	return c, nil
}

// validHeaderName is the model's own rule (lb.ValidHeaderName): whatever
// passes lb.Validate must compile here, and the data plane refuses no more.
func validHeaderName(k string) bool { return lb.ValidHeaderName(k) }

func compileGroup(tg lb.TargetGroup) (*group, error) {
	// Even a refused group comes back, so that Compile can keep its name.
	g := &group{name: tg.Name, protocol: tg.Protocol, h2c: tg.Protocol == lb.ProtocolH2C}
	scheme := "http"
	switch tg.Protocol {
	case "", lb.ProtocolHTTP, lb.ProtocolH2C, lb.ProtocolTCP, lb.ProtocolUDP:
	case lb.ProtocolHTTPS:
		scheme = "https"
	default:
		return g, fmt.Errorf("protocol %q is not supported by the emulated data plane", tg.Protocol)
	}
	if tg.TLS != nil {
		cfg, err := backendTLSConfig(tg.TLS, tg.Protocol)
		if err != nil {
			return g, fmt.Errorf("tls: %w", err)
		}
		g.tls, g.tlsKey, scheme = cfg, tlsKey(tg.TLS, tg.Protocol), "https"
	}
	for _, t := range tg.Targets {
		ip, err := netip.ParseAddr(t.IP)
		if err != nil || t.Port < 1 || t.Port > 65535 {
			return g, fmt.Errorf("invalid target %s:%d", t.IP, t.Port)
		}
		hostport := net.JoinHostPort(ip.String(), strconv.Itoa(int(t.Port)))
		if g.layer4() {
			g.addrs = append(g.addrs, hostport)
		} else {
			g.targets = append(g.targets, &url.URL{Scheme: scheme, Host: hostport})
		}
	}
	return g, nil
}

// reuse is what Recompile takes from c (nil: nothing) for listener: the
// compiled rules from index i of virtual host h of the new spec (whose
// rules are rules) on, as many in a row as same keeps with every group
// they use, shared with c (compileListener copies them). The runs are in
// the order in which compileListener asks, so a cursor walks them once.
func (c *Compiled) reuse(listener string, same Unchanged) func(h, i int, rules []lb.Rule) []rule {
	runs := same.Rules[listener]
	var prev *table
	if c != nil && len(runs) > 0 {
		for _, t := range c.tables {
			if t.name == listener {
				prev = t
			}
		}
	}
	k := 0
	return func(h, i int, rules []lb.Rule) []rule {
		if prev == nil {
			return nil
		}
		for k < len(runs) && (runs[k].Host < h || runs[k].Host == h && runs[k].At+runs[k].Len <= i) {
			k++
		}
		if k == len(runs) || runs[k].Host != h || i < runs[k].At {
			return nil
		}
		run := runs[k]
		ph, pi := run.PrevHost, run.PrevAt+i-run.At
		if ph < 0 || ph >= len(prev.vhosts) || pi < 0 {
			return nil
		}
		from := prev.vhosts[ph].rules
		n := 0
		// The names are checked all the same: a wrong run costs a
		// compile, never a wrong rule.
		for i+n < run.At+run.Len && i+n < len(rules) && pi+n < len(from) &&
			from[pi+n].name == rules[i+n].Name && groupsSame(&rules[i+n], same.TargetGroups) {
			n++
		}
		return from[pi : pi+n]
	}
}

// group returns the compiled group of that name (none when c is nil).
func (c *Compiled) group(name string) (*group, bool) {
	if c == nil {
		return nil, false
	}
	g, ok := c.groups[name]
	return g, ok
}

// groupsSame says whether every target group r uses is unchanged.
func groupsSame(r *lb.Rule, same map[string]bool) bool {
	for _, b := range r.Action.Forward {
		if b.TargetGroup != "" && !same[b.TargetGroup] {
			return false
		}
	}
	for _, m := range r.Action.Mirrors {
		if !same[m.TargetGroup] {
			return false
		}
	}
	return true
}

// compileListener compiles l; a rule reuse gives (by the indexes of its
// virtual host and of the rule there) is taken as it is.
func compileListener(l lb.Listener, groups map[string]*group, idle time.Duration, reuse func(h, i int, rules []lb.Rule) []rule) (*table, error) {
	if l.Port < 1 || l.Port > 65535 {
		return nil, fmt.Errorf("port %d out of range", l.Port)
	}
	t := &table{name: l.Name, port: l.Port, protocol: l.Protocol}
	switch l.Protocol {
	case lb.ProtocolHTTP, lb.ProtocolHTTPS:
		if len(l.Streams) > 0 {
			return nil, fmt.Errorf("a %s listener takes virtual hosts, not streams", l.Protocol)
		}
	case lb.ProtocolTCP, lb.ProtocolUDP, lb.ProtocolTLS:
		if len(l.VirtualHosts) > 0 {
			return nil, fmt.Errorf("a %s listener takes streams, not virtual hosts", l.Protocol)
		}
		st, err := compileStreams(l, groups, idle)
		t.streams = st
		return t, err
	default:
		return nil, fmt.Errorf("protocol %q is not supported by the emulated data plane", l.Protocol)
	}
	var errs []error
	for h, vh := range l.VirtualHosts {
		v := &vhost{hostname: normalizeHost(vh.Hostname)}
		if err := t.hosts.add(v.hostname, v); err != nil {
			errs = append(errs, err)
			continue
		}
		t.vhosts = append(t.vhosts, v)
		if l.Protocol == lb.ProtocolHTTPS {
			if len(vh.Certificates) == 0 {
				errs = append(errs, fmt.Errorf("host %q: HTTPS without a certificate", vh.Hostname))
			}
			for _, c := range vh.Certificates {
				cert, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
				if err != nil {
					// The key is secret: report the certificate's name only.
					errs = append(errs, fmt.Errorf("host %q: %w", vh.Hostname,
						refuse(KindCertificate, c.Name, errors.New("invalid certificate or key"))))
					continue
				}
				v.certs = append(v.certs, &cert)
				if t.firstCert == nil {
					t.firstCert = &cert
				}
			}
		}
		v.rules = make([]rule, 0, len(vh.Rules))
		for i := 0; i < len(vh.Rules); {
			if kept := reuse(h, i, vh.Rules); len(kept) > 0 {
				v.rules = append(v.rules, kept...)
				i += len(kept)
				continue
			}
			r := vh.Rules[i]
			i++
			cr, err := compileRule(r, groups)
			if err != nil {
				errs = append(errs, refuse(KindRule, r.Name, err))
				continue
			}
			v.rules = append(v.rules, cr)
		}
	}
	if cv := l.ClientValidation; cv != nil {
		cfg, err := compileClientValidation(l.Protocol, cv, t)
		if err != nil {
			errs = append(errs, err)
		}
		t.clientTLS = cfg
	}
	return t, errors.Join(errs...)
}

// compileClientValidation builds the TLS configuration of an HTTPS
// listener that asks clients for certificates: AllowValidOnly completes
// the handshake only with a certificate that chains to the bundles
// (RequireAndVerifyClientCert); AllowInsecureFallback asks for one and
// lets every client in, with a valid certificate, an invalid one or none
// (RequestClientCert: Go would refuse an invalid one in any mode that
// verifies, and the Gateway API wants it let in).
//
// Session tickets are off: a resumed session skips the certificate
// check, so a client let in before its CA left the bundle (or before the
// mode changed) could come back without one.
func compileClientValidation(p lb.Protocol, cv *lb.ClientValidation, t *table) (*tls.Config, error) {
	if p != lb.ProtocolHTTPS {
		return nil, fmt.Errorf("client validation on a %s listener", p)
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The ALPN protocols http.Server offers itself: a configuration
		// from GetConfigForClient replaces its own.
		NextProtos:             []string{"h2", "http/1.1"},
		GetCertificate:         func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) { return t.certificate(hello.ServerName) },
		SessionTicketsDisabled: true,
	}
	switch cv.Mode {
	case lb.ClientValidationAllowValidOnly:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case lb.ClientValidationAllowInsecureFallback:
		cfg.ClientAuth = tls.RequestClientCert
	default:
		return nil, fmt.Errorf("unknown client validation mode %q", cv.Mode)
	}
	pool := x509.NewCertPool()
	var errs []error
	for _, b := range cv.CABundles {
		certs, err := lb.ParseCABundle(b.PEM)
		if err != nil {
			errs = append(errs, fmt.Errorf("CA bundle %q: %w", b.Name, err))
			continue
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	if len(cv.CABundles) == 0 {
		errs = append(errs, errors.New("client validation without a CA bundle"))
	}
	cfg.ClientCAs = pool
	return cfg, errors.Join(errs...)
}

func compileRule(r lb.Rule, groups map[string]*group) (rule, error) {
	var errs []error
	cr := rule{name: r.Name, host: normalizeHost(r.Match.Hostname), method: r.Match.Method}
	if p := r.Match.Path; p != nil {
		pm := &pathMatcher{typ: p.Type, value: p.Value}
		switch p.Type {
		case lb.MatchExact:
		case lb.MatchPrefix:
			pm.value = strings.TrimSuffix(p.Value, "/")
		case lb.MatchRegex:
			re, err := anchored(p.Value)
			if err != nil {
				errs = append(errs, err)
			}
			pm.re = re
		default:
			errs = append(errs, fmt.Errorf("unsupported path match type %q", p.Type))
		}
		cr.path = pm
	}
	for _, h := range r.Match.Headers {
		if !validHeaderName(h.Name) {
			errs = append(errs, fmt.Errorf("invalid header name %q", h.Name))
		}
		m, err := compileValue(http.CanonicalHeaderKey(h.Name), h.Type, h.Value)
		if err != nil {
			errs = append(errs, fmt.Errorf("header %q: %w", h.Name, err))
		}
		cr.headers = append(cr.headers, m)
	}
	for _, q := range r.Match.Query {
		m, err := compileValue(q.Name, q.Type, q.Value)
		if err != nil {
			errs = append(errs, fmt.Errorf("query %q: %w", q.Name, err))
		}
		cr.query = append(cr.query, m)
	}
	act, err := compileAction(r.Action, cr.path, groups)
	if err != nil {
		errs = append(errs, err)
	}
	cr.action = act
	return cr, errors.Join(errs...)
}

func compileValue(name string, typ lb.MatchType, value string) (valueMatcher, error) {
	m := valueMatcher{name: name, value: value}
	switch typ {
	case lb.MatchExact:
		return m, nil
	case lb.MatchRegex:
		re, err := anchored(value)
		m.re = re
		return m, err
	default:
		return m, fmt.Errorf("unsupported match type %q", typ)
	}
}

// anchored compiles an RE2 expression that must match the whole value, as the
// model's Regex match type requires, by the model's own rule (lb.CompileRegex)
// so that what lb.Validate accepts compiles here.
func anchored(expr string) (*regexp.Regexp, error) { return lb.CompileRegex(expr) }
