package emulated

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// variants are values of t that differ from its zero value, each in one
// place: every field, at every depth (a pointer set to a zero value, a
// list of one zero element, and then each field of those).
func variants(t reflect.Type, depth int) []reflect.Value {
	if depth > 8 {
		panic("lb.Rule nests deeper than the test expects: " + t.String())
	}
	var out []reflect.Value
	switch t.Kind() {
	case reflect.String:
		v := reflect.New(t).Elem()
		v.SetString("x")
		out = append(out, v)
	case reflect.Bool:
		v := reflect.New(t).Elem()
		v.SetBool(true)
		out = append(out, v)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v := reflect.New(t).Elem()
		v.SetInt(1)
		out = append(out, v)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v := reflect.New(t).Elem()
		v.SetUint(1)
		out = append(out, v)
	case reflect.Float32, reflect.Float64:
		v := reflect.New(t).Elem()
		v.SetFloat(0.5)
		out = append(out, v)
	case reflect.Pointer:
		out = append(out, reflect.New(t.Elem()))
		for _, e := range variants(t.Elem(), depth+1) {
			p := reflect.New(t.Elem())
			p.Elem().Set(e)
			out = append(out, p)
		}
	case reflect.Slice:
		out = append(out, reflect.MakeSlice(t, 1, 1))
		for _, e := range variants(t.Elem(), depth+1) {
			s := reflect.MakeSlice(t, 1, 1)
			s.Index(0).Set(e)
			out = append(out, s)
		}
	case reflect.Struct:
		for i := range t.NumField() {
			for _, f := range variants(t.Field(i).Type, depth+1) {
				v := reflect.New(t).Elem()
				v.Field(i).Set(f)
				out = append(out, v)
			}
		}
	default:
		panic("lb.Rule has a field of a kind the test does not vary: " + t.String())
	}
	return out
}

// ruleEqual is written field by field for speed; this holds it to every
// field of lb.Rule, however deep, so that a field added to the model is
// compared too (or this test fails).
func TestRuleEqualSeesEveryField(t *testing.T) {
	var zero lb.Rule
	vs := variants(reflect.TypeFor[lb.Rule](), 0)
	if len(vs) < 50 {
		t.Fatalf("only %d variants of lb.Rule: the test no longer reaches its fields", len(vs))
	}
	for _, v := range vs {
		r := v.Interface().(lb.Rule)
		b, _ := json.Marshal(r)
		if ruleEqual(&zero, &r) || ruleEqual(&r, &zero) {
			t.Errorf("ruleEqual holds the zero rule equal to %s", b)
		}
		// The rule read back (as the cloud gives it) is the same rule.
		var back lb.Rule
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !ruleEqual(&r, &back) {
			t.Errorf("ruleEqual holds %s unequal to itself read back as JSON", b)
		}
	}
	// Nil and empty lists are alike, as in the JSON form.
	a := lb.Rule{Action: lb.Action{Forward: []lb.WeightedBackend{}, Mirrors: nil}}
	if !ruleEqual(&a, &zero) {
		t.Error("ruleEqual tells an empty list from a nil one")
	}
}
