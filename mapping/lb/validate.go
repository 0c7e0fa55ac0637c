package lb

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Validate checks the model's own invariants: names unique and non-empty,
// references resolved, regular expressions compilable in their anchored form
// (CompileRegex), header names tokens and header values free of control
// characters (ValidHeaderName, ValidHeaderValue), weights non-negative,
// retries on forward actions only and within their bounds, CORS origins
// in the API's form and lists of tokens with "*" alone, certificates
// either PEM or a reference, health checks within their bounds.
// mapping.Build must never produce a model that fails it; providers call it
// before planning so that a bug upstream cannot reach the cloud.
func (l *LoadBalancer) Validate() error {
	var errs []error
	if l.Owner.Namespace == "" || l.Owner.Name == "" {
		errs = append(errs, errors.New("owner namespace and name are required"))
	}
	groups := map[string]bool{}
	for _, tg := range l.TargetGroups {
		if tg.Name == "" {
			errs = append(errs, errors.New("target group without a name"))
		}
		if groups[tg.Name] {
			errs = append(errs, fmt.Errorf("duplicate target group %q", tg.Name))
		}
		groups[tg.Name] = true
		if err := tg.HealthCheck.validate(); err != nil {
			errs = append(errs, fmt.Errorf("target group %q: %w", tg.Name, err))
		}
		if tg.TLS != nil {
			if err := tg.TLS.validate(tg.Protocol); err != nil {
				errs = append(errs, fmt.Errorf("target group %q: %w", tg.Name, err))
			}
		}
	}
	ports := map[int32][]Protocol{}
	names := map[string]bool{}
	for _, ls := range l.Listeners {
		if ls.Port < 1 || ls.Port > 65535 {
			errs = append(errs, fmt.Errorf("listener %q: port %d out of range", ls.Name, ls.Port))
		}
		// One listener per port, except a TCP and a UDP one: they never
		// meet on the wire.
		if taken := ports[ls.Port]; len(taken) > 0 && !(len(taken) == 1 &&
			(taken[0] == ProtocolTCP && ls.Protocol == ProtocolUDP || taken[0] == ProtocolUDP && ls.Protocol == ProtocolTCP)) {
			errs = append(errs, fmt.Errorf("two listeners on port %d", ls.Port))
		}
		ports[ls.Port] = append(ports[ls.Port], ls.Protocol)
		if ls.Name == "" || names[ls.Name] {
			errs = append(errs, fmt.Errorf("listener on port %d: missing or duplicate name %q", ls.Port, ls.Name))
		}
		names[ls.Name] = true
		streamListener := ls.Protocol == ProtocolTCP || ls.Protocol == ProtocolUDP || ls.Protocol == ProtocolTLS
		switch {
		case streamListener && len(ls.VirtualHosts) > 0:
			errs = append(errs, fmt.Errorf("listener %q: a %s listener takes streams, not virtual hosts", ls.Name, ls.Protocol))
		case !streamListener && len(ls.Streams) > 0:
			errs = append(errs, fmt.Errorf("listener %q: a %s listener takes virtual hosts, not streams", ls.Name, ls.Protocol))
		}
		if cv := ls.ClientValidation; cv != nil {
			if ls.Protocol != ProtocolHTTPS {
				errs = append(errs, fmt.Errorf("listener %q: client validation on a %s listener", ls.Name, ls.Protocol))
			}
			if err := cv.validate(); err != nil {
				errs = append(errs, fmt.Errorf("listener %q: %w", ls.Name, err))
			}
		}
		streams := map[string]bool{}
		for _, st := range ls.Streams {
			if st.Name == "" || streams[st.Name] {
				errs = append(errs, fmt.Errorf("listener %q: missing or duplicate stream name %q", ls.Name, st.Name))
			}
			streams[st.Name] = true
			if len(st.Certificates) > 0 && ls.Protocol != ProtocolTLS {
				errs = append(errs, fmt.Errorf("listener %q stream %q: certificates on a %s listener", ls.Name, st.Name, ls.Protocol))
			}
			for _, c := range st.Certificates {
				if err := c.validate(); err != nil {
					errs = append(errs, fmt.Errorf("listener %q stream %q: %w", ls.Name, st.Name, err))
				}
			}
			for _, b := range st.Backends {
				if b.Weight < 0 {
					errs = append(errs, fmt.Errorf("listener %q stream %q: negative weight", ls.Name, st.Name))
				}
				if b.TargetGroup != "" && !groups[b.TargetGroup] {
					errs = append(errs, fmt.Errorf("listener %q stream %q: unknown target group %q", ls.Name, st.Name, b.TargetGroup))
				}
			}
		}
		n := 0
		for _, vh := range ls.VirtualHosts {
			n += len(vh.Rules)
		}
		rules := make(map[string]bool, n)
		for _, vh := range ls.VirtualHosts {
			if ls.Protocol == ProtocolHTTPS && len(vh.Certificates) == 0 {
				errs = append(errs, fmt.Errorf("listener %q host %q: HTTPS without a certificate", ls.Name, vh.Hostname))
			}
			for _, c := range vh.Certificates {
				if err := c.validate(); err != nil {
					errs = append(errs, fmt.Errorf("listener %q host %q: %w", ls.Name, vh.Hostname, err))
				}
			}
			for _, r := range vh.Rules {
				if r.Name == "" || rules[r.Name] {
					errs = append(errs, fmt.Errorf("listener %q: missing or duplicate rule name %q", ls.Name, r.Name))
				}
				rules[r.Name] = true
				errs = append(errs, r.validate(groups)...)
			}
		}
	}
	errs = append(errs, l.validateSessions()...)
	return errors.Join(errs...)
}

