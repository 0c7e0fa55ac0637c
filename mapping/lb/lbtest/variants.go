package lbtest

import "reflect"

// maxDepth bounds how deep Variants goes: the model has no recursive
// types, and its deepest value is well within it.
const maxDepth = 24

// Variants are values of t that differ from its zero value, each in one
// place: every field, at every depth (a pointer set to a zero value, a
// list or map of one zero element, and then each field of those). Any two
// of them are different values.
func Variants(t reflect.Type) []reflect.Value {
	return variants(t, 0)
}

func variants(t reflect.Type, depth int) []reflect.Value {
	if depth > maxDepth {
		panic("the model nests deeper than lbtest expects: " + t.String())
	}
	var out []reflect.Value
	scalar := func(set func(reflect.Value)) {
		v := reflect.New(t).Elem()
		set(v)
		out = append(out, v)
	}
	switch t.Kind() {
	case reflect.String:
		scalar(func(v reflect.Value) { v.SetString("x") })
	case reflect.Bool:
		scalar(func(v reflect.Value) { v.SetBool(true) })
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		scalar(func(v reflect.Value) { v.SetInt(1) })
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		scalar(func(v reflect.Value) { v.SetUint(1) })
	case reflect.Float32, reflect.Float64:
		scalar(func(v reflect.Value) { v.SetFloat(0.5) })
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
	case reflect.Map:
		zeroKey, zeroElem := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
		one := func(k, e reflect.Value) reflect.Value {
			m := reflect.MakeMap(t)
			m.SetMapIndex(k, e)
			return m
		}
		out = append(out, one(zeroKey, zeroElem))
		for _, k := range variants(t.Key(), depth+1) {
			out = append(out, one(k, zeroElem))
		}
		for _, e := range variants(t.Elem(), depth+1) {
			out = append(out, one(zeroKey, e))
		}
	case reflect.Struct:
		for i := range t.NumField() {
			if !t.Field(i).IsExported() {
				continue
			}
			for _, f := range variants(t.Field(i).Type, depth+1) {
				v := reflect.New(t).Elem()
				v.Field(i).Set(f)
				out = append(out, v)
			}
		}
	default:
		panic("the model has a field of a kind lbtest does not vary: " + t.String())
	}
	return out
}
