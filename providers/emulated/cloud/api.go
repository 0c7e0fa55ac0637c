package cloud

import (
	"fmt"
	"net/http"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/dataplane"
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

// Patch is the body of PATCH /v1/loadbalancers/{id}: a replace that sends
// only the parts that changed. Tags and options are given whole (they are
// small); listeners, their virtual hosts and the target groups are given
// whole too, in order, but a rule or a target group may be a reference to
// the stored one of its name instead of its content. Version must equal the
// stored version, as for a replace.
type Patch struct {
	Version      int64              `json:"version"`
	Tags         map[string]string  `json:"tags,omitempty"`
	Options      lb.Options         `json:"options,omitzero"`
	Listeners    []ListenerPatch    `json:"listeners,omitempty"`
	TargetGroups []TargetGroupPatch `json:"targetGroups,omitempty"`
}

// ListenerPatch is an lb.Listener whose virtual hosts may keep stored
// rules.
type ListenerPatch struct {
	Name             string               `json:"name"`
	Port             int32                `json:"port"`
	Protocol         lb.Protocol          `json:"protocol"`
	VirtualHosts     []VirtualHostPatch   `json:"virtualHosts,omitempty"`
	Streams          []lb.Stream          `json:"streams,omitempty"`
	ClientValidation *lb.ClientValidation `json:"clientValidation,omitempty"`
}

// VirtualHostPatch is an lb.VirtualHost whose rules may be kept.
type VirtualHostPatch struct {
	Hostname     string           `json:"hostname,omitempty"`
	Certificates []lb.Certificate `json:"certificates,omitempty"`
	Rules        []RulePatch      `json:"rules,omitempty"`
}

// RulePatch is one rule of a virtual host: Rule, or with Rule nil the
// stored rule named Name in the same listener, unchanged; with Through
// too, the stored rules from Name through Through, in their stored order
// in one virtual host (a run: a change to one rule of thousands sends two
// runs, not thousands of names).
type RulePatch struct {
	Name    string   `json:"name"`
	Rule    *lb.Rule `json:"rule,omitempty"`
	Through string   `json:"through,omitempty"`
}

// TargetGroupPatch is one target group: Group, or with Group nil the
// stored one named Name, unchanged.
type TargetGroupPatch struct {
	Name  string          `json:"name"`
	Group *lb.TargetGroup `json:"group,omitempty"`
}

// apply returns the spec p makes of cur and the parts it kept, or an error
// naming a kept rule or target group that cur does not have.
func (p Patch) apply(cur Spec) (Spec, dataplane.Unchanged, *Error) {
	same := dataplane.Unchanged{Rules: map[string][]dataplane.Run{}, TargetGroups: map[string]bool{}}
	groups := make(map[string]int, len(cur.TargetGroups))
	for i, g := range cur.TargetGroups {
		groups[g.Name] = i
	}
	out := Spec{Options: p.Options}
	for _, tp := range p.TargetGroups {
		switch i, ok := groups[tp.Name]; {
		case tp.Group != nil:
			out.TargetGroups = append(out.TargetGroups, *tp.Group)
		case ok:
			out.TargetGroups = append(out.TargetGroups, cur.TargetGroups[i])
			same.TargetGroups[tp.Name] = true
		default:
			return Spec{}, dataplane.Unchanged{}, errorf(http.StatusBadRequest, CodeInvalid, "target group %q to keep does not exist", tp.Name)
		}
	}
	stored := make(map[string]*lb.Listener, len(cur.Listeners))
	for i := range cur.Listeners {
		stored[cur.Listeners[i].Name] = &cur.Listeners[i]
	}
	// piece is a rule sent, or a run of stored rules kept.
	type piece struct {
		rule        *lb.Rule
		host, at, n int
	}
	var pieces []piece
	for _, lp := range p.Listeners {
		l := lb.Listener{Name: lp.Name, Port: lp.Port, Protocol: lp.Protocol, Streams: lp.Streams, ClientValidation: lp.ClientValidation}
		f := storedRules{l: stored[lp.Name]}
		var runs []dataplane.Run
		for h, vp := range lp.VirtualHosts {
			pieces = pieces[:0]
			n := 0
			for _, rp := range vp.Rules {
				if rp.Rule != nil {
					pieces, n = append(pieces, piece{rule: rp.Rule}), n+1
					continue
				}
				host, at, ok := f.find(rp.Name)
				if !ok {
					return Spec{}, dataplane.Unchanged{}, errorf(http.StatusBadRequest, CodeInvalid, "rule %q of listener %q to keep does not exist", rp.Name, lp.Name)
				}
				end := at
				if rp.Through != "" {
					rules := f.l.VirtualHosts[host].Rules
					for end < len(rules) && rules[end].Name != rp.Through {
						end++
					}
					if end == len(rules) {
						return Spec{}, dataplane.Unchanged{}, errorf(http.StatusBadRequest, CodeInvalid,
							"rules %q through %q of listener %q to keep are not stored in that order in one virtual host", rp.Name, rp.Through, lp.Name)
					}
				}
				f.next = source{host, end + 1}
				pieces, n = append(pieces, piece{host: host, at: at, n: end + 1 - at}), n+end+1-at
			}
			vh := lb.VirtualHost{Hostname: vp.Hostname, Certificates: vp.Certificates, Rules: make([]lb.Rule, 0, n)}
			for _, pc := range pieces {
				if pc.rule != nil {
					vh.Rules = append(vh.Rules, *pc.rule)
					continue
				}
				runs = append(runs, dataplane.Run{Host: h, At: len(vh.Rules), PrevHost: pc.host, PrevAt: pc.at, Len: pc.n})
				vh.Rules = append(vh.Rules, f.l.VirtualHosts[pc.host].Rules[pc.at:pc.at+pc.n]...)
			}
			l.VirtualHosts = append(l.VirtualHosts, vh)
		}
		same.Rules[lp.Name] = runs
		out.Listeners = append(out.Listeners, l)
	}
	return out, same, nil
}

// source is where a stored listener holds a rule: the indexes of its
// virtual host and of the rule there.
type source struct{ host, at int }

// storedRules finds the rules of a stored listener by name, expecting
// them where the last one found leaves off: a patch keeps them mostly in
// their stored order.
type storedRules struct {
	l      *lb.Listener
	next   source
	byName map[string]source // every rule's, built on the first miss
}

// lookAhead is how many rules find tries past the expected one before it
// looks the name up: enough to step over the rules a change removed.
const lookAhead = 8

func (f *storedRules) find(name string) (host, at int, ok bool) {
	if f.l == nil {
		return 0, 0, false
	}
	h, i := f.next.host, f.next.at
	for range lookAhead + 1 {
		for h < len(f.l.VirtualHosts) && i >= len(f.l.VirtualHosts[h].Rules) {
			h, i = h+1, 0
		}
		if h >= len(f.l.VirtualHosts) {
			break
		}
		if f.l.VirtualHosts[h].Rules[i].Name == name {
			return h, i, true
		}
		i++
	}
	if f.byName == nil {
		f.byName = map[string]source{}
		for h, vh := range f.l.VirtualHosts {
			for i, r := range vh.Rules {
				if _, dup := f.byName[r.Name]; !dup {
					f.byName[r.Name] = source{h, i}
				}
			}
		}
	}
	s, ok := f.byName[name]
	return s.host, s.at, ok
}
