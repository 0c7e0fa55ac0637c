package cloud

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// ownerTag says which Gateway a request concerns. Faults scoped to one
// Gateway and the per-Gateway request counts read it: the one place the cloud
// looks into tags, for tests; the store never does.
const ownerTag = lb.TagGatewayUID

// control is the emulation's own instrument panel: faults that tests inject,
// and counts of the API requests served. Neither reaches the store.
type control struct {
	mu sync.Mutex
	// The next left requests of anyone fail with status.
	left, status int
	owners       map[string]ownerFault // by gateway-uid
	requests     map[string]int64      // by HTTP method
	byOwner      map[string]int64      // by gateway-uid
	// refuse: rules whose name contains it are refused as invalid.
	refuse string
}

type ownerFault struct {
	status int
	until  time.Time // zero: until cleared
}

// InjectFaults makes the next n API requests fail with status (for example
// 429 or 503) before they reach the store, so tests can prove that clients
// retry. It does not affect the Go methods. n = 0 clears it.
func (c *Cloud) InjectFaults(n, status int) {
	c.ctl.mu.Lock()
	defer c.ctl.mu.Unlock()
	c.ctl.left, c.ctl.status = n, status
}

// InjectOwnerFault makes every API request concerning the Gateway with this
// UID fail with status (for example 429 or 503) before it reaches the store:
// for d, or until ClearOwnerFault when d is zero. It replaces an earlier fault
// for that Gateway. A request concerns a Gateway when it carries the
// Gateway's cloudgate.dev/gateway-uid tag (a list filtered by it, a create
// or replace whose body has it) or names a load balancer that has it (get,
// replace, delete). Other Gateways' requests, and lists not filtered by that
// tag (a cluster-wide list), pass: one Gateway's outage must not be
// everyone's. It does not affect the Go methods.
func (c *Cloud) InjectOwnerFault(gatewayUID string, status int, d time.Duration) {
	f := ownerFault{status: status}
	if d > 0 {
		f.until = time.Now().Add(d)
	}
	c.ctl.mu.Lock()
	defer c.ctl.mu.Unlock()
	if c.ctl.owners == nil {
		c.ctl.owners = map[string]ownerFault{}
	}
	c.ctl.owners[gatewayUID] = f
}

// ClearOwnerFault ends InjectOwnerFault's fault for that Gateway.
func (c *Cloud) ClearOwnerFault(gatewayUID string) {
	c.ctl.mu.Lock()
	defer c.ctl.mu.Unlock()
	delete(c.ctl.owners, gatewayUID)
}

// RefuseRules makes the cloud refuse, as invalid (400 naming each such rule),
// every load balancer with a rule whose name contains nameContains: a stand-in
// for a limit of a real cloud that mapping does not know of, so that tests
// can reach the controller's backstop. Empty clears it. Unlike the other
// faults it applies to the Go methods too, since it is about content.
func (c *Cloud) RefuseRules(nameContains string) {
	c.ctl.mu.Lock()
	defer c.ctl.mu.Unlock()
	c.ctl.refuse = nameContains
}

