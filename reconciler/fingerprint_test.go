package reconciler

import (
	"crypto/sha256"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/mapping/lb/lbtest"
)

// Every field of the model is in its fingerprint, and a field added to the
// model is in it without a change to fingerprint: a change anywhere is a
// new fingerprint, so that the cloud is called. Each variant differs from
// the zero model in one place, and no two are alike.
func TestFingerprintSeesEveryFieldOfTheModel(t *testing.T) {
	vs := lbtest.Variants(reflect.TypeFor[lb.LoadBalancer]())
	if len(vs) < 100 {
		t.Fatalf("only %d variants of the model: the test no longer reaches its fields", len(vs))
	}
	zero := fingerprint(&lb.LoadBalancer{})
	if zero == fingerprint(nil) || zero == ([sha256.Size]byte{}) {
		t.Fatal("a model's fingerprint is that of no model, or unusable")
	}
	seen := map[[sha256.Size]byte]string{}
	for _, v := range vs {
		m := v.Interface().(lb.LoadBalancer)
		b, _ := json.Marshal(m)
		got := fingerprint(&m)
		if again := m; fingerprint(&again) != got {
			t.Errorf("%s: two equal models have different fingerprints", b)
		}
		switch other, ok := seen[got]; {
		case got == zero:
			t.Errorf("%s has the zero model's fingerprint", b)
		case got == [sha256.Size]byte{}:
			t.Errorf("%s has no usable fingerprint", b)
		case ok:
			t.Errorf("%s has the fingerprint of %s", b, other)
		}
		seen[got] = string(b)
	}
}

// Nil and empty are told apart, and so are values that a naive
// concatenation would run together.
func TestFingerprintTellsCloseModelsApart(t *testing.T) {
	models := []*lb.LoadBalancer{
		{},
		{Listeners: []lb.Listener{}},
		{Listeners: []lb.Listener{{}}},
		{Owner: lb.Owner{Namespace: "ab", Name: "c"}},
		{Owner: lb.Owner{Namespace: "a", Name: "bc"}},
		{Tags: map[string]string{}},
		{Tags: map[string]string{"a": "b"}},
		{Tags: map[string]string{"b": "a"}},
		{Tags: map[string]string{"a": "", "b": ""}},
		{Options: lb.Options{Addresses: []string{"a", "b"}}},
		{Options: lb.Options{Addresses: []string{"b", "a"}}},
		{Options: lb.Options{Addresses: []string{"ab"}}},
	}
	seen := map[[sha256.Size]byte]int{}
	for i, m := range models {
		fp := fingerprint(m)
		if j, ok := seen[fp]; ok {
			t.Errorf("models %d and %d have one fingerprint: %+v, %+v", j, i, models[j], m)
		}
		seen[fp] = i
	}
}

// Maps encode by their content, not the order they were filled in, and two
// Builds of one snapshot give one fingerprint: a reconcile that changes
// nothing calls no cloud.
func TestFingerprintIsTheSameForTheSameModel(t *testing.T) {
	a, b := map[string]string{}, map[string]string{}
	for i := range 100 {
		a[string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
	}
	for k := range a {
		b[k] = "v"
	}
	if fingerprint(&lb.LoadBalancer{Tags: a}) != fingerprint(&lb.LoadBalancer{Tags: b}) {
		t.Error("equal maps give different fingerprints")
	}

	snap := benchSnapshot(50)
	first := fingerprint(mapping.Build(snap).LoadBalancer)
	if got := fingerprint(mapping.Build(snap).LoadBalancer); got != first {
		t.Error("two Builds of one snapshot give different fingerprints")
	}
	path := "/changed"
	snap.HTTPRoutes[7].Spec.Rules[0].Matches[0].Path.Value = &path
	if got := fingerprint(mapping.Build(snap).LoadBalancer); got == first {
		t.Error("a changed route's path leaves the fingerprint as it was")
	}
}
