package providers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Diff is what a Step changes, one field a line.
type Diff []FieldChange

// FieldChange is one changed field, with both values as they print.
type FieldChange struct {
	// Field is the path to it, by JSON field names: "match.path.value",
	// "tags[team]", "virtualHosts[0].rules", "listeners[http-80].port"
	// (elements of a list that have names are found by name).
	Field string
	// Old and New print the values: strings quoted, durations as "1m30s",
	// byte strings by their SHA-256, "none" for an absent value and
	// Redacted for a secret.
	Old, New string
}

// Redacted stands for a secret value in a diff.
const Redacted = "<redacted>"

// none stands for an absent value in a diff.
const none = "none"

func (c FieldChange) String() string { return c.Field + ": " + c.Old + " → " + c.New }

func (d Diff) String() string {
	lines := make([]string, len(d))
	for i, c := range d {
		lines[i] = c.String()
	}
	return strings.Join(lines, "; ")
}

// Compare lists the fields in which new differs from old, two values of the
// same type (structs, pointers to them, maps, slices, scalars; nil for an
// absent one). It compares as the JSON form would: exported fields only,
// json:"-" ones skipped, nil and empty slices and maps alike. Elements of a
// slice of structs are matched by their Name (or a field tagged
// `diff:"key"`) when every element has a distinct one, else by index when
// the lengths agree, else the whole slices print.
//
// Secrets never print: lb.Certificate's KeyPEM, and any field whose name
// says it is one (PrivateKey, Password, Secret, Token, Credential), show as
// Redacted, even inside a value printed whole.
func Compare(old, new any) Diff {
	var d Diff
	d.compare("", reflect.ValueOf(old), reflect.ValueOf(new), false)
	return d
}

func (d *Diff) add(path string, a, b reflect.Value, secret bool) {
	if path == "" {
		path = "value"
	}
	*d = append(*d, FieldChange{Field: path, Old: format(a, secret), New: format(b, secret)})
}

func (d *Diff) compare(path string, a, b reflect.Value, secret bool) {
	if same(a, b) {
		return
	}
	if secret || !a.IsValid() || !b.IsValid() || a.Type() != b.Type() {
		d.add(path, a, b, secret)
		return
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			d.add(path, a, b, false)
			return
		}
		d.compare(path, a.Elem(), b.Elem(), false)
	case reflect.Struct:
		if isLeaf(a.Type()) {
			d.add(path, a, b, false)
			return
		}
		t := a.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, ok := fieldName(f)
			if !ok {
				continue
			}
			d.compare(join(path, name), a.Field(i), b.Field(i), isSecret(f))
		}
	case reflect.Map:
		keys := mapKeys(a, b)
		for _, k := range keys {
			d.compare(path+"["+quoteKey(keyString(k))+"]", a.MapIndex(k), b.MapIndex(k), false)
		}
	case reflect.Slice, reflect.Array:
		if a.Type().Elem().Kind() == reflect.Uint8 {
			d.add(path, a, b, false)
			return
		}
		if ka, kb := keyed(a), keyed(b); ka != nil && kb != nil {
			d.compareKeyed(path, ka, kb)
			return
		}
		if a.Len() != b.Len() {
			d.add(path, a, b, false)
			return
		}
		for i := range a.Len() {
			d.compare(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i), false)
		}
	default:
		d.add(path, a, b, false)
	}
}

// entry is an element of a keyed slice.
type entry struct {
	key string
	v   reflect.Value
}

// compareKeyed matches elements by key: old's in its order (changed or
// removed), then the ones new adds, then a change of order among the kept.
func (d *Diff) compareKeyed(path string, a, b []entry) {
	inA, inB := index(a), index(b)
	for _, e := range a {
		d.compare(path+"["+quoteKey(e.key)+"]", e.v, inB[e.key], false)
	}
	for _, e := range b {
		if _, ok := inA[e.key]; !ok {
			d.compare(path+"["+quoteKey(e.key)+"]", reflect.Value{}, e.v, false)
		}
	}
	var kept, moved []string
	for _, e := range a {
		if _, ok := inB[e.key]; ok {
			kept = append(kept, e.key)
		}
	}
	for _, e := range b {
		if _, ok := inA[e.key]; ok {
			moved = append(moved, e.key)
		}
	}
	if !slices.Equal(kept, moved) {
		if path == "" {
			path = "value"
		}
		*d = append(*d, FieldChange{Field: path + " order", Old: "[" + strings.Join(kept, ", ") + "]", New: "[" + strings.Join(moved, ", ") + "]"})
	}
}

func index(es []entry) map[string]reflect.Value {
	m := make(map[string]reflect.Value, len(es))
	for _, e := range es {
		m[e.key] = e.v
	}
	return m
}

