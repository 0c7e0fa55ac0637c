package mapping

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
}

func (p problem) ok() bool { return p.reason == "" }
