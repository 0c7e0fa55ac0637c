package reconciler

import (
	"slices"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// mergeConditions returns desired merged into current: a condition keeps its
// LastTransitionTime unless its status changed, and conditions of types that
// desired does not mention (another controller's) are kept as they are. The
// order follows current, then new types in desired's order, so that nothing
// moves when nothing changed.
func mergeConditions(current, desired []metav1.Condition, now metav1.Time) []metav1.Condition {
	// Linear searches, not maps: a handful of conditions each, merged for
	// every route of a Gateway on every reconcile.
	out := make([]metav1.Condition, 0, len(current)+len(desired))
	for _, old := range current {
		c, ok := lastOfType(desired, old.Type)
		if !ok {
			out = append(out, old)
			continue
		}
		out = append(out, withTime(c, &old, now))
	}
	for _, c := range desired {
		if _, ok := lastOfType(current, c.Type); !ok {
			out = append(out, withTime(c, nil, now))
		}
	}
	return out
}

// lastOfType is the last condition of conds of type typ: the one a later
// entry of the same type would have replaced in a map.
func lastOfType(conds []metav1.Condition, typ string) (metav1.Condition, bool) {
	for i := len(conds) - 1; i >= 0; i-- {
		if conds[i].Type == typ {
			return conds[i], true
		}
	}
	return metav1.Condition{}, false
}

func withTime(c metav1.Condition, old *metav1.Condition, now metav1.Time) metav1.Condition {
	switch {
	case old != nil && old.Status == c.Status:
		c.LastTransitionTime = old.LastTransitionTime
	case c.LastTransitionTime.IsZero():
		c.LastTransitionTime = now
	}
	return c
}

// setCondition sets one condition in a desired list, replacing one of the same
// type.
func setCondition(conds []metav1.Condition, c metav1.Condition) []metav1.Condition {
	for i := range conds {
		if conds[i].Type == c.Type {
			conds[i] = c
			return conds
		}
	}
	return append(conds, c)
}

func findCondition(conds []metav1.Condition, t string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// maxMessageBytes bounds a condition message. The API server refuses a
// condition message over 32768 bytes, and with it the whole status write;
// mapping already shortens its lists, so this cut is the last line of
// defence, well inside the limit.
const maxMessageBytes = 4096

// boundConditions returns conds with every message cut to maxMessageBytes on a
// UTF-8 boundary, marked with a trailing ellipsis.
func boundConditions(conds []metav1.Condition) []metav1.Condition {
	out := conds
	for i, c := range conds {
		if len(c.Message) <= maxMessageBytes {
			continue
		}
		if &out[0] == &conds[0] {
			out = append([]metav1.Condition(nil), conds...)
		}
		out[i].Message = cutMessage(c.Message, maxMessageBytes)
	}
	return out
}

func cutMessage(msg string, limit int) string {
	const ellipsis = " …"
	cut := limit - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + ellipsis
}

// dropUnless removes from merged the conditions of the given types that
// desired does not carry. mergeConditions keeps types it was not told about
// (another controller's); a negative-polarity condition of ours, such as
// OverlappingTLSConfig, must instead vanish once it no longer holds.
func dropUnless(merged, desired []metav1.Condition, types ...string) []metav1.Condition {
	out := merged[:0:0]
	for _, c := range merged {
		if slices.Contains(types, c.Type) && findCondition(desired, c.Type) == nil {
			continue
		}
		out = append(out, c)
	}
	return out
}
