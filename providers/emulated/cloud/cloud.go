package cloud

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/cloudgate-dev/cloudgate/providers/emulated/dataplane"
)

// DefaultAddressRange is where load balancers get their addresses by default.
// All of 127.0.0.0/8 routes to loopback on Linux, so binding needs no setup.
var DefaultAddressRange = netip.MustParsePrefix("127.100.0.0/16")

// Config configures a Cloud.
type Config struct {
	// AddressRange is the pool load balancer addresses come from; the zero
	// value means DefaultAddressRange. Its first (network) address is never
	// handed out.
	AddressRange netip.Prefix
	// Logger receives API and data plane logs; nil discards them.
	Logger *slog.Logger
}

// Cloud stores load balancers and runs their data planes. Its Go methods are
// what the HTTP API serves; tests may call them directly. It is safe for
// concurrent use.
type Cloud struct {
	prefix    netip.Prefix
	logger    *slog.Logger
	transport *http.Transport // shared by every data plane for keep-alive pooling
	h2c       *http.Transport // the same, for H2C target groups

	mu     sync.Mutex
	byID   map[string]*record
	byName map[string]*record
	inUse  map[netip.Addr]string // address → load balancer id
	// cursor is where the next allocation starts looking. Moving on instead of
	// reusing the lowest free address means a deleted load balancer's address
	// is not handed out again at once, so stale clients fail rather than reach
	// a stranger.
	cursor netip.Addr
	closed bool

	// ctl holds injected faults and request counts (faults.go); it has its
	// own lock so that counting never waits on a data plane change.
	ctl control
}

// record is one stored load balancer. Its lb is never changed in place,
// only replaced field by field with values nothing else holds (a new spec,
// new tags, a new listener slice), so that a shallow copy taken under c.mu
// is a snapshot that stays true after the lock is released: the HTTP API
// encodes such copies without cloning thousands of rules on every call.
type record struct {
	lb     LoadBalancer
	addr   netip.Addr
	server *dataplane.Server
	// compiled is what lb.Spec compiled to, for a patch to recompile
	// only what it changes.
	compiled *dataplane.Compiled
}

// New returns an empty Cloud. It opens no socket until a load balancer is
// created.
func New(cfg Config) *Cloud {
	prefix := cfg.AddressRange
	if !prefix.IsValid() {
		prefix = DefaultAddressRange
	}
	prefix = prefix.Masked()
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Cloud{
		prefix:    prefix,
		logger:    logger,
		transport: dataplane.NewTransport(),
		h2c:       dataplane.NewH2CTransport(),
		byID:      map[string]*record{},
		byName:    map[string]*record{},
		inUse:     map[netip.Addr]string{},
		cursor:    prefix.Addr().Next(),
	}
}

// AddressRange returns the range addresses are allocated from.
func (c *Cloud) AddressRange() netip.Prefix { return c.prefix }

// ListOptions filter List and ListPage.
type ListOptions struct {
	// Name, if set, must equal the load balancer's name.
	Name string
	// Tags must all be present with these values.
	Tags map[string]string
	// PageSize bounds a page of ListPage: 0 means DefaultPageSize, more
	// than MaxPageSize means MaxPageSize. List ignores it.
	PageSize int
	// PageToken is a previous page's NextPageToken: ListPage continues
	// after that page. List ignores it.
	PageToken string
}

