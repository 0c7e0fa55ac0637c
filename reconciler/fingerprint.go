package reconciler

import (
	"cmp"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/json"
	"hash"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// fingerprint identifies a model (nil: no load balancer at all); the zero
// value identifies none (a model it could not encode), so that it never
// matches.
//
// It hashes a binary encoding of the model, streamed into SHA-256 through
// a small buffer: json.Marshal of a 3,000-rule model built a 500 KB
// document on every reconcile (2.1 ms and 0.5 MB of garbage), most of it
// field names and quoting. The encoding walks the same fields JSON would
// (exported, not `json:"-"`, a json.Marshaler's or TextMarshaler's own
// form), found by reflection once per type, so a field added to the model
// is in the fingerprint without a change here. It is injective for one
// type (every variable-size value is length-prefixed, nil told from empty,
// map entries in key order), so different models get different
// fingerprints; SHA-256 keeps a crafted route from making a collision.
//
// Fingerprints live in memory only (observations) and are compared only
// with fingerprints of the same process: after a restart there are none,
// and the first reconcile of each Gateway calls the cloud. The encoding may
// therefore change from one build to the next.
func fingerprint(m *lb.LoadBalancer) [sha256.Size]byte {
	if m == nil {
		return sha256.Sum256(nil)
	}
	e := encoderPool.Get().(*encoder)
	defer encoderPool.Put(e)
	e.h.Reset()
	e.buf, e.bad = e.buf[:0], false
	encoderOf(reflect.TypeFor[lb.LoadBalancer]())(e, reflect.ValueOf(m).Elem())
	var out [sha256.Size]byte
	if e.bad {
		// A kind the encoding does not know (func, chan): an unusable
		// fingerprint only costs a cloud call.
		return out
	}
	e.flush()
	e.h.Sum(out[:0])
	return out
}

// flushAt is how much encoding the buffer collects before the hash takes
// it.
const flushAt = 4 << 10

type encoder struct {
	h   hash.Hash
	buf []byte
	bad bool
}

var encoderPool = sync.Pool{New: func() any {
	return &encoder{h: sha256.New(), buf: make([]byte, 0, flushAt+256)}
}}

func (e *encoder) flush() {
	e.h.Write(e.buf)
	e.buf = e.buf[:0]
}

func (e *encoder) uint(u uint64) {
	e.buf = binary.AppendUvarint(e.buf, u)
	if len(e.buf) >= flushAt {
		e.flush()
	}
}

func (e *encoder) bytes(s string) {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
	if len(e.buf)+len(s) > flushAt+256 {
		e.flush()
		if len(s) > flushAt {
			// A certificate or key: straight into the hash.
			e.h.Write([]byte(s))
			return
		}
	}
	e.buf = append(e.buf, s...)
}

// encodeFunc appends v, of the type it was made for, to e.
type encodeFunc func(e *encoder, v reflect.Value)

var (
	encoders sync.Map // reflect.Type -> encodeFunc, complete ones only

	compileMu sync.Mutex
	// compiling holds, under compileMu, the encoders of one encoderOf
	// call until they are all complete.
	compiling = map[reflect.Type]encodeFunc{}
)

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

func encoderOf(t reflect.Type) encodeFunc {
	if f, ok := encoders.Load(t); ok {
		return f.(encodeFunc)
	}
	compileMu.Lock()
	defer compileMu.Unlock()
	f := encoderLocked(t)
	// Published together once complete: an encoder refers to those of
	// its fields, and a recursive one to itself through an indirection
	// set only at the end of its compilation.
	for t, f := range compiling {
		encoders.Store(t, f)
	}
	clear(compiling)
	return f
}

func encoderLocked(t reflect.Type) encodeFunc {
	if f, ok := encoders.Load(t); ok {
		return f.(encodeFunc)
	}
	if f, ok := compiling[t]; ok {
		return f
	}
	var f encodeFunc
	compiling[t] = func(e *encoder, v reflect.Value) { f(e, v) }
	f = compileEncoder(t)
	compiling[t] = f
	return f
}

func compileEncoder(t reflect.Type) encodeFunc {
	switch {
	case t.Implements(jsonMarshaler):
		return marshalerEncoder(func(v reflect.Value) ([]byte, error) { return v.Interface().(json.Marshaler).MarshalJSON() })
	case t.Implements(textMarshaler):
		return marshalerEncoder(func(v reflect.Value) ([]byte, error) { return v.Interface().(encoding.TextMarshaler).MarshalText() })
	case t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(jsonMarshaler),
		t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(textMarshaler):
		// A pointer method: through the value's address, or a copy's
		// where it has none (a map's value).
		ptr := encoderLocked(reflect.PointerTo(t))
		return func(e *encoder, v reflect.Value) {
			if v.CanAddr() {
				ptr(e, v.Addr())
				return
			}
			if !v.CanInterface() {
				e.bad = true
				return
			}
			p := reflect.New(t)
			p.Elem().Set(v)
			ptr(e, p)
		}
	}
	switch t.Kind() {
	case reflect.Bool:
		return func(e *encoder, v reflect.Value) {
			if v.Bool() {
				e.uint(1)
			} else {
				e.uint(0)
			}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(e *encoder, v reflect.Value) {
			i := v.Int()
			e.uint(uint64(i<<1) ^ uint64(i>>63)) // zigzag: small negatives stay short
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(e *encoder, v reflect.Value) { e.uint(v.Uint()) }
	case reflect.Float32, reflect.Float64:
		return func(e *encoder, v reflect.Value) { e.uint(math.Float64bits(v.Float())) }
	case reflect.String:
		return func(e *encoder, v reflect.Value) { e.bytes(v.String()) }
	case reflect.Pointer:
		elem := encoderLocked(t.Elem())
		return func(e *encoder, v reflect.Value) {
			if v.IsNil() {
				e.uint(0)
				return
			}
			e.uint(1)
			elem(e, v.Elem())
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !t.Elem().Implements(jsonMarshaler) && !t.Elem().Implements(textMarshaler) {
			return func(e *encoder, v reflect.Value) {
				if v.IsNil() {
					e.uint(0)
					return
				}
				e.uint(1)
				e.bytes(string(v.Bytes()))
			}
		}
		elem := encoderLocked(t.Elem())
		return func(e *encoder, v reflect.Value) {
			if v.IsNil() {
				e.uint(0)
				return
			}
			n := v.Len()
			e.uint(uint64(n) + 1)
			for i := range n {
				elem(e, v.Index(i))
			}
		}
	case reflect.Array:
		elem := encoderLocked(t.Elem())
		return func(e *encoder, v reflect.Value) {
			for i := range v.Len() {
				elem(e, v.Index(i))
			}
		}
	case reflect.Map:
		return mapEncoder(t)
	case reflect.Struct:
		return structEncoder(t)
	case reflect.Interface:
		return func(e *encoder, v reflect.Value) {
			if v.IsNil() {
				e.uint(0)
				return
			}
			e.uint(1)
			dyn := v.Elem().Type()
			e.bytes(dyn.PkgPath() + "." + dyn.String())
			encoderOf(dyn)(e, v.Elem())
		}
	}
	return func(e *encoder, _ reflect.Value) { e.bad = true }
}

func marshalerEncoder(marshal func(reflect.Value) ([]byte, error)) encodeFunc {
	return func(e *encoder, v reflect.Value) {
		if v.Kind() == reflect.Pointer && v.IsNil() {
			e.uint(0)
			return
		}
		if !v.CanInterface() {
			e.bad = true // reached through an unexported field
			return
		}
		b, err := marshal(v)
		if err != nil {
			e.bad = true
			return
		}
		e.uint(1)
		e.bytes(string(b))
	}
}

type fieldEncoder struct {
	index int
	enc   encodeFunc
}

// structEncoder encodes the fields encoding/json would: exported ones (and
// embedded structs, whose exported fields json promotes) not tagged "-".
func structEncoder(t reflect.Type) encodeFunc {
	var fields []fieldEncoder
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !(f.Anonymous && f.Type.Kind() == reflect.Struct) {
			continue
		}
		if f.Tag.Get("json") == "-" {
			continue
		}
		fields = append(fields, fieldEncoder{i, encoderLocked(f.Type)})
	}
	return func(e *encoder, v reflect.Value) {
		for _, f := range fields {
			f.enc(e, v.Field(f.index))
		}
	}
}

// mapEncoder encodes entries in key order, so that equal maps encode alike
// whatever order they were filled in.
func mapEncoder(t reflect.Type) encodeFunc {
	var compare func(a, b reflect.Value) int
	switch t.Key().Kind() {
	case reflect.String:
		compare = func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		compare = func(a, b reflect.Value) int { return cmp.Compare(a.Int(), b.Int()) }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		compare = func(a, b reflect.Value) int { return cmp.Compare(a.Uint(), b.Uint()) }
	case reflect.Bool:
		compare = func(a, b reflect.Value) int {
			switch {
			case a.Bool() == b.Bool():
				return 0
			case b.Bool():
				return -1
			}
			return 1
		}
	default:
		return func(e *encoder, _ reflect.Value) { e.bad = true }
	}
	key, elem := encoderLocked(t.Key()), encoderLocked(t.Elem())
	return func(e *encoder, v reflect.Value) {
		if v.IsNil() {
			e.uint(0)
			return
		}
		e.uint(uint64(v.Len()) + 1)
		keys := v.MapKeys()
		slices.SortFunc(keys, compare)
		for _, k := range keys {
			key(e, k)
			elem(e, v.MapIndex(k))
		}
	}
}
