package gcptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"time"
)

// Fault answers matching calls with an error instead of serving them.
type Fault struct {
	// Code is 429, 500 or 503.
	Code int `json:"code"`
	// Method limits the fault to one API method, by its Discovery id
	// ("compute.regionUrlMaps.update"); empty matches every call.
	Method string `json:"method,omitempty"`
	// Count fails the next Count matching calls, then the fault is spent.
	Count int `json:"count,omitempty"`
	// Fraction (0 < Fraction <= 1), when Count is 0, fails that share of
	// matching calls, chosen at random, until the faults are cleared.
	Fraction float64 `json:"fraction,omitempty"`
	// AfterApply serves the call, so its change happens, and then answers
	// with the error: the answer is lost, as when a connection drops.
	AfterApply bool `json:"afterApply,omitempty"`
}

func (f *Fault) validate() error {
	switch f.Code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable:
	default:
		return fmt.Errorf("gcptest: fault code %d: want 429, 500 or 503", f.Code)
	}
	if (f.Count > 0) == (f.Fraction > 0) || f.Count < 0 || f.Fraction < 0 || f.Fraction > 1 {
		return fmt.Errorf("gcptest: a fault needs either a positive count or a fraction in (0, 1], not count %d and fraction %g", f.Count, f.Fraction)
	}
	return nil
}

func (f *Fault) apiError() *apiError {
	switch f.Code {
	case http.StatusTooManyRequests:
		return errorf(f.Code, "rateLimitExceeded", "Quota exceeded for quota metric 'Queries' (injected by gcptest)")
	case http.StatusServiceUnavailable:
		return errorf(f.Code, "backendError", "The service is currently unavailable (injected by gcptest)")
	}
	return errorf(f.Code, "backendError", "Internal error (injected by gcptest)")
}

// InjectFault adds f; several faults may be active, and the first that
// matches a call answers it.
func (d *Double) InjectFault(f Fault) error {
	if err := f.validate(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.faults = append(d.faults, &f)
	return nil
}

// ClearFaults removes every fault.
func (d *Double) ClearFaults() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.faults = nil
}

// count records a call to method and returns the fault that answers it,
// if any.
func (d *Double) count(method string) *Fault {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls[method]++
	for i, f := range d.faults {
		if f.Method != "" && f.Method != method {
			continue
		}
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				d.faults = append(d.faults[:i:i], d.faults[i+1:]...)
			}
			d.faulted++
			return f
		}
		if d.rnd.Float64() < f.Fraction {
			d.faulted++
			return f
		}
	}
	return nil
}

// Calls returns how many calls each method received, faulted ones
// included, by Discovery id ("compute.regionUrlMaps.insert").
func (d *Double) Calls() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.calls)
}

// Faulted returns how many calls were answered by an injected fault.
func (d *Double) Faulted() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.faulted
}

// ResetCalls zeroes the call counts and the faulted count.
func (d *Double) ResetCalls() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = map[string]int{}
	d.faulted = 0
}

const controlPrefix = "/gcptest/v1/"

// serveControl is the double's own API, for tests and users that run it as
// a process:
//
//	POST   /gcptest/v1/faults           a Fault as JSON: inject it
//	DELETE /gcptest/v1/faults           clear every fault
//	GET    /gcptest/v1/calls            {"calls": {method: n}, "faulted": n}
//	DELETE /gcptest/v1/calls            zero the counts
//	PUT    /gcptest/v1/operationDelay   {"delay": "1.5s"}
func (d *Double) serveControl(w http.ResponseWriter, r *http.Request) {
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(err error) { reply(http.StatusBadRequest, map[string]string{"error": err.Error()}) }
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		fail(err)
		return
	}
	switch r.Method + " " + r.URL.Path {
	case "POST " + controlPrefix + "faults":
		var f Fault
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			fail(fmt.Errorf("gcptest: fault: %w", err))
			return
		}
		if err := d.InjectFault(f); err != nil {
			fail(err)
			return
		}
		reply(http.StatusOK, f)
	case "DELETE " + controlPrefix + "faults":
		d.ClearFaults()
		reply(http.StatusOK, map[string]string{})
	case "GET " + controlPrefix + "calls":
		reply(http.StatusOK, map[string]any{"calls": d.Calls(), "faulted": d.Faulted()})
	case "DELETE " + controlPrefix + "calls":
		d.ResetCalls()
		reply(http.StatusOK, map[string]string{})
	case "PUT " + controlPrefix + "operationDelay":
		var v struct {
			Delay string `json:"delay"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			fail(err)
			return
		}
		delay, err := time.ParseDuration(v.Delay)
		if err != nil || delay < 0 {
			fail(fmt.Errorf("gcptest: delay %q: want a duration such as 1.5s", v.Delay))
			return
		}
		d.SetOperationDelay(delay)
		reply(http.StatusOK, v)
	default:
		reply(http.StatusNotFound, map[string]string{"error": "no such control endpoint " + r.Method + " " + r.URL.Path})
	}
}