func (r *record) matches(opts ListOptions) bool {
	if opts.Name != "" && r.lb.Name != opts.Name {
		return false
	}
	for k, v := range opts.Tags {
		if got, ok := r.lb.Tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Create stores a new load balancer, allocates its address and opens its
// listeners.
func (c *Cloud) Create(in LoadBalancer) (LoadBalancer, error) {
	// The store must not share the caller's maps and slices, nor the
	// caller the store's.
	out, err := c.create(clone(in))
	if err != nil {
		return LoadBalancer{}, err
	}
	return clone(out), nil
}

// create is Create for a caller that gives up in (the API's decoded body)
// and only reads what it gets back (a snapshot shared with the store).
func (c *Cloud) create(in LoadBalancer) (LoadBalancer, error) {
	if err := validateMeta(in); err != nil {
		return LoadBalancer{}, err
	}
	compiled, err := c.compile(in.Spec)
	if err != nil {
		return LoadBalancer{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return LoadBalancer{}, errClosed
	}
	if _, dup := c.byName[in.Name]; dup {
		return LoadBalancer{}, errorf(http.StatusConflict, CodeAlreadyExists, "load balancer %q already exists", in.Name)
	}
	id := newID()
	addr, aerr := c.allocate(in.Spec, netip.Addr{})
	if aerr != nil {
		return LoadBalancer{}, aerr
	}
	r := &record{
		lb:       LoadBalancer{ID: id, Name: in.Name, Tags: in.Tags, Spec: in.Spec, Version: 1},
		addr:     addr,
		server:   dataplane.NewServer(dataplane.Config{Address: addr, Transport: c.transport, H2CTransport: c.h2c, Logger: c.logger}),
		compiled: compiled,
	}
	c.inUse[addr] = id
	r.setState(r.server.Apply(compiled))
	c.byID[id], c.byName[in.Name] = r, r
	c.logger.Info("Created load balancer", "id", id, "name", in.Name, "address", addr)
	return r.lb, nil
}

// Get returns the load balancer with the given id.
func (c *Cloud) Get(id string) (LoadBalancer, error) {
	out, err := c.get(id)
	if err != nil {
		return LoadBalancer{}, err
	}
	return clone(out), nil
}

// get is Get with a snapshot shared with the store, for reading only.
func (c *Cloud) get(id string) (LoadBalancer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.byID[id]
	if !ok {
		return LoadBalancer{}, errorf(http.StatusNotFound, CodeNotFound, "load balancer %q not found", id)
	}
	return r.lb, nil
}

// List returns every load balancer that matches opts, sorted by name, in one
// slice: the Go view for tests and tools. The API pages (ListPage).
func (c *Cloud) List(opts ListOptions) []LoadBalancer {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []LoadBalancer{}
	for _, r := range c.byID {
		if r.matches(opts) {
			out = append(out, clone(r.lb))
		}
	}
	slices.SortFunc(out, func(a, b LoadBalancer) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// ListPage returns one page of the load balancers that match opts, in the
// order of their ids. A page token holds the last id of its page, so paging
// stays stable while others create and delete: a load balancer created
// meanwhile shows up if its id sorts after the token's, as in real clouds'
// lists. NextPageToken is set only when another load balancer follows, so
// reading N load balancers takes ceil(N/pageSize) requests (one when none).
func (c *Cloud) ListPage(opts ListOptions) (List, error) {
	page, err := c.listPage(opts)
	for i := range page.Items {
		page.Items[i] = clone(page.Items[i])
	}
	return page, err
}

// listPage is ListPage with snapshots shared with the store, for reading
// only.
func (c *Cloud) listPage(opts ListOptions) (List, error) {
	size := opts.PageSize
	switch {
	case size < 0:
		return List{}, errorf(http.StatusBadRequest, CodeInvalid, "pageSize %d must not be negative", size)
	case size == 0:
		size = DefaultPageSize
	case size > MaxPageSize:
		size = MaxPageSize
	}
	after := ""
	if opts.PageToken != "" {
		var ok bool
		if after, ok = decodePageToken(opts.PageToken); !ok {
			return List{}, errorf(http.StatusBadRequest, CodeInvalid, "pageToken %q is not one this API gave", opts.PageToken)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var found []*record
	for id, r := range c.byID {
		if id > after && r.matches(opts) {
			found = append(found, r)
		}
	}
	slices.SortFunc(found, func(a, b *record) int { return strings.Compare(a.lb.ID, b.lb.ID) })
	out := List{Items: []LoadBalancer{}}
	for _, r := range found[:min(size, len(found))] {
		out.Items = append(out.Items, r.lb)
	}
	if len(found) > size {
		out.NextPageToken = encodePageToken(out.Items[size-1].ID)
	}
	return out, nil
}

// Page tokens are opaque to clients; the version prefix lets the format
// change without old tokens being misread.
const pageTokenPrefix = "v1/"

func encodePageToken(lastID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(pageTokenPrefix + lastID))
}

func decodePageToken(token string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", false
	}
	id, ok := strings.CutPrefix(string(b), pageTokenPrefix)
	return id, ok && id != ""
}

// Replace sets the tags and spec of load balancer id. in.Version must equal the
// stored version, so that a writer working from a stale read fails with 409
// VersionConflict instead of undoing someone else's change.
func (c *Cloud) Replace(id string, in LoadBalancer) (LoadBalancer, error) {
	out, err := c.replace(id, clone(in))
	if err != nil {
		return LoadBalancer{}, err
	}
	return clone(out), nil
}

// replace is Replace for a caller that gives up in and only reads what it
// gets back (a snapshot shared with the store).
func (c *Cloud) replace(id string, in LoadBalancer) (LoadBalancer, error) {
	return c.recompile(id, in, nil, dataplane.Unchanged{})
}

// recompile is replace for a spec of which same names the parts that are
// as in the spec prev was compiled from (a patch's kept parts).
func (c *Cloud) recompile(id string, in LoadBalancer, prev *dataplane.Compiled, same dataplane.Unchanged) (LoadBalancer, error) {
	if in.Version == 0 {
		return LoadBalancer{}, errorf(http.StatusBadRequest, CodeInvalid, "version is required")
	}
	compiled, err := c.compileFrom(prev, in.Spec, same)
	if err != nil {
		return LoadBalancer{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return LoadBalancer{}, errClosed
	}
	r, ok := c.byID[id]
	if !ok {
		return LoadBalancer{}, errorf(http.StatusNotFound, CodeNotFound, "load balancer %q not found", id)
	}
	if in.Name == "" {
		in.Name = r.lb.Name
	}
	if err := validateMeta(in); err != nil {
		return LoadBalancer{}, err
	}
	if in.Name != r.lb.Name {
		return LoadBalancer{}, errorf(http.StatusBadRequest, CodeInvalid, "name cannot change")
	}
	if in.Version != r.lb.Version {
		return LoadBalancer{}, errorf(http.StatusConflict, CodeVersionConflict,
			"load balancer %q is at version %d, not %d", id, r.lb.Version, in.Version)
	}
	addr, aerr := c.allocate(in.Spec, r.addr)
	if aerr != nil {
		return LoadBalancer{}, aerr
	}
	if addr != r.addr {
		// A new address needs new sockets: close the old ones, then free it.
		_ = r.server.Close()
		delete(c.inUse, r.addr)
		c.inUse[addr] = id
		r.addr = addr
		r.server = dataplane.NewServer(dataplane.Config{Address: addr, Transport: c.transport, H2CTransport: c.h2c, Logger: c.logger})
	}
	r.lb.Tags, r.lb.Spec = in.Tags, in.Spec
	r.lb.Version++
	r.compiled = compiled
	r.setState(r.server.Apply(compiled))
	c.logger.Info("Replaced load balancer", "id", id, "name", r.lb.Name, "version", r.lb.Version)
	return r.lb, nil
}

// Patch replaces the spec and tags of load balancer id with what p makes of
// the stored spec (see Patch), as Replace would with the whole of it.
func (c *Cloud) Patch(id string, p Patch) (LoadBalancer, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return LoadBalancer{}, err
	}
	var own Patch
	if err := json.Unmarshal(b, &own); err != nil {
		return LoadBalancer{}, err
	}
	out, err := c.patch(id, own)
	if err != nil {
		return LoadBalancer{}, err
	}
	return clone(out), nil
}

// patch is Patch for a caller that gives up p and only reads what it gets
// back. The stored spec is read under the lock, merged outside it, and
// replace checks the version again: a replace in between fails with 409.
func (c *Cloud) patch(id string, p Patch) (LoadBalancer, error) {
	if p.Version == 0 {
		return LoadBalancer{}, errorf(http.StatusBadRequest, CodeInvalid, "version is required")
	}
	c.mu.Lock()
	r, ok := c.byID[id]
	var cur LoadBalancer
	var prev *dataplane.Compiled
	if ok {
		cur, prev = r.lb, r.compiled // of one version: read together
	}
	c.mu.Unlock()
	if !ok {
		return LoadBalancer{}, errorf(http.StatusNotFound, CodeNotFound, "load balancer %q not found", id)
	}
	if p.Version != cur.Version {
		return LoadBalancer{}, errorf(http.StatusConflict, CodeVersionConflict,
			"load balancer %q is at version %d, not %d", id, cur.Version, p.Version)
	}
	spec, same, perr := p.apply(cur.Spec)
	if perr != nil {
		return LoadBalancer{}, perr
	}
	return c.recompile(id, LoadBalancer{Name: cur.Name, Tags: p.Tags, Spec: spec, Version: p.Version}, prev, same)
}

// Delete removes load balancer id, closes its ports and frees its address.
func (c *Cloud) Delete(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.byID[id]
	if !ok {
		return errorf(http.StatusNotFound, CodeNotFound, "load balancer %q not found", id)
	}
	_ = r.server.Close()
	delete(c.byID, id)
	delete(c.byName, r.lb.Name)
	delete(c.inUse, r.addr)
	c.logger.Info("Deleted load balancer", "id", id, "name", r.lb.Name)
	return nil
}

// Close closes every data plane socket. The Cloud refuses changes afterwards.
func (c *Cloud) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, r := range c.byID {
		_ = r.server.Close()
	}
	c.transport.CloseIdleConnections()
	c.h2c.CloseIdleConnections()
	return nil
}

var errClosed = errorf(http.StatusServiceUnavailable, CodeUnavailable, "the cloud is shutting down")

func (r *record) setState(states []dataplane.ListenerState) {
	r.lb.Address = r.addr.String()
	r.lb.State = StateActive
	r.lb.Listeners = make([]ListenerStatus, len(states))
	for i, s := range states {
		r.lb.Listeners[i] = ListenerStatus{Name: s.Name, Port: s.Port, Protocol: s.Protocol, Bound: s.Bound, Message: s.Error}
		if !s.Bound {
			r.lb.State = StateDegraded
		}
	}
}

// allocate returns the address for spec: the requested one if any (which must
// be in range and free, or already current's), else current if valid, else
// the next free address. Options.Addresses (the Gateway's spec.addresses)
// is the request, else the emulated options' Address (the parameters').
// The caller holds c.mu.
func (c *Cloud) allocate(spec Spec, current netip.Addr) (netip.Addr, *Error) {
	req := spec.Options.Addresses
	if e := spec.Options.Emulated; len(req) == 0 && e != nil && e.Address != "" {
		req = []string{e.Address}
	}
	switch len(req) {
	case 0:
	case 1:
		a, err := netip.ParseAddr(req[0])
		if err != nil {
			return netip.Addr{}, errorf(http.StatusBadRequest, CodeInvalid, "requested address %q is not an IP address", req[0])
		}
		if !c.prefix.Contains(a) || a == c.prefix.Addr() {
			return netip.Addr{}, errorf(http.StatusBadRequest, CodeAddressNotUsable, "requested address %s is outside the range %s", a, c.prefix)
		}
		if a != current && c.inUse[a] != "" {
			return netip.Addr{}, errorf(http.StatusBadRequest, CodeAddressNotUsable, "requested address %s is already in use", a)
		}
		return a, nil
	default:
		return netip.Addr{}, errorf(http.StatusBadRequest, CodeAddressNotUsable, "the emulated cloud gives a load balancer one address, %d requested", len(req))
	}
	if current.IsValid() {
		return current, nil
	}
	first := c.prefix.Addr().Next()
	if !c.prefix.Contains(first) {
		return netip.Addr{}, errorf(http.StatusServiceUnavailable, CodeUnavailable, "address range %s has no address to give", c.prefix)
	}
	start := c.cursor
	if !c.prefix.Contains(start) {
		start = first
	}
	for a := start; ; {
		if c.inUse[a] == "" {
			c.cursor = a.Next()
			return a, nil
		}
		if a = a.Next(); !c.prefix.Contains(a) {
			a = first
		}
		if a == start || !a.IsValid() {
			return netip.Addr{}, errorf(http.StatusServiceUnavailable, CodeUnavailable, "address range %s is exhausted", c.prefix)
		}
	}
}

var namePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func validateMeta(in LoadBalancer) *Error {
	if !namePattern.MatchString(in.Name) {
		return errorf(http.StatusBadRequest, CodeInvalid,
			"name %q must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit", in.Name)
	}
	for k := range in.Tags {
		if k == "" || len(k) > 253 {
			return errorf(http.StatusBadRequest, CodeInvalid, "tag key %q must be 1 to 253 characters", k)
		}
	}
	return nil
}

// Check reports whether the cloud would accept in as a new load balancer's
// configuration, without storing anything or opening a socket: the checks
// Create makes of the request itself (injected faults and the address range
// aside).
func Check(in LoadBalancer) error {
	if err := validateMeta(in); err != nil {
		return err
	}
	_, err := (&Cloud{}).compile(in.Spec)
	return err
}

func (c *Cloud) compile(spec Spec) (*dataplane.Compiled, error) {
	return c.compileFrom(nil, spec, dataplane.Unchanged{})
}

func (c *Cloud) compileFrom(prev *dataplane.Compiled, spec Spec, same dataplane.Unchanged) (*dataplane.Compiled, error) {
	if err := c.refusal(spec); err != nil {
		return nil, err
	}
	compiled, err := dataplane.Recompile(prev, dataplane.Spec{
		Listeners:    spec.Listeners,
		TargetGroups: spec.TargetGroups,
		Emulated:     spec.Options.Emulated,
		IdleTimeout:  spec.Options.IdleTimeout,
	}, same)
	if err != nil {
		e := errorf(http.StatusBadRequest, CodeInvalid, "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
		// The data plane's kinds are the API's: this cloud's spec is the
		// model itself.
		for _, el := range dataplane.Faults(err) {
			e.Elements = append(e.Elements, Element{Kind: string(el.Kind), Name: el.Name})
		}
		return nil, e
	}
	return compiled, nil
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "lb-" + hex.EncodeToString(b[:])
}

// clone deep-copies a load balancer, so that callers of the Go methods cannot
// change the store behind its lock. The JSON round trip is the API's own
// representation, which keeps Go callers and HTTP callers seeing the same.
func clone(in LoadBalancer) LoadBalancer {
	b, err := json.Marshal(in)
	if err != nil {
		panic(err) // only plain data: cannot fail
	}
	var out LoadBalancer
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}
