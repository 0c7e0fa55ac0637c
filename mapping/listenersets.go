package mapping

import (
	"cmp"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// kindListenerSet is the parentRef kind that names a ListenerSet.
const kindListenerSet = "ListenerSet"

// listenerSetParentNotProgrammed is the ListenerSet Programmed=False
// reason while its parent Gateway is not accepted: the API lists it among
// Programmed's reasons but gives it no constant.
const listenerSetParentNotProgrammed = "ParentNotProgrammed"

// listenerSet is one ListenerSet whose parentRef names the Gateway.
type listenerSet struct {
	obj *gwv1.ListenerSet
	key types.NamespacedName
	// allowed says whether the Gateway's allowedListeners selects the
	// ListenerSet's namespace; one that is not gets a status saying so
	// and none of its listeners is evaluated.
	allowed bool
}

// indexListenerSets keeps the ListenerSets whose parentRef names the
// Gateway, in the precedence the API gives their listeners: oldest first,
// then by "{namespace}/{name}".
func (b *builder) indexListenerSets(in []*gwv1.ListenerSet) {
	b.setsByKey = map[types.NamespacedName]*listenerSet{}
	for _, o := range in {
		if o == nil || !b.parentIsGateway(o) {
			continue
		}
		k := key(o.Namespace, o.Name)
		if b.setsByKey[k] != nil {
			continue
		}
		ls := &listenerSet{obj: o, key: k}
		ls.allowed = b.listenerSetAllowed(o.Namespace)
		b.sets = append(b.sets, ls)
		b.setsByKey[k] = ls
	}
	slices.SortFunc(b.sets, func(x, y *listenerSet) int {
		return cmp.Or(x.obj.CreationTimestamp.Time.Compare(y.obj.CreationTimestamp.Time),
			cmp.Compare(x.key.Namespace+"/"+x.key.Name, y.key.Namespace+"/"+y.key.Name))
	})
}

// parentIsGateway says whether the ListenerSet's parentRef names this
// builder's Gateway (its namespace defaults to the ListenerSet's).
func (b *builder) parentIsGateway(o *gwv1.ListenerSet) bool {
	ref := o.Spec.ParentRef
	if ref.Group != nil && *ref.Group != gwv1.GroupName || ref.Kind != nil && *ref.Kind != "Gateway" {
		return false
	}
	ns := o.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	return ns == b.gw.Namespace && string(ref.Name) == b.gw.Name
}

// listenerSetAllowed applies the Gateway's allowedListeners.namespaces to a
// ListenerSet's namespace: None (the default) allows none.
func (b *builder) listenerSetAllowed(ns string) bool {
	from := gwv1.NamespacesFromNone
	var sel *metav1.LabelSelector
	if al := b.gw.Spec.AllowedListeners; al != nil && al.Namespaces != nil {
		if al.Namespaces.From != nil {
			from = *al.Namespaces.From
		}
		sel = al.Namespaces.Selector
	}
	switch from {
	case gwv1.NamespacesFromAll:
		return true
	case gwv1.NamespacesFromSame:
		return ns == b.gw.Namespace
	case gwv1.NamespacesFromSelector:
		return b.namespaceSelected(ns, sel)
	}
	return false
}

// appendSetListeners evaluates the listeners of the allowed ListenerSets,
// in precedence order, after the Gateway's own (out), and marks those that
// conflict with a listener before them.
func (b *builder) appendSetListeners(out []*listenerState) []*listenerState {
	first := len(out)
	for _, ls := range b.sets {
		if !ls.allowed {
			continue
		}
		// A ListenerEntry has a Gateway listener's fields, which
		// everything that judges a listener reads.
		for _, e := range ls.obj.Spec.Listeners {
			out = append(out, b.evaluateListener(gwv1.Listener(e), ls))
		}
	}
	markSetConflicts(out, first, b.caps.TCPUDPSharedPort)
	return out
}

// markSetConflicts applies the distinctness rules to the ListenerSets'
// listeners (ls[first:]) with the precedence the API gives the merged
// list: a listener that conflicts with one before it loses, and the one
// before keeps its port. Unlike the Gateway's own listeners (markConflicts,
// where none wins), the Gateway's listeners and earlier ListenerSets
// always come first. The Gateway's accepted listeners hold their port and
// hostname even when they conflict among themselves; a ListenerSet
// listener that lost holds nothing.
func markSetConflicts(ls []*listenerState, first int, sharedTCPUDP bool) {
	holders := map[int32][]*listenerState{}
	for _, l := range ls[:first] {
		if l.accepted.ok() {
			holders[l.spec.Port] = append(holders[l.spec.Port], l)
		}
	}
	for _, l := range ls[first:] {
		if !l.accepted.ok() {
			continue
		}
		if p := setConflict(holders[l.spec.Port], l, sharedTCPUDP); !p.ok() {
			l.conflict = p
			continue
		}
		holders[l.spec.Port] = append(holders[l.spec.Port], l)
	}
}

// setConflict is the conflict of l with the listeners that hold its port
// before it, if any.
func setConflict(before []*listenerState, l *listenerState, sharedTCPUDP bool) problem {
	protocols := map[lb.Protocol]bool{l.protocol: true}
	for _, h := range before {
		protocols[h.protocol] = true
	}
	tcpUDP := sharedTCPUDP && len(protocols) == 2 && protocols[lb.ProtocolTCP] && protocols[lb.ProtocolUDP]
	if len(protocols) > 1 && !tcpUDP {
		return problem{reason: string(gwv1.ListenerReasonProtocolConflict),
			message: "a listener that takes precedence (the Gateway's, or an older ListenerSet's) uses the same port with a different protocol"}
	}
	for _, h := range before {
		if h.protocol != l.protocol {
			continue
		}
		if l.protocol == lb.ProtocolTCP || l.protocol == lb.ProtocolUDP {
			return problem{reason: string(gwv1.ListenerReasonProtocolConflict),
				message: fmt.Sprintf("a %s listener that takes precedence (the Gateway's, or an older ListenerSet's) uses the same port", l.protocol)}
		}
		if h.hostname == l.hostname {
			return problem{reason: string(gwv1.ListenerReasonHostnameConflict),
				message: "a listener that takes precedence (the Gateway's, or an older ListenerSet's) has the same port, protocol and hostname"}
		}
	}
	return problem{}
}

// ownListeners are the Gateway's own listeners, which its status lists.
func ownListeners(ls []*listenerState) []*listenerState {
	var out []*listenerState
	for _, l := range ls {
		if l.set == nil {
			out = append(out, l)
		}
	}
	return out
}

// namespace is the namespace of the object the listener is written in:
// allowedRoutes "Same" and certificateRefs without a namespace mean it.
func (l *listenerState) namespace(gw *gwv1.Gateway) string {
	if l.set != nil {
		return l.set.key.Namespace
	}
	return gw.Namespace
}

// label names the listener in the Gateway's messages: a ListenerSet's
// listener by the ListenerSet too, since names repeat across them.
func (l *listenerState) label() string {
	if l.set != nil {
		return l.set.key.String() + "/" + string(l.spec.Name)
	}
	return string(l.spec.Name)
}

// certificateOwner is who refers to a listener's certificates, for
// ReferenceGrants: the Gateway, or the ListenerSet the listener is in (a
// grant to one does not extend to the other, as the ListenerSet API says).
func (b *builder) certificateOwner(set *listenerSet) objRef {
	if set != nil {
		return objRef{group: gwv1.GroupName, kind: kindListenerSet, namespace: set.key.Namespace}
	}
	return objRef{group: gwv1.GroupName, kind: "Gateway", namespace: b.gw.Namespace}
}

// parentOf says whether a route's parentRef is for this Gateway's Build:
// the Gateway itself (set nil) or one of the ListenerSets naming it.
func (b *builder) parentOf(routeNamespace string, ref gwv1.ParentReference) (*listenerSet, bool) {
	if ref.Group != nil && *ref.Group != gwv1.GroupName {
		return nil, false
	}
	ns := routeNamespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	switch {
	case ref.Kind == nil || *ref.Kind == "Gateway":
		return nil, ns == b.gw.Namespace && string(ref.Name) == b.gw.Name
	case *ref.Kind == kindListenerSet:
		ls := b.setsByKey[key(ns, string(ref.Name))]
		return ls, ls != nil
	}
	return nil, false
}

// listenerSetStatuses computes the status of every ListenerSet naming the
// Gateway, and how many are attached (allowed and Accepted), the
// Gateway's status.attachedListenerSets.
func (b *builder) listenerSetStatuses(listeners []*listenerState, gatewayAccepted bool) (map[types.NamespacedName]gwv1.ListenerSetStatus, int32) {
	out := map[types.NamespacedName]gwv1.ListenerSetStatus{}
	var attached int32
	for _, ls := range b.sets {
		st := b.listenerSetStatus(ls, listeners, gatewayAccepted)
		if c := findCondition(st.Conditions, string(gwv1.ListenerSetConditionAccepted)); c != nil && c.Status == metav1.ConditionTrue {
			attached++
		}
		out[ls.key] = st
	}
	return out, attached
}

func (b *builder) listenerSetStatus(ls *listenerSet, listeners []*listenerState, gatewayAccepted bool) gwv1.ListenerSetStatus {
	gen := ls.obj.Generation
	both := func(reason string, ok bool, accepted, programmed string) []metav1.Condition {
		programmedReason := reason
		if ok {
			programmedReason = string(gwv1.ListenerSetReasonProgrammed)
		}
		return []metav1.Condition{
			condition(string(gwv1.ListenerSetConditionAccepted), reason, ok, accepted, gen),
			condition(string(gwv1.ListenerSetConditionProgrammed), programmedReason, ok, programmed, gen),
		}
	}
	st := gwv1.ListenerSetStatus{Listeners: []gwv1.ListenerEntryStatus{}}
	if !ls.allowed {
		st.Conditions = both(string(gwv1.ListenerSetReasonNotAllowed), false,
			"The parent Gateway's allowedListeners does not allow ListenerSets from this namespace",
			"The ListenerSet is not allowed by its parent Gateway")
		return st
	}
	var invalid []string
	for _, l := range listeners {
		if l.set != ls {
			continue
		}
		st.Listeners = append(st.Listeners, l.entryStatus(gen, gatewayAccepted))
		if !l.programmable() {
			invalid = append(invalid, string(l.spec.Name))
		}
	}
	switch {
	case !gatewayAccepted:
		st.Conditions = []metav1.Condition{
			condition(string(gwv1.ListenerSetConditionAccepted), string(gwv1.ListenerSetReasonParentNotAccepted), false,
				"The parent Gateway is not accepted", gen),
			condition(string(gwv1.ListenerSetConditionProgrammed), listenerSetParentNotProgrammed, false,
				"The parent Gateway is not accepted", gen),
		}
	case len(invalid) == len(st.Listeners):
		st.Conditions = both(string(gwv1.ListenerSetReasonListenersNotValid), false, "No listener is valid", "No listener is valid")
	case len(invalid) > 0:
		// As on the Gateway: accepted for the valid listeners, with the
		// invalid ones named.
		st.Conditions = both(string(gwv1.ListenerSetReasonListenersNotValid), true,
			"Some listeners are not valid: "+boundedList(invalid, ", ", maxMessageBytes), "ListenerSet is ready to program")
	default:
		st.Conditions = both(string(gwv1.ListenerSetReasonAccepted), true, "ListenerSet is accepted", "ListenerSet is ready to program")
	}
	return st
}

// entryStatus is a ListenerSet listener's status. A conflicted one is
// also Accepted=False and Programmed=False with the conflict's reason:
// it lost its port to a listener that takes precedence and is not served,
// which the ListenerSet conformance tests read from those conditions.
func (l *listenerState) entryStatus(gen int64, gatewayAccepted bool) gwv1.ListenerEntryStatus {
	st := l.status(gen, gatewayAccepted)
	if !l.conflict.ok() {
		for i := range st.Conditions {
			c := &st.Conditions[i]
			if c.Type == string(gwv1.ListenerConditionAccepted) || c.Type == string(gwv1.ListenerConditionProgrammed) {
				c.Status, c.Reason, c.Message = metav1.ConditionFalse, l.conflict.reason, l.conflict.message
			}
		}
	}
	return gwv1.ListenerEntryStatus(st)
}

func findCondition(cs []metav1.Condition, typ string) *metav1.Condition {
	for i := range cs {
		if cs[i].Type == typ {
			return &cs[i]
		}
	}
	return nil
}
