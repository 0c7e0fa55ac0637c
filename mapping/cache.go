package mapping

import (
	"reflect"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// Cache remembers, between Builds of one Gateway, each route's conversion
// (its values check and its rules' matches, actions and target groups)
// with every input that conversion read: the route's UID and
// resourceVersion, the resourceVersions of the Services, EndpointSlices,
// ReferenceGrants and BackendTLSPolicies it looked up (or that there were
// none), and the provider's capabilities. A route whose inputs all still
// hold is not converted again; any other is. The Result of c.Build is
// the Result of Build for every input: the cache is keyed by the inputs
// and holds no state of its own that Build would otherwise not read.
//
// Objects without a UID or resourceVersion (hand-made snapshots) are never
// cached, nor is a route whose backends a BackendTLSPolicy applies to:
// resolving a policy also decides the policy's status, a side output a hit
// would have to replay.
//
// A Cache is for one Gateway; its Builds run one at a time.
type Cache struct {
	mu sync.Mutex
	// caps are the capabilities (with quotas) the entries were made with.
	caps    lb.Capabilities
	entries map[cacheKey]*cacheEntry
	// build counts Builds; an entry a Build uses is marked with it, and
	// the others are dropped at its end (rather than collecting the used
	// ones in a new map each Build).
	build uint64
	// attach is what the routes' attachment and status read besides the
	// routes themselves (attachContext), as the last Build found it, and
	// epoch counts its changes: an entry's eval holds for one epoch.
	attach attachContext
	epoch  uint64
	// reads are the lookups entries hold, one per lookup and result, so
	// that thousands of routes behind one Service check it once a Build.
	reads map[readID]*sharedRead
}

// readID names a lookup: the index and the key looked up.
type readID struct {
	kind readKind
	key  types.NamespacedName
}

// sharedRead is a read the entries that made it share, with whether it
// still holds in Build checked (ok).
type sharedRead struct {
	read
	checked uint64
	ok      bool
}

// share returns the table's read for rd when it found the same, or makes
// rd the table's: this Build just made it, so it holds.
func (c *Cache) share(rd read) *sharedRead {
	id := readID{kind: rd.kind, key: rd.key}
	if t := c.reads[id]; t != nil && slices.Equal(t.versions, rd.versions) {
		return t
	}
	t := &sharedRead{read: rd, checked: c.build, ok: true}
	c.reads[id] = t
	return t
}

// holds says whether rd still holds, checking it once a Build.
func (b *builder) holds(rd *sharedRead) bool {
	if rd.checked != b.cache.build {
		rd.checked, rd.ok = b.cache.build, b.current(rd.read)
	}
	return rd.ok
}

type cacheKey struct {
	kind routeKind
	key  types.NamespacedName
}

type cacheEntry struct {
	// build is the last Build that used the entry.
	build   uint64
	uid     types.UID
	version string
	route   *route
	// rules is nil until the rules were converted with every read
	// cacheable; reads are what that conversion looked up.
	rules []ruleResult
	reads []*sharedRead
	// eval is the route's attachment and status as a Build of the current
	// epoch made them from these rules (nil: none yet).
	eval *routeEval
}

// routeEval is what evaluateRoute and settle made of one route in one
// attachContext, for the next Build in the same context to take as it is
// instead of making it again: thousands of routes, each attached to its
// listeners and given its statuses, on every change of any one of them.
type routeEval struct {
	epoch uint64
	// refused is the reconciler's refusal the route was evaluated with.
	refused string
	// parents are the route's parentRefs attached (evaluateRoute);
	// attached says they were.
	attached bool
	parents  []parentState
	// settled says statuses, serve and counted are settle's for the route
	// with no listener lost to a route of the other kind and the
	// overLimit problem given.
	settled   bool
	overLimit problem
	statuses  []gwv1.RouteParentStatus
	serve     listenerHosts
	counted   []int
}

// attachContext is everything besides a route that attaching it and
// settling its status read: the Gateway and whether it is accepted, the
// controller, the ListenerSets that name the Gateway, every listener's
// attachment-relevant state, and the namespaces' labels when a listener
// selects namespaces by label.
type attachContext struct {
	gateway    types.NamespacedName
	controller gwv1.GatewayController
	accepted   bool
	sets       []setContext
	listeners  []listenerContext
	namespaces map[string]map[string]string
}

type setContext struct {
	key     types.NamespacedName
	allowed bool
}

type listenerContext struct {
	// set is the ListenerSet the listener comes from (zero: the
	// Gateway's own).
	set      types.NamespacedName
	spec     gwv1.Listener
	hostname string
	valid    bool
	kinds    []gwv1.RouteGroupKind
}

// attachContext is this Build's, for these listeners.
func (b *builder) attachContext(listeners []*listenerState, gatewayAccepted bool) attachContext {
	ctx := attachContext{gateway: key(b.gw.Namespace, b.gw.Name), controller: b.controller, accepted: gatewayAccepted}
	for _, ls := range b.sets {
		ctx.sets = append(ctx.sets, setContext{key: ls.key, allowed: ls.allowed})
	}
	selects := false
	for _, l := range listeners {
		lc := listenerContext{spec: l.spec, hostname: l.hostname, valid: l.valid(), kinds: l.kinds}
		if l.set != nil {
			lc.set = l.set.key
		}
		if ar := l.spec.AllowedRoutes; ar != nil && ar.Namespaces != nil && ar.Namespaces.From != nil &&
			*ar.Namespaces.From == gwv1.NamespacesFromSelector {
			selects = true
		}
		ctx.listeners = append(ctx.listeners, lc)
	}
	if selects {
		ctx.namespaces = make(map[string]map[string]string, len(b.namespaces))
		for name, n := range b.namespaces {
			ctx.namespaces[name] = n.Labels
		}
	}
	return ctx
}

// setAttach starts an epoch when the attachContext changed.
func (c *Cache) setAttach(ctx attachContext) {
	if c.epoch == 0 || !reflect.DeepEqual(c.attach, ctx) {
		c.attach = ctx
		c.epoch++
	}
}

// evalOf returns r's routeEval for this epoch and refusal, a new one when
// the last is stale, or nil when r's conversion is not cached (its rules,
// which its status reads, may then differ from one Build to the next).
func (c *Cache) evalOf(r *route, refused string) *routeEval {
	e := c.used(r)
	if e == nil || e.rules == nil {
		return nil
	}
	if e.eval == nil || e.eval.epoch != c.epoch || e.eval.refused != refused {
		e.eval = &routeEval{epoch: c.epoch, refused: refused}
	}
	return e.eval
}

// readKind names the index a conversion looked something up in.
type readKind uint8

const (
	readService readKind = iota
	readSlices
	readGrants
	readPolicies
)

// read is one lookup and the resourceVersions of what it found, in order
// (none when nothing was there).
type read struct {
	kind     readKind
	key      types.NamespacedName
	versions []string
}

// reads records one route's lookups while its rules convert.
type reads struct {
	list []read
	// uncacheable is set when the conversion read an object without a
	// resourceVersion or had a side output (a BackendTLSPolicy used).
	uncacheable bool
}

// Build is Build(s), converting only the routes whose inputs changed
// since the last Build through c.
func (c *Cache) Build(s *Snapshot) Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return build(s, c)
}

