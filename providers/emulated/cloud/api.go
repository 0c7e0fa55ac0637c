package cloud

import (
	"fmt"
	"net/http"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// LoadBalancer is the API's resource. On create and replace the caller sets
// Name, Tags and Spec (and Version on replace); the cloud sets the rest.
type LoadBalancer struct {
	ID   string            `json:"id,omitempty"`
	Name string            `json:"name"`
	Tags map[string]string `json:"tags,omitempty"`
	Spec Spec              `json:"spec"`
	// Version changes on every replace. A replace must carry the version it
	// read, so that a concurrent change fails instead of being overwritten.
	Version int64 `json:"version,omitempty"`

	// Address is the load balancer's IP, allocated from the cloud's range or
	// the one requested in Spec.Options.Addresses (else in
	// Spec.Options.Emulated.Address).
	Address   string           `json:"address,omitempty"`
	State     State            `json:"state,omitempty"`
	Listeners []ListenerStatus `json:"listeners,omitempty"`
}

// Spec is the desired configuration of a load balancer. It reuses the model's
// types: this is Cloudgate's own cloud, so there is nothing to translate.
type Spec struct {
	Listeners    []lb.Listener    `json:"listeners,omitempty"`
	TargetGroups []lb.TargetGroup `json:"targetGroups,omitempty"`
	Options      lb.Options       `json:"options,omitzero"`
}

// State summarizes a load balancer's data plane.
type State string

// States.
const (
	// StateActive: every listener is bound and serving.
	StateActive State = "active"
	// StateDegraded: at least one listener could not bind its port.
	StateDegraded State = "degraded"
)

// ListenerStatus reports one listener's socket.
type ListenerStatus struct {
	Name     string      `json:"name"`
	Port     int32       `json:"port"`
	Protocol lb.Protocol `json:"protocol"`
	Bound    bool        `json:"bound"`
	Message  string      `json:"message,omitempty"`
}

// ViewStatus, as the view query parameter of a create or replace, asks for
// an answer without the spec: the caller holds it already.
const ViewStatus = "status"

// List is the body of a list response: one page, in the order of ids.
type List struct {
	Items []LoadBalancer `json:"items"`
	// NextPageToken, when set, is the pageToken that asks for the next page;
	// empty on the last page.
	NextPageToken string `json:"nextPageToken,omitempty"`
}

// Paging of list responses: pageSize defaults to DefaultPageSize, and a
// larger one than MaxPageSize gets MaxPageSize.
const (
	DefaultPageSize = 100
	MaxPageSize     = 500
)

// Error codes, one per kind of failure a client must tell apart.
const (
	CodeInvalid         = "InvalidRequest"
	CodeNotFound        = "NotFound"
	CodeAlreadyExists   = "AlreadyExists"
	CodeVersionConflict = "VersionConflict"
	CodePrecondition    = "PreconditionFailed"
	CodeThrottled       = "Throttled"
	CodeUnavailable     = "ServiceUnavailable"
	CodeInternal        = "InternalError"
	// CodeAddressNotUsable (with 400) refuses a requested address the
	// cloud cannot give: outside its range, taken by another load
	// balancer, or more than the one address a load balancer has. A
	// client tells it from CodeInvalid to report the address, not the
	// configuration, as the fault.
	CodeAddressNotUsable = "AddressNotUsable"
)

// RequestIDHeader is the response header that holds the id the cloud gave the
// request, on every answer of the API (errors included), for support cases
// and logs.
const RequestIDHeader = "X-Request-Id"

// Error is the body of every error response, and the error the Cloud's Go
// methods return.
type Error struct {
	// Status is the HTTP status; it is not part of the JSON body.
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Elements name the parts of the spec a 400 InvalidRequest refuses, so
	// that a client can leave them out and try again; empty when the fault
	// is not in one element (the name, the tags, the options).
	Elements []Element `json:"elements,omitempty"`
}

// Element names one part of a Spec by the name the Spec gives it.
type Element struct {
	// Kind is one of the Element kinds.
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// Element kinds: a Spec's listeners, their rules and streams, its target
// groups, and the certificates of virtual hosts and streams.
const (
	ElementListener    = "listener"
	ElementRule        = "rule"
	ElementStream      = "stream"
	ElementTargetGroup = "targetGroup"
	ElementCertificate = "certificate"
)

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func errorf(status int, code, format string, a ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, a...)}
}

// codeFor names an HTTP status for an injected fault.
func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return CodeInvalid
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusConflict:
		return CodeVersionConflict
	case http.StatusTooManyRequests:
		return CodeThrottled
	case http.StatusServiceUnavailable:
		return CodeUnavailable
	default:
		return CodeInternal
	}
}
