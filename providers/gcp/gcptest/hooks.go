package gcptest

import (
	"bytes"
	"io"
	"net/http"
	"slices"
)

// Hook watches or steers the calls of one method. Faults say how a call
// fails; a hook says what else happens at the moment it is served: a test
// changes an object between a client's read and its write (Edit in
// Before), or stops the client right after a write took effect (in
// After), at the exact call, which no timer can hit.
type Hook struct {
	// Method is the Discovery id ("compute.regionUrlMaps.update"); empty
	// matches every API call (operations included, control calls not).
	Method string
	// Before runs before the call is served (and before any fault
	// answers it). It may change the double: Edit, Create and the other
	// methods are free to call, the double's lock is not held.
	Before func(Call)
	// After runs once the call was served and its answer is decided, but
	// before the answer is written. Call.Code is that answer's status.
	After func(Call)
}

// Call is one API call as a hook sees it.
type Call struct {
	// Method is the call's Discovery id.
	Method string
	// Path is the URL path, "/compute/v1/projects/P/regions/R/urlMaps/N".
	Path string
	// Body is the request body (empty for reads); a hook must not keep
	// it past its return without copying it.
	Body []byte
	// Code is, for After, the status the client gets: 200, the API's
	// refusal, or the injected fault's code.
	Code int
}

// AddHook adds h and returns a function that removes it. Hooks run in the
// order they were added, in the goroutine serving the call: a hook that
// blocks delays that call only.
func (d *Double) AddHook(h Hook) (remove func()) {
	hp := &h
	d.mu.Lock()
	d.hooks = append(d.hooks, hp)
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.hooks = slices.DeleteFunc(d.hooks, func(x *Hook) bool { return x == hp })
	}
}

// hooksFor returns the hooks matching method, and the call they see, with
// the request body read (and put back for the handler). nil means none.
func (d *Double) hooksFor(method string, r *http.Request) ([]*Hook, *Call) {
	d.mu.Lock()
	var hs []*Hook
	for _, h := range d.hooks {
		if h.Method == "" || h.Method == method {
			hs = append(hs, h)
		}
	}
	d.mu.Unlock()
	if len(hs) == 0 {
		return nil, nil
	}
	c := &Call{Method: method, Path: r.URL.Path}
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err == nil {
			c.Body = b
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	return hs, c
}

// runHooks calls each hook's Before (after false) or After (after true).
func runHooks(hs []*Hook, c *Call, after bool) {
	for _, h := range hs {
		switch {
		case !after && h.Before != nil:
			h.Before(*c)
		case after && h.After != nil:
			h.After(*c)
		}
	}
}