// begin starts a Build: the entries hold only for the capabilities they
// were made with.
func (c *Cache) begin(caps lb.Capabilities) {
	if c.entries == nil || !reflect.DeepEqual(c.caps, caps) {
		c.entries = map[cacheKey]*cacheEntry{}
		c.reads = map[readID]*sharedRead{}
		c.caps = caps
	}
	c.build++
}

// route returns the cached kind-neutral route for o, converting it with
// convert when o changed or was never seen. The entry is marked as used
// by this Build; the others are dropped at its end.
func (c *Cache) route(kind routeKind, o metav1.Object, convert func() *route) *route {
	k := cacheKey{kind: kind, key: key(o.GetNamespace(), o.GetName())}
	uid, version := o.GetUID(), o.GetResourceVersion()
	if uid == "" || version == "" {
		return convert()
	}
	e := c.entries[k]
	if e == nil || e.uid != uid || e.version != version {
		e = &cacheEntry{uid: uid, version: version, route: convert()}
		c.entries[k] = e
	}
	e.build = c.build
	return e.route
}

// used returns the entry of r when this Build took r from it.
func (c *Cache) used(r *route) *cacheEntry {
	e := c.entries[cacheKey{kind: r.kind, key: r.key}]
	if e == nil || e.build != c.build || e.route != r {
		return nil
	}
	return e
}