// keyed returns the elements of a slice of structs (or pointers to them)
// by their key field, or nil when they have none or two share one.
func keyed(s reflect.Value) []entry {
	t := s.Type().Elem()
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	idx := -1
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("diff") == "key" && f.Type.Kind() == reflect.String {
			idx = i
			break
		}
		if f.Name == "Name" && f.Type.Kind() == reflect.String && idx < 0 {
			idx = i
		}
	}
	if idx < 0 {
		return nil
	}
	out := make([]entry, 0, s.Len())
	seen := map[string]bool{}
	for i := range s.Len() {
		v := s.Index(i)
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return nil
			}
			v = v.Elem()
		}
		k := v.Field(idx).String()
		if seen[k] {
			return nil
		}
		seen[k] = true
		out = append(out, entry{key: k, v: s.Index(i)})
	}
	return out
}

// same reports whether a and b have the same JSON form, near enough: nil and
// empty slices and maps are alike, and so are an absent value and a nil one.
func same(a, b reflect.Value) bool {
	ea, eb := empty(a), empty(b)
	if ea || eb {
		return ea && eb
	}
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		return same(a.Elem(), b.Elem())
	case reflect.Struct:
		if isLeaf(a.Type()) {
			return reflect.DeepEqual(a.Interface(), b.Interface())
		}
		t := a.Type()
		for i := range t.NumField() {
			if _, ok := fieldName(t.Field(i)); ok && !same(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !same(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			if !same(a.MapIndex(k), b.MapIndex(k)) {
				return false
			}
		}
		return true
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float()
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return a.Pointer() == b.Pointer()
	default:
		return a.Equal(b)
	}
}

// empty reports whether v is absent, nil, or an empty slice or map.
func empty(v reflect.Value) bool {
	if !v.IsValid() {
		return true
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return false
}

var durationType = reflect.TypeFor[time.Duration]()

// isLeaf says a struct prints whole: one with no exported fields (a
// time.Time), compared by its own rules.
func isLeaf(t reflect.Type) bool {
	for i := range t.NumField() {
		if _, ok := fieldName(t.Field(i)); ok {
			return false
		}
	}
	return true
}

// fieldName is f's JSON name, and false for a field JSON leaves out.
func fieldName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch name {
	case "-":
		return "", false
	case "":
		return strings.ToLower(f.Name[:1]) + f.Name[1:], true
	}
	return name, true
}

// secretWords mark a field as secret by its name.
var secretWords = []string{"keypem", "privatekey", "password", "secret", "token", "credential"}

func isSecret(f reflect.StructField) bool {
	n := strings.ToLower(f.Name)
	return slices.ContainsFunc(secretWords, func(w string) bool { return strings.Contains(n, w) })
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// mapKeys is the union of a's and b's keys, sorted as they print.
func mapKeys(a, b reflect.Value) []reflect.Value {
	seen := map[string]reflect.Value{}
	for _, m := range []reflect.Value{a, b} {
		for _, k := range m.MapKeys() {
			seen[keyString(k)] = k
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]reflect.Value, len(names))
	for i, n := range names {
		out[i] = seen[n]
	}
	return out
}

func keyString(k reflect.Value) string {
	if k.Kind() == reflect.String {
		return k.String()
	}
	return fmt.Sprint(k.Interface())
}

// quoteKey prints a key as it is unless quotes are needed to see it: "" (a
// catch-all hostname) or one with spaces, brackets or quotes.
func quoteKey(k string) string {
	if k == "" || strings.ContainsAny(k, " []\"\t\n") {
		return strconv.Quote(k)
	}
	return k
}

// format prints a value on one line.
func format(v reflect.Value, secret bool) string {
	if !v.IsValid() {
		return none
	}
	if secret {
		if empty(v) {
			return none
		}
		return Redacted
	}
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return none
		}
		return format(v.Elem(), false)
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if v.Len() == 0 {
				return none
			}
			b := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(b), v)
			h := sha256.Sum256(b)
			return "sha256:" + hex.EncodeToString(h[:])[:16]
		}
		parts := make([]string, v.Len())
		for i := range v.Len() {
			parts[i] = format(v.Index(i), false)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		var parts []string
		for _, k := range mapKeys(v, v) {
			parts = append(parts, keyString(k)+": "+format(v.MapIndex(k), false))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case reflect.Struct:
		if isLeaf(v.Type()) {
			return fmt.Sprint(v.Interface())
		}
		var parts []string
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, ok := fieldName(f)
			if !ok || empty(v.Field(i)) || v.Field(i).IsZero() {
				continue
			}
			parts = append(parts, name+": "+format(v.Field(i), isSecret(f)))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v.Interface())
}