func (r Rule) validate(groups map[string]bool) []error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("rule %q: "+format, append([]any{r.Name}, a...)...))
	}
	regex := func(t MatchType, v string) {
		if t == MatchRegex {
			if _, err := CompileRegex(v); err != nil {
				bad("%v", err)
			}
		}
	}
	if p := r.Match.Path; p != nil {
		regex(p.Type, p.Value)
	}
	for _, h := range r.Match.Headers {
		if !ValidHeaderName(h.Name) {
			bad("header match name %q is not a token", h.Name)
		}
		regex(h.Type, h.Value)
	}
	for _, q := range r.Match.Query {
		regex(q.Type, q.Value)
	}
	a := r.Action
	// Checked one by one rather than gathered in a list: Validate runs on
	// every rule of every Ensure, thousands per change.
	checkMods := func(mods ...*HeaderModifier) {
		for _, m := range mods {
			if err := m.validate(); err != nil {
				bad("%v", err)
			}
		}
	}
	checkMods(a.RequestHeaders, a.ResponseHeaders)
	for _, b := range a.Forward {
		checkMods(b.RequestHeaders, b.ResponseHeaders)
	}
	kinds := 0
	for _, set := range []bool{len(a.Forward) > 0, a.FixedResponse != nil, a.Redirect != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		bad("needs exactly one of forward, fixedResponse and redirect")
	}
	prefixRewrite := func(rw *Rewrite) bool { return rw != nil && rw.Path != nil && rw.Path.Type == RewritePrefix }
	backendPrefix := slices.ContainsFunc(a.Forward, func(b WeightedBackend) bool { return prefixRewrite(b.Rewrite) })
	if prefixRewrite(a.Rewrite) || backendPrefix || a.Redirect != nil && a.Redirect.Path != nil && a.Redirect.Path.Type == RewritePrefix {
		if p := r.Match.Path; p == nil || p.Type != MatchPrefix {
			bad("a prefix rewrite needs a Prefix path match")
		}
	}
	for _, m := range a.Mirrors {
		if !groups[m.TargetGroup] {
			bad("unknown mirror target group %q", m.TargetGroup)
		}
		if m.Percent < 0 || m.Percent > 100 {
			bad("mirror percent %v out of range", m.Percent)
		}
	}
	if rt := a.Retry; rt != nil {
		if len(a.Forward) == 0 {
			bad("a retry needs a forward action")
		}
		if err := rt.validate(); err != nil {
			bad("%v", err)
		}
	}
	if err := a.CORS.validate(); err != nil {
		bad("%v", err)
	}
	if st := a.InvalidBackendStatus; st != 0 && (st < 500 || st > 599 || len(a.Forward) == 0) {
		bad("invalid backend status %d: needs a forward action and a status from 500 to 599", st)
	}
	for _, b := range a.Forward {
		if b.Weight < 0 {
			bad("negative weight")
		}
		if b.TargetGroup != "" && !groups[b.TargetGroup] {
			bad("unknown target group %q", b.TargetGroup)
		}
	}
	return errs
}

// validate checks a modifier's names and values; nil is valid.
func (m *HeaderModifier) validate() error {
	if m == nil {
		return nil
	}
	var errs []error
	check := func(h Header) {
		if !ValidHeaderName(h.Name) {
			errs = append(errs, fmt.Errorf("header name %q is not a token", h.Name))
		}
		if !ValidHeaderValue(h.Value) {
			errs = append(errs, fmt.Errorf("header %q: value has control characters", h.Name))
		}
	}
	for _, h := range m.Set {
		check(h)
	}
	for _, h := range m.Add {
		check(h)
	}
	for _, name := range m.Remove {
		check(Header{Name: name})
	}
	return errors.Join(errs...)
}

