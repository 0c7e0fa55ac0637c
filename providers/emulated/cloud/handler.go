package cloud

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
)

// maxBody bounds request bodies; certificates make specs large, but not this large.
const maxBody = 8 << 20

// Handler returns the cloud's HTTP API.
func (c *Cloud) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/loadbalancers", c.handleCreate)
	mux.HandleFunc("GET /v1/loadbalancers", c.handleList)
	mux.HandleFunc("GET /v1/loadbalancers/{id}", c.handleGet)
	mux.HandleFunc("PUT /v1/loadbalancers/{id}", c.handleReplace)
	mux.HandleFunc("PATCH /v1/loadbalancers/{id}", c.handlePatch)
	mux.HandleFunc("DELETE /v1/loadbalancers/{id}", c.handleDelete)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "no such API: %s %s", r.Method, r.URL.Path))
	})
	// The emulation's own controls are never faulted or counted: a test
	// must be able to clear a fault, and reading the counts must not
	// change them.
	controls := http.NewServeMux()
	controls.HandleFunc("POST /v1/faults", c.handleInjectFault)
	controls.HandleFunc("DELETE /v1/faults", c.handleClearFaults)
	controls.HandleFunc("GET /v1/stats", c.handleStats)
	controls.HandleFunc("DELETE /v1/stats", c.handleResetStats)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/faults" || r.URL.Path == "/v1/stats" {
			controls.ServeHTTP(w, r)
			return
		}
		// Every answer of the API carries a request id, as real clouds'
		// do, so that a client can name the one call that failed.
		w.Header().Set(RequestIDHeader, newRequestID())
		if status, ok := c.admit(r.Method, c.concerns(r)); ok {
			writeError(w, errorf(status, codeFor(status), "injected fault"))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// newRequestID is 16 random hex digits: unique enough to find one call in a
// log, and nothing a client could read meaning into.
func newRequestID() string {
	return fmt.Sprintf("%016x", rand.Uint64())
}

func (c *Cloud) handleCreate(w http.ResponseWriter, r *http.Request) {
	var in LoadBalancer
	if !decode(w, r, &in) {
		return
	}
	out, err := c.create(in)
	reply(w, http.StatusCreated, viewOf(r, out), err)
}

func (c *Cloud) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := ListOptions{Name: q.Get("name"), Tags: map[string]string{}, PageToken: q.Get("pageToken")}
	if s := q.Get("pageSize"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			writeError(w, errorf(http.StatusBadRequest, CodeInvalid, "pageSize %q is not a number", s))
			return
		}
		opts.PageSize = n
	}
	for _, t := range q["tag"] {
		k, v, ok := strings.Cut(t, "=")
		if !ok || k == "" {
			writeError(w, errorf(http.StatusBadRequest, CodeInvalid, "tag filter %q must be key=value", t))
			return
		}
		opts.Tags[k] = v
	}
	page, err := c.listPage(opts)
	reply(w, http.StatusOK, page, err)
}

func (c *Cloud) handleGet(w http.ResponseWriter, r *http.Request) {
	out, err := c.get(r.PathValue("id"))
	if err == nil {
		w.Header().Set("ETag", etag(out.Version))
	}
	reply(w, http.StatusOK, out, err)
}

func (c *Cloud) handleReplace(w http.ResponseWriter, r *http.Request) {
	var in LoadBalancer
	if !decode(w, r, &in) {
		return
	}
	// If-Match, when given, is the precondition; a mismatch is then 412 as
	// HTTP defines it. The body's version gives 409, like most cloud APIs.
	ifMatch := r.Header.Get("If-Match")
	if ifMatch != "" {
		v, err := strconv.ParseInt(strings.Trim(ifMatch, `"`), 10, 64)
		if err != nil {
			writeError(w, errorf(http.StatusBadRequest, CodeInvalid, "If-Match %q is not a version", ifMatch))
			return
		}
		in.Version = v
	}
	out, err := c.replace(r.PathValue("id"), in)
	var e *Error
	if ifMatch != "" && errors.As(err, &e) && e.Code == CodeVersionConflict {
		err = &Error{Status: http.StatusPreconditionFailed, Code: CodePrecondition, Message: e.Message}
	}
	if err == nil {
		w.Header().Set("ETag", etag(out.Version))
	}
	reply(w, http.StatusOK, viewOf(r, out), err)
}

// viewOf is what a create or replace answers: the whole load balancer, or
// with ?view=status everything but the spec the caller just sent, which
// for thousands of rules costs more to encode and decode than the change.
func viewOf(r *http.Request, lb LoadBalancer) LoadBalancer {
	if r.URL.Query().Get("view") == ViewStatus {
		lb.Spec = Spec{}
	}
	return lb
}

func (c *Cloud) handlePatch(w http.ResponseWriter, r *http.Request) {
	var in Patch
	if !decode(w, r, &in) {
		return
	}
	out, err := c.patch(r.PathValue("id"), in)
	if err == nil {
		w.Header().Set("ETag", etag(out.Version))
	}
	reply(w, http.StatusOK, viewOf(r, out), err)
}

func (c *Cloud) handleDelete(w http.ResponseWriter, r *http.Request) {
	if err := c.Delete(r.PathValue("id")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func etag(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, errorf(http.StatusBadRequest, CodeInvalid, "invalid JSON body: %v", err))
		return false
	}
	return true
}

func reply(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = errorf(http.StatusInternalServerError, CodeInternal, "%v", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}