// end keeps only the entries this Build used.
func (c *Cache) end() {
	for k, e := range c.entries {
		if e.build != c.build {
			delete(c.entries, k)
		}
	}
	// The reads no entry of this Build looked at (a deleted Service's)
	// leave the table; an entry that still holds one only misses.
	for id, rd := range c.reads {
		if rd.checked != c.build {
			delete(c.reads, id)
		}
	}
}

// versions appends the resourceVersion of each object, and says whether
// all had one.
func versions[T metav1.Object](out []string, objs ...T) ([]string, bool) {
	for _, o := range objs {
		v := o.GetResourceVersion()
		if v == "" {
			return out, false
		}
		out = append(out, v)
	}
	return out, true
}

// record notes a lookup of objs under kind and k; r may be nil (nothing is
// being recorded).
func record[T metav1.Object](r *reads, kind readKind, k types.NamespacedName, objs ...T) {
	if r == nil || r.uncacheable {
		return
	}
	vs, ok := versions(nil, objs...)
	if !ok {
		r.uncacheable = true
		return
	}
	r.list = append(r.list, read{kind: kind, key: k, versions: vs})
}

// current says whether a lookup would find what it found before.
func (b *builder) current(rd read) bool {
	switch rd.kind {
	case readService:
		s := b.services[rd.key]
		if s == nil {
			return len(rd.versions) == 0
		}
		return len(rd.versions) == 1 && rd.versions[0] == s.ResourceVersion
	case readSlices:
		return sameVersions(rd.versions, b.slices[rd.key])
	case readGrants:
		return sameVersions(rd.versions, b.grants[rd.key.Namespace])
	case readPolicies:
		ts := b.policies[rd.key]
		if len(ts) != len(rd.versions) {
			return false
		}
		for i, t := range ts {
			if t.policy.ResourceVersion != rd.versions[i] {
				return false
			}
		}
		return true
	}
	return false
}

func sameVersions[T metav1.Object](have []string, objs []T) bool {
	if len(have) != len(objs) {
		return false
	}
	for i, o := range objs {
		if o.GetResourceVersion() != have[i] {
			return false
		}
	}
	return true
}

// ruleResults converts r's rules, or replays the conversion the cache
// holds when everything it read is as it was.
func (b *builder) ruleResults(r *route) []ruleResult {
	var e *cacheEntry
	if b.cache != nil {
		e = b.cache.used(r)
	}
	if e == nil {
		return r.rules(b)
	}
	if e.rules != nil {
		hit := true
		for _, rd := range e.reads {
			if !b.holds(rd) {
				hit = false
				break
			}
		}
		if hit {
			return e.rules
		}
	}
	rec := &reads{}
	b.rec = rec
	out := r.rules(b)
	b.rec = nil
	e.rules, e.reads, e.eval = nil, nil, nil
	if !rec.uncacheable {
		// A route with no rules converts to an empty, non-nil list so
		// that it is cached too.
		if out == nil {
			out = []ruleResult{}
		}
		e.rules, e.reads = out, make([]*sharedRead, len(rec.list))
		for i, rd := range rec.list {
			e.reads[i] = b.cache.share(rd)
		}
	}
	return out
}

// The lookups route conversion makes, recorded when b.rec is set.

func (b *builder) service(k types.NamespacedName) *corev1.Service {
	s := b.services[k]
	if s == nil {
		record[*corev1.Service](b.rec, readService, k)
	} else {
		record(b.rec, readService, k, s)
	}
	return s
}

func (b *builder) endpointSlices(svc types.NamespacedName) []*discoveryv1.EndpointSlice {
	es := b.slices[svc]
	record(b.rec, readSlices, svc, es...)
	return es
}

func (b *builder) grantsIn(namespace string) []*gwv1beta1.ReferenceGrant {
	gs := b.grants[namespace]
	record(b.rec, readGrants, types.NamespacedName{Namespace: namespace}, gs...)
	return gs
}

func (b *builder) policiesOf(svc types.NamespacedName) []policyTarget {
	ts := b.policies[svc]
	if b.rec != nil && !b.rec.uncacheable {
		ps := make([]*gwv1.BackendTLSPolicy, len(ts))
		for i, t := range ts {
			ps[i] = t.policy
		}
		record(b.rec, readPolicies, svc, ps...)
	}
	return ts
}
