package gcptest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// SelfLinkBase is the prefix of every selfLink the double writes: the real
// API's, so that links compare equal whether the provider talks to GCP or to
// the double.
const SelfLinkBase = "https://www.googleapis.com/compute/v1/"

// Config says which project, region and zones the double serves. Requests
// for any other project, region or zone get 404, as an unknown one does in
// GCP.
type Config struct {
	// Project defaults to "cloudgate-test".
	Project string
	// Region defaults to "us-central1".
	Region string
	// Zones default to Region plus "-a", "-b" and "-c".
	Zones []string
	// OperationDelay is how long after a mutation its Operation reports
	// DONE (0: at once).
	OperationDelay time.Duration
	// Subnetworks are stored in Region before the first request, for
	// example the proxy-only subnet that regional managed load balancers
	// need (purpose REGIONAL_MANAGED_PROXY, role ACTIVE).
	Subnetworks []*computepb.Subnetwork
	// ExternalAddresses, when set, is the range external addresses are
	// allocated from instead of 100.64.0.0/10: a loopback range lets a
	// test data plane (urlmapplane) serve each forwarding rule on its own
	// address, so that clients dial the Gateway's address unchanged.
	ExternalAddresses netip.Prefix
	// Seed seeds the random choice of fractional faults, so a run repeats.
	Seed uint64
	// Logger receives one line per refused request; nil discards.
	Logger *slog.Logger
}

// ProxyOnlySubnet returns the proxy-only subnet that `cloudgate gcp-double`
// seeds by default, in network "default".
func ProxyOnlySubnet() *computepb.Subnetwork {
	return &computepb.Subnetwork{
		Name:        proto.String("proxy-only"),
		Network:     proto.String("global/networks/default"),
		IpCidrRange: proto.String("10.129.0.0/23"),
		Purpose:     proto.String("REGIONAL_MANAGED_PROXY"),
		Role:        proto.String("ACTIVE"),
	}
}

// Double is the fake compute API. It is an http.Handler; Start serves it on
// a listener. All methods are safe for concurrent use.
type Double struct {
	project string
	region  string
	zones   []string
	logger  *slog.Logger

	mu      sync.Mutex
	objects map[string]proto.Message // by ref: "projects/P/regions/R/urlMaps/N"
	// endpoints of each network endpoint group, by the group's ref
	endpoints map[string][]*computepb.NetworkEndpoint
	ids       uint64
	gen       uint64
	ips       map[string]netip.Addr // next free address by pool
	ops       map[string]*operation // by ref of the operation
	opDelay   time.Duration
	external  netip.Prefix // Config.ExternalAddresses
	calls     map[string]int
	faults    []*Fault
	faulted   int
	hooks     []*Hook
	rnd       *rand.Rand
	now       func() time.Time
	timeouts  waitTimeouts
}

type waitTimeouts struct{ max time.Duration }

// New returns a Double holding cfg's seeded subnetworks and nothing else.
func New(cfg Config) (*Double, error) {
	if cfg.Project == "" {
		cfg.Project = "cloudgate-test"
	}
	if cfg.Region == "" {
		cfg.Region = "us-central1"
	}
	if len(cfg.Zones) == 0 {
		cfg.Zones = []string{cfg.Region + "-a", cfg.Region + "-b", cfg.Region + "-c"}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d := &Double{
		project:   cfg.Project,
		region:    cfg.Region,
		zones:     slices.Clone(cfg.Zones),
		logger:    cfg.Logger,
		objects:   map[string]proto.Message{},
		endpoints: map[string][]*computepb.NetworkEndpoint{},
		ips:       map[string]netip.Addr{},
		ops:       map[string]*operation{},
		opDelay:   cfg.OperationDelay,
		external:  cfg.ExternalAddresses,
		calls:     map[string]int{},
		rnd:       rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		now:       time.Now,
		timeouts:  waitTimeouts{max: 2 * time.Minute},
	}
	for _, s := range cfg.Subnetworks {
		if _, err := d.Create("regions/"+cfg.Region, s); err != nil {
			return nil, fmt.Errorf("gcptest: seed subnetwork %q: %w", s.GetName(), err)
		}
	}
	return d, nil
}

// Project, Region and Zones are what the double serves.
func (d *Double) Project() string { return d.project }
func (d *Double) Region() string  { return d.region }
func (d *Double) Zones() []string { return slices.Clone(d.zones) }

// SetOperationDelay changes how long later operations take to be DONE.
func (d *Double) SetOperationDelay(delay time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.opDelay = delay
}

// request is one parsed API call.
type request struct {
	method string // the Discovery method id, "compute.regionUrlMaps.insert"
	scope  string // "global", "regions/R" or "zones/Z"
	coll   *collection
	name   string // the object's name, "" for insert and list
	verb   string // insert, get, list, delete, patch, update, or a custom verb
	http   *http.Request
}

func (r *request) ref(project string) string { return objectRef(project, r.scope, r.coll.name, r.name) }

func objectRef(project, scope, coll, name string) string {
	return "projects/" + project + "/" + scope + "/" + coll + "/" + name
}

// ServeHTTP answers the compute API under /compute/v1/ and the double's own
// control API under /gcptest/v1/ (see control.go).
func (d *Double) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		d.serveControl(w, r)
		return
	}
	req, aerr := d.parse(r)
	if aerr != nil {
		d.logger.Info("Refused request", "method", r.Method, "path", r.URL.Path, "error", aerr)
		writeError(w, aerr)
		return
	}
	hooks, call := d.hooksFor(req.method, r)
	runHooks(hooks, call, false)
	fault := d.count(req.method)
	var body []byte
	if fault == nil || fault.AfterApply {
		body, aerr = d.dispatch(req)
	}
	switch {
	case fault != nil:
		// With AfterApply, the change (if any) happened; the answer is
		// lost either way.
		aerr = fault.apiError()
	case aerr != nil:
		d.logger.Info("Refused request", "method", req.method, "path", r.URL.Path, "error", aerr)
	}
	if hooks != nil {
		call.Code = http.StatusOK
		if aerr != nil {
			call.Code = aerr.code
		}
		runHooks(hooks, call, true)
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(body)
}

