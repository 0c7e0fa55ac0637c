package lb

import (
	"errors"
	"fmt"
)

// Validate checks the model's own invariants: names unique and non-empty,
// references resolved, regular expressions compilable in their anchored form
// (CompileRegex), header names tokens and header values free of control
// characters (ValidHeaderName, ValidHeaderValue), weights non-negative,
// retries on forward actions only and within their bounds.
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
	}
	ports := map[int32]bool{}
	names := map[string]bool{}
	for _, ls := range l.Listeners {
		if ls.Port < 1 || ls.Port > 65535 {
			errs = append(errs, fmt.Errorf("listener %q: port %d out of range", ls.Name, ls.Port))
		}
		if ports[ls.Port] {
			errs = append(errs, fmt.Errorf("two listeners on port %d", ls.Port))
		}
		ports[ls.Port] = true
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
		streams := map[string]bool{}
		for _, st := range ls.Streams {
			if st.Name == "" || streams[st.Name] {
				errs = append(errs, fmt.Errorf("listener %q: missing or duplicate stream name %q", ls.Name, st.Name))
			}
			streams[st.Name] = true
			if len(st.Certificates) > 0 && ls.Protocol != ProtocolTLS {
				errs = append(errs, fmt.Errorf("listener %q stream %q: certificates on a %s listener", ls.Name, st.Name, ls.Protocol))
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
		rules := map[string]bool{}
		for _, vh := range ls.VirtualHosts {
			if ls.Protocol == ProtocolHTTPS && len(vh.Certificates) == 0 {
				errs = append(errs, fmt.Errorf("listener %q host %q: HTTPS without a certificate", ls.Name, vh.Hostname))
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
	mods := []*HeaderModifier{a.RequestHeaders, a.ResponseHeaders}
	for _, b := range a.Forward {
		mods = append(mods, b.RequestHeaders, b.ResponseHeaders)
	}
	for _, m := range mods {
		if err := m.validate(); err != nil {
			bad("%v", err)
		}
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
	if a.Rewrite != nil && a.Rewrite.Path != nil && a.Rewrite.Path.Type == RewritePrefix || a.Redirect != nil && a.Redirect.Path != nil && a.Redirect.Path.Type == RewritePrefix {
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
