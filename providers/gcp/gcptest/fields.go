package gcptest

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The computepb messages share field names (name, id, self_link,
// fingerprint, labels, ...). Reaching them by reflection lets one store
// serve every collection without a type switch per kind.

func fieldOf(m proto.Message, name string) protoreflect.FieldDescriptor {
	return m.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(name))
}

func hasField(m proto.Message, name string) bool { return fieldOf(m, name) != nil }

func getString(m proto.Message, name string) string {
	fd := fieldOf(m, name)
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() || !m.ProtoReflect().Has(fd) {
		return ""
	}
	return m.ProtoReflect().Get(fd).String()
}

func setString(m proto.Message, name, v string) {
	if fd := fieldOf(m, name); fd != nil && fd.Kind() == protoreflect.StringKind && !fd.IsList() {
		m.ProtoReflect().Set(fd, protoreflect.ValueOfString(v))
	}
}

func setUint64(m proto.Message, name string, v uint64) {
	if fd := fieldOf(m, name); fd != nil && fd.Kind() == protoreflect.Uint64Kind {
		m.ProtoReflect().Set(fd, protoreflect.ValueOfUint64(v))
	}
}

// copyField makes to's field name what it is in from, absent included.
func copyField(from, to proto.Message, name string) {
	fd := fieldOf(from, name)
	if fd == nil {
		return
	}
	if from.ProtoReflect().Has(fd) {
		to.ProtoReflect().Set(fd, from.ProtoReflect().Get(fd))
	} else {
		to.ProtoReflect().Clear(fd)
	}
}

// labelsOf returns m's labels (nil when it has none or takes none).
func labelsOf(m proto.Message) map[string]string {
	fd := fieldOf(m, "labels")
	if fd == nil || !fd.IsMap() {
		return nil
	}
	var out map[string]string
	m.ProtoReflect().Get(fd).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		if out == nil {
			out = map[string]string{}
		}
		out[k.String()] = v.String()
		return true
	})
	return out
}

func setLabels(m proto.Message, labels map[string]string) {
	fd := fieldOf(m, "labels")
	if fd == nil || !fd.IsMap() {
		return
	}
	m.ProtoReflect().Clear(fd)
	mp := m.ProtoReflect().Mutable(fd).Map()
	for k, v := range labels {
		mp.Set(protoreflect.ValueOfString(k).MapKey(), protoreflect.ValueOfString(v))
	}
}

// mergeTopLevel sets every field present in patch on obj, replacing lists
// and maps whole rather than appending to them: the compute API's PATCH
// replaces a repeated field it is given.
func mergeTopLevel(obj, patch proto.Message) {
	dst := obj.ProtoReflect()
	patch.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		dst.Set(fd, v)
		return true
	})
}

// stringsNamed collects every string value, at any depth of m, in a field
// with one of names (a URL map names backend services in a dozen places).
func stringsNamed(m proto.Message, names ...string) []string {
	var out []string
	var walk func(protoreflect.Message)
	walk = func(msg protoreflect.Message) {
		msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.Kind() == protoreflect.StringKind && !fd.IsList() && !fd.IsMap():
				for _, n := range names {
					if string(fd.Name()) == n {
						out = append(out, v.String())
					}
				}
			case fd.Kind() == protoreflect.MessageKind && fd.IsList():
				l := v.List()
				for i := range l.Len() {
					walk(l.Get(i).Message())
				}
			case fd.Kind() == protoreflect.MessageKind && !fd.IsMap():
				walk(v.Message())
			}
			return true
		})
	}
	walk(m.ProtoReflect())
	return out
}