// parse maps a URL onto a collection, scope, name and verb.
func (d *Double) parse(r *http.Request) (*request, *apiError) {
	p, ok := strings.CutPrefix(r.URL.Path, "/compute/v1/")
	if !ok {
		return nil, errorf(http.StatusNotFound, "notFound", "no such API path %q", r.URL.Path)
	}
	segs := strings.Split(strings.Trim(p, "/"), "/")
	if len(segs) < 3 || segs[0] != "projects" {
		return nil, errorf(http.StatusNotFound, "notFound", "no such API path %q", r.URL.Path)
	}
	if segs[1] != d.project {
		return nil, notFound("projects/" + segs[1])
	}
	segs = segs[2:]
	var scope string
	switch segs[0] {
	case "aggregated":
		c := collections[segs[len(segs)-1]]
		if len(segs) != 2 || r.Method != http.MethodGet || c == nil || c.name == "operations" {
			return nil, errorf(http.StatusNotFound, "notFound", "gcptest does not serve %s %s", r.Method, r.URL.Path)
		}
		id := c.global
		if c.zonal != "" && c.global == "" {
			id = c.zonal
		} else if c.regional != "" && c.global == "" {
			id = c.regional
		}
		return &request{scope: "aggregated", coll: c, verb: "aggregatedList", http: r, method: "compute." + id + ".aggregatedList"}, nil
	case "global":
		scope, segs = "global", segs[1:]
	case "regions", "zones":
		if len(segs) < 3 {
			return nil, errorf(http.StatusNotFound, "notFound", "no such API path %q", r.URL.Path)
		}
		if segs[0] == "regions" && segs[1] != d.region || segs[0] == "zones" && !slices.Contains(d.zones, segs[1]) {
			return nil, notFound("projects/" + d.project + "/" + segs[0] + "/" + segs[1])
		}
		scope, segs = segs[0]+"/"+segs[1], segs[2:]
	default:
		// The global target proxies' setUrlMap and setSslCertificates
		// live at projects/P/targetHttpProxies/N/setUrlMap, without
		// "global".
		scope = "global"
	}
	if len(segs) == 0 || len(segs) > 3 {
		return nil, errorf(http.StatusNotFound, "notFound", "no such API path %q", r.URL.Path)
	}
	c := collections[segs[0]]
	if c == nil || !c.in(scope) {
		return nil, errorf(http.StatusNotFound, "notFound", "gcptest does not serve %s in %s", segs[0], scope)
	}
	req := &request{scope: scope, coll: c, http: r}
	switch {
	case len(segs) == 1 && r.Method == http.MethodGet:
		req.verb = "list"
	case len(segs) == 1 && r.Method == http.MethodPost:
		req.verb = "insert"
	case len(segs) == 2:
		req.name = segs[1]
		switch r.Method {
		case http.MethodGet:
			req.verb = "get"
		case http.MethodDelete:
			req.verb = "delete"
		case http.MethodPatch:
			req.verb = "patch"
		case http.MethodPut:
			req.verb = "update"
		}
	case len(segs) == 3 && r.Method == http.MethodPost:
		req.name, req.verb = segs[1], segs[2]
	}
	if req.verb == "" || !c.allows(req.verb) {
		return nil, errorf(http.StatusNotFound, "notFound", "gcptest does not serve %s %s", r.Method, r.URL.Path)
	}
	req.method = "compute." + c.resourceID(scope) + "." + req.verb
	return req, nil
}

// decode reads a request body into m, refusing unknown fields as the API
// does.
func decode(r *http.Request, m proto.Message) *apiError {
	b, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return invalid("reading the request body: %v", err)
	}
	if len(b) == 0 {
		return invalid("Invalid JSON payload received: the request has no body")
	}
	if err := protojson.Unmarshal(b, m); err != nil {
		return invalid("Invalid JSON payload received. %v", err)
	}
	return nil
}

