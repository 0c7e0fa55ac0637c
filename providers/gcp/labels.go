package gcp

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// GCP label rules: keys of 1 to 63 characters starting with a lowercase
// letter, values of at most 63; both of lowercase letters, digits, "_" and
// "-"; at most 64 labels a resource. (GCP also admits international
// letters; this adapter keeps to ASCII, which every Compute API accepts.)
const (
	maxLabel  = 63
	maxLabels = 64
)

// labels is what becomes of the model's user tags on the resources that
// take labels.
type labels struct {
	// Labels are the valid ones, as they are written.
	Labels map[string]string
	// Notes say, one a line, which tags were rewritten to fit (and how) and
	// which were refused (and why), in key order, so that a configuration
	// that does not change gives the same words.
	Notes []string
}

// sanitizeLabels maps user tags (the Gateway's infrastructure labels and
// annotations, the parameters' tags) to GCP labels: upper case becomes
// lower case and every other character GCP refuses becomes "_", so that
// "app.kubernetes.io/name" is kept as "app_kubernetes_io_name". What cannot
// be kept (too long, not starting with a letter, colliding with another
// tag's rewritten key, past the 64th) is refused and noted, never cut: a
// cut value would be a different value.
func sanitizeLabels(tags map[string]string) labels {
	out := labels{Labels: map[string]string{}}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		v := tags[k]
		key, val := labelText(k), labelText(v)
		switch {
		case key == "" || key[0] < 'a' || key[0] > 'z':
			out.Notes = append(out.Notes, fmt.Sprintf("label %q refused: a GCP label key starts with a lowercase letter", k))
			continue
		case len(key) > maxLabel:
			out.Notes = append(out.Notes, fmt.Sprintf("label %q refused: key longer than %d characters", k, maxLabel))
			continue
		case len(val) > maxLabel:
			out.Notes = append(out.Notes, fmt.Sprintf("label %q refused: value longer than %d characters", k, maxLabel))
			continue
		}
		if _, taken := out.Labels[key]; taken {
			out.Notes = append(out.Notes, fmt.Sprintf("label %q refused: its GCP key %q is another tag's", k, key))
			continue
		}
		if len(out.Labels) == maxLabels {
			out.Notes = append(out.Notes, fmt.Sprintf("label %q refused: GCP allows %d labels", k, maxLabels))
			continue
		}
		out.Labels[key] = val
		if key != k {
			out.Notes = append(out.Notes, fmt.Sprintf("label %q written as %q", k, key))
		}
		if val != v {
			out.Notes = append(out.Notes, fmt.Sprintf("label %q: value %q written as %q", k, v, val))
		}
	}
	return out
}

// labelText lowercases s and turns every character GCP refuses into "_".
// Length counts bytes: the result is ASCII.
func labelText(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