// refusal is RefuseRules' answer for spec, nil when it passes.
func (c *Cloud) refusal(spec Spec) error {
	c.ctl.mu.Lock()
	refuse := c.ctl.refuse
	c.ctl.mu.Unlock()
	if refuse == "" {
		return nil
	}
	var bad []Element
	for _, l := range spec.Listeners {
		for _, vh := range l.VirtualHosts {
			for _, r := range vh.Rules {
				if strings.Contains(r.Name, refuse) {
					bad = append(bad, Element{Kind: ElementRule, Name: r.Name})
				}
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	e := errorf(http.StatusBadRequest, CodeInvalid, "%d rules exceed a limit of this cloud", len(bad))
	e.Elements = bad
	return e
}

// ClearFaults ends every injected fault, of anyone and of each Gateway.
func (c *Cloud) ClearFaults() {
	c.ctl.mu.Lock()
	defer c.ctl.mu.Unlock()
	c.ctl.left, c.ctl.owners = 0, nil
}

// Stats counts the API requests the cloud received since it started (or
// since ResetStats), failed ones included: what a client costs the cloud.
// The fault and stats endpoints are not counted.
type Stats struct {
	// Requests by HTTP method: GET reads; POST, PUT, PATCH and DELETE write.
	Requests map[string]int64 `json:"requests"`
	// Owners counts the requests concerning each Gateway, by its UID (see
	// InjectOwnerFault for what concerns a Gateway). A cluster-wide list
	// concerns none.
	Owners map[string]int64 `json:"owners"`
}

// Reads is the number of GET requests.
func (s Stats) Reads() int64 { return s.Requests[http.MethodGet] }

// Writes is the number of POST, PUT, PATCH and DELETE requests.
func (s Stats) Writes() int64 {
	return s.Requests[http.MethodPost] + s.Requests[http.MethodPut] + s.Requests[http.MethodPatch] + s.Requests[http.MethodDelete]
}

// Stats returns a copy of the request counts.
func (c *Cloud) Stats() Stats {
	c.ctl.mu.Lock()
	defer c.ctl.mu.Unlock()
	s := Stats{Requests: map[string]int64{}, Owners: map[string]int64{}}
	for k, v := range c.ctl.requests {
		s.Requests[k] = v
	}
	for k, v := range c.ctl.byOwner {
		s.Owners[k] = v
	}
	return s
}

// ResetStats sets every request count back to zero.
func (c *Cloud) ResetStats() {
	c.ctl.mu.Lock()
	defer c.ctl.mu.Unlock()
	c.ctl.requests, c.ctl.byOwner = nil, nil
}

// admit counts one API request and says whether an injected fault fails it,
// with which status.
func (c *Cloud) admit(method string, owners []string) (int, bool) {
	c.ctl.mu.Lock()
	defer c.ctl.mu.Unlock()
	if c.ctl.requests == nil {
		c.ctl.requests, c.ctl.byOwner = map[string]int64{}, map[string]int64{}
	}
	c.ctl.requests[method]++
	for _, o := range owners {
		c.ctl.byOwner[o]++
	}
	if c.ctl.left > 0 {
		c.ctl.left--
		return c.ctl.status, true
	}
	now := time.Now()
	for _, o := range owners {
		f, ok := c.ctl.owners[o]
		switch {
		case !ok:
		case !f.until.IsZero() && !now.Before(f.until):
			delete(c.ctl.owners, o) // expired
		default:
			return f.status, true
		}
	}
	return 0, false
}

// concerns returns the UIDs of the Gateways an API request concerns (see
// InjectOwnerFault). It reads a create's or replace's body and gives the
// request an equivalent one.
func (c *Cloud) concerns(r *http.Request) []string {
	var uids []string
	add := func(u string) {
		if u != "" && !slices.Contains(uids, u) {
			uids = append(uids, u)
		}
	}
	switch id, one := strings.CutPrefix(r.URL.Path, "/v1/loadbalancers/"); {
	case one:
		c.mu.Lock()
		if rec := c.byID[id]; rec != nil {
			add(rec.lb.Tags[ownerTag])
		}
		c.mu.Unlock()
	case r.URL.Path == "/v1/loadbalancers" && r.Method == http.MethodGet:
		for _, t := range r.URL.Query()["tag"] {
			if k, v, ok := strings.Cut(t, "="); ok && k == ownerTag {
				add(v)
			}
		}
	}
	if (r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch) && r.Body != nil {
		// One byte over the limit is enough for decode to refuse the body.
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		r.Body = io.NopCloser(bytes.NewReader(body))
		var in struct {
			Tags map[string]string `json:"tags"`
		}
		if json.Unmarshal(body, &in) == nil {
			add(in.Tags[ownerTag])
		}
	}
	return uids
}

// Fault is the body of POST /v1/faults, which injects a fault into a cloud
// that runs as its own process.
type Fault struct {
	// Status is what the failed requests get, 400 to 599.
	Status int `json:"status"`
	// GatewayUID scopes the fault to the requests concerning that Gateway
	// (InjectOwnerFault). Empty means the next Count requests of anyone
	// (InjectFaults).
	GatewayUID string `json:"gatewayUID,omitempty"`
	Count      int    `json:"count,omitempty"`
	// Duration bounds a Gateway's fault, in time.ParseDuration's form
	// ("30s"); empty lasts until DELETE /v1/faults.
	Duration string `json:"duration,omitempty"`
}

func (c *Cloud) handleInjectFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if !decode(w, r, &f) {
		return
	}
	if f.Status < 400 || f.Status > 599 {
		writeError(w, errorf(http.StatusBadRequest, CodeInvalid, "status %d is not an error status (400 to 599)", f.Status))
		return
	}
	if f.GatewayUID == "" {
		if f.Count < 0 || f.Duration != "" {
			writeError(w, errorf(http.StatusBadRequest, CodeInvalid, "a fault of anyone takes a count of requests, not a duration"))
			return
		}
		c.InjectFaults(f.Count, f.Status)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var d time.Duration
	if f.Duration != "" {
		var err error
		if d, err = time.ParseDuration(f.Duration); err != nil || d <= 0 {
			writeError(w, errorf(http.StatusBadRequest, CodeInvalid, "duration %q is not a positive duration", f.Duration))
			return
		}
	}
	c.InjectOwnerFault(f.GatewayUID, f.Status, d)
	w.WriteHeader(http.StatusNoContent)
}

// handleClearFaults ends the fault of ?gatewayUID=, or every fault without it.
func (c *Cloud) handleClearFaults(w http.ResponseWriter, r *http.Request) {
	if uid := r.URL.Query().Get("gatewayUID"); uid != "" {
		c.ClearOwnerFault(uid)
	} else {
		c.ClearFaults()
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *Cloud) handleStats(w http.ResponseWriter, _ *http.Request) {
	reply(w, http.StatusOK, c.Stats(), nil)
}

func (c *Cloud) handleResetStats(w http.ResponseWriter, _ *http.Request) {
	c.ResetStats()
	w.WriteHeader(http.StatusNoContent)
}