// validate checks a retry's own fields.
func (rt *Retry) validate() error {
	var errs []error
	if rt.Attempts < 1 || rt.Attempts > MaxRetryAttempts {
		errs = append(errs, fmt.Errorf("retry attempts %d not between 1 and %d", rt.Attempts, MaxRetryAttempts))
	}
	for i, c := range rt.Codes {
		if c < 400 || c > 599 {
			errs = append(errs, fmt.Errorf("retry code %d not between 400 and 599", c))
		}
		if i > 0 && c <= rt.Codes[i-1] {
			errs = append(errs, errors.New("retry codes must be sorted and unique"))
		}
	}
	if rt.Backoff != nil && *rt.Backoff < 0 {
		errs = append(errs, errors.New("negative retry backoff"))
	}
	return errors.Join(errs...)
}

// validate checks a CORS policy's own fields; nil is valid. A "*" stands
// alone in the lists whose "*" the data plane answers in place of the
// others (origins, methods, request headers), as the API requires.
func (c *CORS) validate() error {
	if c == nil {
		return nil
	}
	var errs []error
	alone := func(field string, list []string) {
		if len(list) > 1 && slices.Contains(list, "*") {
			errs = append(errs, fmt.Errorf("cors: %s has \"*\" next to other values", field))
		}
	}
	for _, o := range c.AllowOrigins {
		if !ValidCORSOrigin(o) {
			errs = append(errs, fmt.Errorf("cors: origin %q is not \"*\" or scheme://host[:port]", o))
		}
	}
	alone("allowOrigins", c.AllowOrigins)
	for _, l := range []struct {
		field string
		list  []string
	}{{"allowMethods", c.AllowMethods}, {"allowHeaders", c.AllowHeaders}, {"exposeHeaders", c.ExposeHeaders}} {
		for _, v := range l.list {
			// "*" is a token too.
			if !ValidHeaderName(v) {
				errs = append(errs, fmt.Errorf("cors: %s entry %q is not a token", l.field, v))
			}
		}
	}
	alone("allowMethods", c.AllowMethods)
	alone("allowHeaders", c.AllowHeaders)
	if c.MaxAge < time.Second || c.MaxAge > MaxCORSMaxAge || c.MaxAge%time.Second != 0 {
		errs = append(errs, fmt.Errorf("cors: max age %v is not a whole number of seconds from 1s to %v", c.MaxAge, MaxCORSMaxAge))
	}
	return errors.Join(errs...)
}

// validate checks that a certificate is either a chain and key or a
// reference, never both nor half of one.
func (c Certificate) validate() error {
	pem := len(c.CertPEM) > 0 || len(c.KeyPEM) > 0
	switch {
	case c.Name == "":
		return errors.New("certificate without a name")
	case pem && c.Ref != nil:
		return fmt.Errorf("certificate %q: both PEM and a reference", c.Name)
	case c.Ref != nil:
		if c.Ref.Kind == "" || c.Ref.ID == "" {
			return fmt.Errorf("certificate %q: a reference needs a kind and an id", c.Name)
		}
	case len(c.CertPEM) == 0 || len(c.KeyPEM) == 0:
		return fmt.Errorf("certificate %q: needs a PEM chain and key, or a reference", c.Name)
	}
	return nil
}

// validate checks a target group's TLS: a protocol TLS can wrap, a server
// name, exactly one kind of trust anchor, bundles that parse, names of one
// kind each, and a client certificate of PEM (a cloud's certificate
// reference is for listeners).
func (t *BackendTLS) validate(p Protocol) error {
	var errs []error
	switch p {
	case ProtocolHTTP, ProtocolH2C, ProtocolTCP:
	default:
		errs = append(errs, fmt.Errorf("tls: over a %s target group", p))
	}
	if t.ServerName == "" {
		errs = append(errs, errors.New("tls: no server name"))
	}
	if (len(t.CABundles) > 0) == t.SystemRoots {
		errs = append(errs, errors.New("tls: needs CA bundles or the system roots, and not both"))
	}
	seen := map[string]bool{}
	for _, b := range t.CABundles {
		if b.Name == "" || seen[b.Name] {
			errs = append(errs, fmt.Errorf("tls: missing or duplicate CA bundle name %q", b.Name))
		}
		seen[b.Name] = true
		if _, err := ParseCABundle(b.PEM); err != nil {
			errs = append(errs, fmt.Errorf("tls: CA bundle %q: %w", b.Name, err))
		}
	}
	for _, n := range t.SubjectAltNames {
		if (n.Hostname == "") == (n.URI == "") {
			errs = append(errs, errors.New("tls: a subject alternative name needs a hostname or a URI, not both"))
		}
	}
	if c := t.ClientCertificate; c != nil {
		if err := c.validate(); err != nil {
			errs = append(errs, fmt.Errorf("tls: client %w", err))
		} else if c.Ref != nil {
			errs = append(errs, fmt.Errorf("tls: client certificate %q is a reference, not PEM", c.Name))
		}
	}
	return errors.Join(errs...)
}

