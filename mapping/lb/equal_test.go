package lb

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb/lbtest"
)

// Rule.Equal is written field by field for speed; this holds it to every
// field of Rule, however deep, so that a field added to the model is
// compared too (or this test fails).
func TestRuleEqualSeesEveryField(t *testing.T) {
	var zero Rule
	vs := lbtest.Variants(reflect.TypeFor[Rule]())
	if len(vs) < 50 {
		t.Fatalf("only %d variants of Rule: the test no longer reaches its fields", len(vs))
	}
	for _, v := range vs {
		r := v.Interface().(Rule)
		b, _ := json.Marshal(r)
		if zero.Equal(&r) || r.Equal(&zero) {
			t.Errorf("Equal holds the zero rule equal to %s", b)
		}
		// The rule read back (as the cloud gives it) is the same rule.
		var back Rule
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !r.Equal(&back) {
			t.Errorf("Equal holds %s unequal to itself read back as JSON", b)
		}
	}
	// Nil and empty lists are alike, as in the JSON form.
	a := Rule{Action: Action{Forward: []WeightedBackend{}, Mirrors: nil}}
	if !a.Equal(&zero) {
		t.Error("Equal tells an empty list from a nil one")
	}
}