func (d *Double) dispatch(req *request) ([]byte, *apiError) {
	if req.coll.name == "operations" {
		return d.serveOperation(req)
	}
	switch req.verb {
	case "list":
		return d.list(req)
	case "aggregatedList":
		return d.aggregatedList(req)
	case "get":
		d.mu.Lock()
		defer d.mu.Unlock()
		obj, ok := d.objects[req.ref(d.project)]
		if !ok {
			return nil, notFound(req.ref(d.project))
		}
		return marshal(d.present(obj))
	case "insert":
		obj := req.coll.newObj()
		if aerr := decode(req.http, obj); aerr != nil {
			return nil, aerr
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		ref, aerr := d.insert(req.scope, req.coll, obj)
		if aerr != nil {
			return nil, aerr
		}
		return d.operationFor(req, ref, "insert")
	case "delete":
		d.mu.Lock()
		defer d.mu.Unlock()
		if aerr := d.remove(req.ref(d.project)); aerr != nil {
			return nil, aerr
		}
		return d.operationFor(req, req.ref(d.project), "delete")
	}
	v := req.coll.verbs[req.verb]
	body := v.body(req.scope)
	if aerr := decode(req.http, body); aerr != nil {
		return nil, aerr
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ref := req.ref(d.project)
	obj, ok := d.objects[ref]
	if !ok {
		return nil, notFound(ref)
	}
	if v.run != nil {
		return v.run(d, req, ref, obj, body)
	}
	next := proto.Clone(obj)
	if aerr := v.apply(d, next, body); aerr != nil {
		return nil, aerr
	}
	if aerr := d.replace(ref, req.coll, obj, next); aerr != nil {
		return nil, aerr
	}
	return d.operationFor(req, ref, req.verb)
}

// insert stores obj, new, in scope. d.mu is held.
func (d *Double) insert(scope string, c *collection, obj proto.Message) (string, *apiError) {
	name := getString(obj, "name")
	if aerr := checkName(name); aerr != nil {
		return "", aerr
	}
	ref := objectRef(d.project, scope, c.name, name)
	if _, ok := d.objects[ref]; ok {
		return "", errorf(http.StatusConflict, "alreadyExists", "The resource '%s' already exists", ref)
	}
	if c.prepare != nil {
		if aerr := c.prepare(d, scope, obj); aerr != nil {
			return "", aerr
		}
	}
	if aerr := d.validate(ref, c, obj); aerr != nil {
		return "", aerr
	}
	d.ids++
	setUint64(obj, "id", 1000000000000000000+d.ids)
	setString(obj, "creation_timestamp", d.now().UTC().Format("2006-01-02T15:04:05.000-07:00"))
	setString(obj, "self_link", SelfLinkBase+ref)
	setString(obj, "kind", "compute#"+c.kind)
	switch kind, loc, _ := strings.Cut(scope, "/"); kind {
	case "regions":
		setString(obj, "region", SelfLinkBase+"projects/"+d.project+"/regions/"+loc)
	case "zones":
		setString(obj, "zone", SelfLinkBase+"projects/"+d.project+"/zones/"+loc)
	}
	d.stamp(ref, obj, true, true)
	d.objects[ref] = obj
	return ref, nil
}

// replace stores next in place of prev after the same checks as an insert;
// output-only fields keep their values. d.mu is held.
func (d *Double) replace(ref string, c *collection, prev, next proto.Message) *apiError {
	for _, f := range []string{"name", "id", "creation_timestamp", "self_link", "kind", "region", "zone"} {
		copyField(prev, next, f)
	}
	if aerr := d.validate(ref, c, next); aerr != nil {
		return aerr
	}
	labelsChanged := !maps.Equal(labelsOf(prev), labelsOf(next))
	copyField(prev, next, "label_fingerprint")
	copyField(prev, next, "fingerprint")
	d.stamp(ref, next, true, labelsChanged)
	d.objects[ref] = next
	return nil
}

// stamp gives obj new fingerprints: every change changes them, so a writer
// that read an older version gets 412.
func (d *Double) stamp(ref string, obj proto.Message, fingerprint, labels bool) {
	d.gen++
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", ref, d.gen))
	fp := base64.StdEncoding.EncodeToString(sum[:8])
	if fingerprint && hasField(obj, "fingerprint") {
		setString(obj, "fingerprint", fp)
	}
	if labels && hasField(obj, "label_fingerprint") {
		setString(obj, "label_fingerprint", fp)
	}
}

// remove deletes ref unless something refers to it. d.mu is held.
func (d *Double) remove(ref string) *apiError {
	if _, ok := d.objects[ref]; !ok {
		return notFound(ref)
	}
	if users := d.users(ref); len(users) > 0 {
		return errorf(http.StatusBadRequest, "resourceInUseByAnotherResource",
			"The resource '%s' is already being used by '%s'", ref, users[0])
	}
	delete(d.objects, ref)
	delete(d.endpoints, ref)
	return nil
}

func marshal(m proto.Message) ([]byte, *apiError) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, errorf(http.StatusInternalServerError, "backendError", "gcptest: marshal: %v", err)
	}
	return b, nil
}