// validate checks a client validation's mode and bundles: each named
// once and holding only CERTIFICATE blocks that parse, at least one.
func (cv *ClientValidation) validate() error {
	var errs []error
	switch cv.Mode {
	case ClientValidationAllowValidOnly, ClientValidationAllowInsecureFallback:
	default:
		errs = append(errs, fmt.Errorf("client validation: unknown mode %q", cv.Mode))
	}
	if len(cv.CABundles) == 0 {
		errs = append(errs, errors.New("client validation without a CA bundle"))
	}
	seen := map[string]bool{}
	for _, b := range cv.CABundles {
		if b.Name == "" || seen[b.Name] {
			errs = append(errs, fmt.Errorf("client validation: missing or duplicate CA bundle name %q", b.Name))
		}
		seen[b.Name] = true
		if _, err := ParseCABundle(b.PEM); err != nil {
			errs = append(errs, fmt.Errorf("client validation: CA bundle %q: %w", b.Name, err))
		}
	}
	return errors.Join(errs...)
}

// ParseCABundle returns the certificates of a PEM bundle: one or more
// CERTIFICATE blocks, nothing else but whitespace between them. Mapping,
// Validate and data planes read bundles by this one rule, so that a bundle
// mapping accepts is never refused further on.
func ParseCABundle(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a PEM block of type %q, not CERTIFICATE", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, errors.New("a CERTIFICATE block that does not parse")
		}
		out = append(out, c)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("data that is not PEM")
	}
	if len(out) == 0 {
		return nil, errors.New("no CERTIFICATE block")
	}
	return out, nil
}

// validate checks a health check's own fields; nil is valid.
func (h *HealthCheck) validate() error {
	if h == nil {
		return nil
	}
	var errs []error
	switch h.Protocol {
	case "", ProtocolHTTP, ProtocolHTTPS:
	case ProtocolTCP:
		if h.Path != "" || len(h.SuccessCodes) > 0 {
			errs = append(errs, errors.New("health check: a TCP probe has no path or success codes"))
		}
	default:
		errs = append(errs, fmt.Errorf("health check: protocol %s is not HTTP, HTTPS or TCP", h.Protocol))
	}
	if h.Path != "" && (h.Path[0] != '/' || !ValidHeaderValue(h.Path) || len(h.Path) > 1024) {
		errs = append(errs, fmt.Errorf("health check: path %q must start with / and have at most 1024 bytes without control characters", h.Path))
	}
	if h.Port < 0 || h.Port > 65535 {
		errs = append(errs, fmt.Errorf("health check: port %d out of range", h.Port))
	}
	if h.Interval != 0 && (h.Interval < MinHealthCheckInterval || h.Interval > MaxHealthCheckInterval) {
		errs = append(errs, fmt.Errorf("health check: interval %v not between %v and %v", h.Interval, MinHealthCheckInterval, MaxHealthCheckInterval))
	}
	if h.Timeout != 0 && (h.Timeout < MinHealthCheckTimeout || h.Timeout > MaxHealthCheckTimeout) {
		errs = append(errs, fmt.Errorf("health check: timeout %v not between %v and %v", h.Timeout, MinHealthCheckTimeout, MaxHealthCheckTimeout))
	}
	if h.Interval != 0 && h.Timeout >= h.Interval {
		errs = append(errs, errors.New("health check: timeout must be below interval"))
	}
	for _, t := range []int{h.HealthyThreshold, h.UnhealthyThreshold} {
		if t != 0 && (t < MinHealthCheckThreshold || t > MaxHealthCheckThreshold) {
			errs = append(errs, fmt.Errorf("health check: threshold %d not between %d and %d", t, MinHealthCheckThreshold, MaxHealthCheckThreshold))
		}
	}
	for i, r := range h.SuccessCodes {
		if r.From < 200 || r.To > 499 || r.From > r.To {
			errs = append(errs, fmt.Errorf("health check: success codes %d-%d not a range within 200-499", r.From, r.To))
		}
		if i > 0 && r.From <= h.SuccessCodes[i-1].To {
			errs = append(errs, errors.New("health check: success code ranges must be sorted and disjoint"))
		}
	}
	return errors.Join(errs...)
}
