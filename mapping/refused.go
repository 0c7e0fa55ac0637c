package mapping

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// refusedPrefix begins the Accepted message of a route in Snapshot.Refused.
const refusedPrefix = "The cloud refused this route's configuration: "

// RefusedByCloud reads a route's Accepted condition for a parent: when it
// is the one Build gives a route in Snapshot.Refused, at the route's
// generation, it returns the reconciler's message. A reader without the
// controller's memory (describe) leaves out the same routes with it. A
// message Build had to cut is returned cut; it only ever goes back into
// the same condition.
func RefusedByCloud(c *metav1.Condition, generation int64) (string, bool) {
	if c == nil || c.Type != string(gwv1.RouteConditionAccepted) || c.Status != metav1.ConditionFalse ||
		c.Reason != string(gwv1.RouteReasonUnsupportedValue) || c.ObservedGeneration != generation {
		return "", false
	}
	return strings.CutPrefix(c.Message, refusedPrefix)
}
