package gcptest

import (
	"regexp"
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
)

// GCP resource names: RFC 1035 labels of at most 63 characters.
var nameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

func checkName(name string) *apiError {
	if !nameRE.MatchString(name) {
		return invalid("Invalid value for field 'resource.name': '%s'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'", name)
	}
	return nil
}

// Label rules: at most 64 labels; keys start with a lowercase letter, and
// keys and values hold at most 63 lowercase letters, digits, '-' and '_'.
// GCP also allows international lowercase letters; the double does not,
// which is stricter than the API, never looser.
var (
	labelKeyRE   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	labelValueRE = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
)

func checkLabels(_ *Double, _ string, obj proto.Message) *apiError {
	labels := labelsOf(obj)
	if len(labels) > 64 {
		return invalid("Invalid value for field 'resource.labels': at most 64 labels, not %d", len(labels))
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !labelKeyRE.MatchString(k) {
			return invalid("Invalid value for field 'resource.labels': label key '%s' violates format constraints", k)
		}
		if !labelValueRE.MatchString(labels[k]) {
			return invalid("Invalid value for field 'resource.labels': label value '%s' (key '%s') violates format constraints", labels[k], k)
		}
	}
	return nil
}

// validate checks obj, about to be stored at ref: its references, its
// labels and its kind's own rules. d.mu is held.
func (d *Double) validate(ref string, c *collection, obj proto.Message) *apiError {
	if aerr := checkLabels(d, ref, obj); aerr != nil {
		return aerr
	}
	scope := scopeOf(ref)
	if c.refs != nil {
		for _, r := range c.refs(d, scope, obj) {
			if aerr := d.checkReference(scope, r); aerr != nil {
				return aerr
			}
		}
	}
	if c.check != nil {
		return c.check(d, ref, obj)
	}
	return nil
}

func (d *Double) checkReference(scope string, r reference) *apiError {
	target, ok := d.resolve(r.link)
	if !ok {
		return invalid("Invalid value for field 'resource.%s': '%s'. The URL is malformed.", r.field, r.link)
	}
	if !slices.Contains(r.kinds, collectionOf(target)) {
		return invalid("Invalid value for field 'resource.%s': '%s'. It must refer to one of %s.", r.field, r.link, strings.Join(r.kinds, ", "))
	}
	if !d.sameLocation(scope, scopeOf(target)) {
		return invalid("Invalid value for field 'resource.%s': '%s'. Cross-region references are not allowed.", r.field, r.link)
	}
	if _, ok := d.objects[target]; !ok {
		return invalid("Invalid value for field 'resource.%s': '%s'. The resource '%s' was not found", r.field, r.link, target)
	}
	return nil
}

// sameLocation says whether an object in scope may refer to one in target:
// regional objects to their region and its zones, global ones to global
// objects and to zones (a global backend service holds zonal NEGs).
func (d *Double) sameLocation(scope, target string) bool {
	switch {
	case target == scope:
		return true
	case strings.HasPrefix(target, "zones/"):
		return scope == "global" || scope == "regions/"+d.region
	}
	return false
}

// resolve turns a link (a full URL, "projects/P/...", or "regions/R/...")
// into a ref.
func (d *Double) resolve(link string) (string, bool) {
	if strings.Contains(link, "://") {
		i := strings.Index(link, "/projects/")
		if i < 0 {
			return "", false
		}
		link = link[i+1:]
	}
	if !strings.HasPrefix(link, "projects/") {
		if !strings.HasPrefix(link, "global/") && !strings.HasPrefix(link, "regions/") && !strings.HasPrefix(link, "zones/") {
			return "", false
		}
		link = "projects/" + d.project + "/" + link
	}
	segs := strings.Split(link, "/")
	switch {
	case len(segs) == 5 && segs[2] == "global", len(segs) == 6 && (segs[2] == "regions" || segs[2] == "zones"):
		return link, true
	}
	return "", false
}

// scopeOf returns "global", "regions/R" or "zones/Z" of a ref.
func scopeOf(ref string) string {
	segs := strings.Split(ref, "/")
	if len(segs) > 2 && segs[2] == "global" {
		return "global"
	}
	if len(segs) > 3 {
		return segs[2] + "/" + segs[3]
	}
	return ""
}

func collectionOf(ref string) string {
	segs := strings.Split(ref, "/")
	if len(segs) < 2 {
		return ""
	}
	return segs[len(segs)-2]
}

func nameOf(ref string) string { return ref[strings.LastIndex(ref, "/")+1:] }

// users returns the selfLinks of the objects that refer to ref, sorted.
// d.mu is held.
func (d *Double) users(ref string) []string {
	var out []string
	for other, obj := range d.objects {
		c := collections[collectionOf(other)]
		if other == ref || c == nil || c.refs == nil {
			continue
		}
		for _, r := range c.refs(d, scopeOf(other), obj) {
			if target, ok := d.resolve(r.link); ok && target == ref {
				out = append(out, SelfLinkBase+other)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// present returns the copy of obj that a read returns. d.mu is held.
func (d *Double) present(obj proto.Message) proto.Message {
	out := proto.Clone(obj)
	ref := strings.TrimPrefix(getString(obj, "self_link"), SelfLinkBase)
	if c := collections[collectionOf(ref)]; c != nil && c.present != nil {
		c.present(d, ref, out)
	}
	return out
}
