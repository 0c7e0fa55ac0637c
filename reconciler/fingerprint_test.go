package reconciler

import (
	"crypto/sha256"
	"reflect"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// modelFiller sets every field the fingerprint reads (and json would
// write) of a model, so that each can then be changed alone. It visits
// the same points in the same order on every model it fills; mutate, when
// set, is called at point number target instead of filling it.
type modelFiller struct {
	point, target int
	mutated       string
}

func (f *modelFiller) fill(v reflect.Value, path string) {
	f.point++
	if f.point == f.target {
		f.mutate(v, path)
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.String:
		v.SetString("a")
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem(), path)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		f.fill(v.Index(0), path+"[0]")
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		f.fill(k, path+"{key}")
		f.fill(e, path+"{value}")
		v.SetMapIndex(k, e)
	case reflect.Struct:
		for i := range v.NumField() {
			if sf := v.Type().Field(i); sf.IsExported() {
				f.fill(v.Field(i), path+"."+sf.Name)
			}
		}
	default:
		panic("the model holds a " + v.Kind().String() + " at " + path + ": teach modelFiller (and check fingerprint) about it")
	}
}

// mutate gives v a value other than the one fill gives it.
func (f *modelFiller) mutate(v reflect.Value, path string) {
	f.mutated = path
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(false)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(-2)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(2)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.String:
		v.SetString("ab")
	case reflect.Pointer, reflect.Map:
		v.SetZero() // nil
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 0, 0)) // empty, not nil
	case reflect.Struct:
		v.SetZero()
	}
}

// Every field of the model is in its fingerprint, and a field added to the
// model is in it without a change to fingerprint: a change anywhere is a
// new fingerprint, so that the cloud is called.
func TestFingerprintSeesEveryFieldOfTheModel(t *testing.T) {
	filled := func(target int) (*lb.LoadBalancer, *modelFiller) {
		m := &lb.LoadBalancer{}
		f := &modelFiller{target: target}
		f.fill(reflect.ValueOf(m).Elem(), "LoadBalancer")
		return m, f
	}
	full, f := filled(0)
	points := f.point
	want := fingerprint(full)
	if again, _ := filled(0); fingerprint(again) != want {
		t.Fatal("two equal models have different fingerprints")
	}
	if want == fingerprint(nil) || want == ([sha256.Size]byte{}) {
		t.Fatal("a model's fingerprint is that of no model, or unusable")
	}
	seen := map[[sha256.Size]byte]string{}
	for target := 2; target <= points; target++ {
		m, f := filled(target)
		got := fingerprint(m)
		if got == want {
			t.Errorf("changing %s leaves the fingerprint as it was", f.mutated)
		}
		if other, ok := seen[got]; ok {
			t.Errorf("changing %s gives the fingerprint changing %s gives", f.mutated, other)
		}
		seen[got] = f.mutated
	}
	if points < 100 {
		t.Errorf("only %d points in the model: the filler missed most of it", points)
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
