package mapping

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// model assembles the load balancer from the programmable listeners and the
// accepted routes, and the routes behind each of its elements
// (Result.Sources). Options and tags are the caller's to set.
func (b *builder) model(listeners []*listenerState, routes []*routeState) (*lb.LoadBalancer, map[string][]RouteRef) {
	m := &lb.LoadBalancer{Owner: lb.Owner{
		Cluster:   b.cluster,
		Namespace: b.gw.Namespace,
		Name:      b.gw.Name,
		UID:       string(b.gw.UID),
	}}

	// One lb.Listener per port and protocol; markConflicts guarantees one
	// protocol per port (but a TCP and a UDP one where the provider shares
	// ports) and one Gateway listener per hostname (per port for TCP and
	// UDP) among valid listeners.
	type portProtocol struct {
		port     int32
		protocol lb.Protocol
	}
	byPort := map[portProtocol][]int{}
	var ports []portProtocol
	for i, l := range listeners {
		if !l.programmable() {
			continue
		}
		k := portProtocol{l.spec.Port, l.protocol}
		if _, ok := byPort[k]; !ok {
			ports = append(ports, k)
		}
		byPort[k] = append(byPort[k], i)
	}
	slices.SortFunc(ports, func(x, y portProtocol) int {
		return cmp.Or(cmp.Compare(x.port, y.port), cmp.Compare(x.protocol, y.protocol))
	})

	groups := map[string]lb.TargetGroup{}
	src := newSources(len(routes))
	// Routes in the precedence order of the last Build, so that each
	// VirtualHost's entries come nearly sorted.
	ranked, hinted := byHint(routes, func(rs *routeState) int { return rs.lastRank })
	for _, rs := range routes {
		rs.nextRank = 0
	}
	rank := 0
	for _, k := range ports {
		port, idx := k.port, byPort[k]
		slices.SortFunc(idx, func(x, y int) int {
			return compareHostSpecificity(listeners[x].hostname, listeners[y].hostname)
		})
		proto := listeners[idx[0]].protocol
		// Every HTTPS listener of a port has the port's client validation.
		ml := lb.Listener{
			Name:             fmt.Sprintf("%s-%d", strings.ToLower(string(proto)), port),
			Port:             port,
			Protocol:         proto,
			ClientValidation: listeners[idx[0]].clientValidation,
		}
		if listeners[idx[0]].stream() {
			ml.Streams = streams(listeners, idx, routes, groups, src)
			m.Listeners = append(m.Listeners, ml)
			continue
		}
		// Rule names are unique but for a route listed twice.
		var names map[string]bool
		if b.twice {
			names = make(map[string]bool, len(routes))
		}
		for v, li := range idx {
			l := listeners[li]
			vh := lb.VirtualHost{Hostname: l.hostname, Certificates: l.certs}
			entries := make([]*entry, 0, len(routes))
			// The entries of routes placed by their hint come first.
			fromHint := -1
			for i, rs := range ranked {
				if i == hinted {
					fromHint = len(entries)
				}
				for _, host := range rs.serve.on(li) {
					if shadowed(listeners, idx[:v], host) {
						continue
					}
					entries = rs.entries(entries, &b.entries, host)
				}
			}
			if fromHint < 0 {
				fromHint = len(entries)
			}
			entries = sortHinted(entries, fromHint, comparePrecedence)
			if len(entries) > 0 {
				vh.Rules = make([]lb.Rule, 0, len(entries))
			}
			for _, e := range entries {
				r := e.lbRule(l.hostname)
				// Names are unique by construction; this guard keeps a
				// model that fails lb.Validate from ever leaving Build.
				if names != nil {
					if names[r.Name] {
						continue
					}
					names[r.Name] = true
				}
				vh.Rules = append(vh.Rules, r)
				rank++
				if e.route.nextRank == 0 {
					e.route.nextRank = rank
				}
				src.addRule(r.Name, e.route)
				for _, g := range e.state.groups {
					groups[g.Name] = g
					src.add(g.Name, e.route)
				}
			}
			ml.VirtualHosts = append(ml.VirtualHosts, vh)
		}
		m.Listeners = append(m.Listeners, ml)
	}
	for _, rs := range routes {
		rs.lastRank = rs.nextRank
	}
	for _, g := range groups {
		m.TargetGroups = append(m.TargetGroups, g)
	}
	slices.SortFunc(m.TargetGroups, func(x, y lb.TargetGroup) int { return cmp.Compare(x.Name, y.Name) })
	return m, src.result()
}

// sources records the routes behind each model element. A Gateway with
// thousands of rules has thousands of elements, nearly all rules with one
// route: a rule's RouteRef goes straight into the Result's map, from one
// array for all of them; the other elements (target groups, streams) keep
// their routes in one list of links rather than a slice each.
type sources struct {
	// routes is how many routes the Build has.
	routes int
	out    map[string][]RouteRef
	// refs backs the rules' entries in out.
	refs []RouteRef
	// last is the index in links of each other element's most recent
	// route.
	last  map[string]int32
	links []sourceLink
}

// sourceLink is one route behind an element, and the index in links of
// the element's route before it (-1 for its first).
type sourceLink struct {
	route *route
	prev  int32
}

func newSources(routes int) *sources {
	return &sources{routes: routes, out: make(map[string][]RouteRef, routes), refs: make([]RouteRef, 0, routes), last: map[string]int32{}}
}

// addRule records that rule name comes from r: one route, the name says
// which (two routes with one key, which an API server never holds, give
// the same RouteRef).
func (s *sources) addRule(name string, r *route) {
	if _, ok := s.out[name]; ok {
		return
	}
	// The capacity ends with the rule's own ref, so that a caller's
	// append cannot write over the next rule's.
	s.refs = append(s.refs, r.ref())
	n := len(s.refs)
	s.out[name] = s.refs[n-1 : n : n]
}

