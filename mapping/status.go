package mapping

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// condition builds a metav1.Condition without LastTransitionTime: Build reads
// no clock, the reconciler keeps the old time of a condition that did not
// change. Type and reason are plain strings so the upstream typed constants of
// every kind (gateway, listener, route, class) can be passed with a conversion.
func condition(typ, reason string, ok bool, message string, generation int64) metav1.Condition {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	return metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: generation,
	}
}

// problem is a failed check: the upstream reason to report and a static
// message. The zero problem means "fine".
type problem struct {
	reason  string
	message string
	// quiet marks a backend that must not be connected to although the
	// route's reference to it resolves (its BackendTLSPolicy cannot be
	// applied, and the policy's status says why): its share answers 500
	// and the route's ResolvedRefs stays True.
	quiet bool
}

func (p problem) ok() bool { return p.reason == "" }

// unsupportedValue is the Accepted=False problem for a route that asks for
// something Cloudgate or the provider cannot realize.
func unsupportedValue(format string, a ...any) problem {
	return problem{reason: string(gwv1.RouteReasonUnsupportedValue), message: fmt.Sprintf(format, a...)}
}

// incompatibleFilters is the Accepted=False problem for filters that
// cannot be combined on one rule or backendRef.
func incompatibleFilters(format string, a ...any) problem {
	return problem{reason: string(gwv1.RouteReasonIncompatibleFilters), message: fmt.Sprintf(format, a...)}
}

// maxMessageBytes bounds a condition message that lists problems: the API
// allows 32768 bytes, but a status is read by people, and a route with
// hundreds of bad values must not make every status write that large.
const maxMessageBytes = 1024

// boundedList joins items with sep within limit bytes; the items that do
// not fit are counted in a " … and N more" suffix. The result depends only
// on the items, so a repeated problem does not rewrite status.
func boundedList(items []string, sep string, limit int) string {
	msg := strings.Join(items, sep)
	if len(msg) <= limit {
		return msg
	}
	more := func(n int) string {
		if n == 0 {
			return ""
		}
		return fmt.Sprintf(" … and %d more", n)
	}
	used := 0
	for k, it := range items {
		next := len(it)
		if k > 0 {
			next += len(sep)
		}
		if used+next+len(more(len(items)-k-1)) <= limit {
			used += next
			continue
		}
		if k == 0 {
			// Not even the first item fits: cut it.
			suffix := more(len(items) - 1)
			return cutUTF8(it, max(limit-len(suffix)-len("…"), 0)) + "…" + suffix
		}
		return strings.Join(items[:k], sep) + more(len(items)-k)
	}
	return msg
}