// add records that r is behind element. Repeats other than of the last
// route added are dropped at the end (result), not here: a target group
// shared by thousands of routes would make a search per add quadratic.
func (s *sources) add(element string, r *route) {
	prev, ok := s.last[element]
	if ok && s.links[prev].route == r {
		return
	}
	if !ok {
		prev = -1
	}
	s.last[element] = int32(len(s.links))
	s.links = append(s.links, sourceLink{route: r, prev: prev})
}

// result is Result.Sources: each element's routes in order, once each.
// Routes compare by their place in builder.routes, which is their
// RouteRef order, without comparing strings.
func (s *sources) result() map[string][]RouteRef {
	all := make([]RouteRef, 0, len(s.links))
	var rs []*route
	for element, i := range s.last {
		rs = rs[:0]
		for ; i >= 0; i = s.links[i].prev {
			rs = append(rs, s.links[i].route)
		}
		rs = s.inOrder(rs)
		from := len(all)
		for _, r := range rs {
			all = append(all, r.ref())
		}
		if rule, ok := s.out[element]; ok {
			// A rule of the same name (no name scheme makes one):
			// RouteRef order is route order, kind, namespace, name.
			merged := append(slices.Clone(rule), all[from:]...)
			slices.SortFunc(merged, compareRouteRefs)
			all = all[:from]
			s.out[element] = slices.Clip(slices.Compact(merged))
			continue
		}
		// Compacted as refs, not as routes: a snapshot may hold one
		// route twice. The capacity ends with the element's own refs.
		refs := slices.Compact(all[from:])
		all = all[:from+len(refs)]
		s.out[element] = refs[:len(refs):len(refs)]
	}
	return s.out
}

// inOrder sorts routes by their order. A target group behind thousands of
// routes is sorted by marking each route's place, in one pass.
func (s *sources) inOrder(rs []*route) []*route {
	if len(rs) <= 64 {
		slices.SortFunc(rs, func(x, y *route) int { return cmp.Compare(x.order, y.order) })
		return rs
	}
	at := make([]*route, s.routes)
	var again []*route
	for _, r := range rs {
		if r.order < len(at) && at[r.order] == nil {
			at[r.order] = r
		} else {
			// The same route twice (its repeats are compacted later).
			again = append(again, r)
		}
	}
	out := rs[:0]
	for _, r := range at {
		if r != nil {
			out = append(out, r)
		}
	}
	if len(again) == 0 {
		return out
	}
	out = append(out, again...)
	slices.SortStableFunc(out, func(x, y *route) int { return cmp.Compare(x.order, y.order) })
	return out
}

func compareRouteRefs(x, y RouteRef) int {
	return cmp.Or(cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Name, y.Name))
}

// shadowed says whether a more specific VirtualHost on the same port (one of
// before) takes every request for host: a copy of a rule for host on a less
// specific VirtualHost could never match, so it is left out.
func shadowed(listeners []*listenerState, before []int, host string) bool {
	for _, i := range before {
		if covers(listeners[i].hostname, host) {
			return true
		}
	}
	return false
}

// entries places every match of the route on one effective hostname.
// They are appended to out, and made from the Build's arena.
func (rs *routeState) entries(out []*entry, made *arena[entry], host string) []*entry {
	routeHost := routeHostname(rs.hostnames, host)
	for i := range rs.rules {
		r := &rs.rules[i].state
		for j := range r.matches {
			e := made.new()
			*e = entry{host: host, routeHost: routeHost, route: rs.route, rule: i, match: j, rm: &r.matches[j], state: r}
			out = append(out, e)
		}
	}
	return out
}

// lbRule names the entry's rule "ns/route/rule-i/match-j[/host]", with
// "grpc/" before "rule-i" for a GRPCRoute (an HTTPRoute and a GRPCRoute
// may share a name; route names hold no "/", so the two forms never
// meet). The name depends only on the route, the position of the rule and
// match in it and the hostname, so changes elsewhere never rename (and
// re-prioritize) it.
func (e *entry) lbRule(vhostHost string) lb.Rule {
	kind := ""
	if e.route.kind == kindGRPCRoute {
		kind = "grpc/"
	}
	name, ok := e.route.ruleName(e.rule, e.match, e.host)
	if !ok {
		// Concatenated rather than formatted; a Cache's route keeps it.
		name = e.route.key.Namespace + "/" + e.route.key.Name + "/" + kind + "rule-" + strconv.Itoa(e.rule) + "/match-" + strconv.Itoa(e.match)
		if e.host != "" {
			name += "/" + e.host
		}
		e.route.keepRuleName(e.rule, e.match, e.host, name)
	}
	m := e.rm.m
	// The VirtualHost already admits only its own hostname.
	if e.host != vhostHost {
		m.Hostname = e.host
	}
	return lb.Rule{Name: name, Match: m, Action: e.state.action}
}

// ruleNamed is one rule name a route made, for the Builds after.
type ruleNamed struct {
	rule, match int
	host, name  string
}

// maxRuleNames bounds what a route keeps: a route's rules times its
// hostnames, past which (listener hostnames changing under a route that
// does not) the list starts again.
const maxRuleNames = 64

func (r *route) ruleName(rule, match int, host string) (string, bool) {
	for _, n := range r.names {
		if n.rule == rule && n.match == match && n.host == host {
			return n.name, true
		}
	}
	return "", false
}

func (r *route) keepRuleName(rule, match int, host, name string) {
	if len(r.names) >= maxRuleNames {
		r.names = r.names[:0]
	}
	r.names = append(r.names, ruleNamed{rule: rule, match: match, host: host, name: name})
}
