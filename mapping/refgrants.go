package mapping

// objRef names one side of a cross-namespace reference for ReferenceGrant
// checks. Group "" is the core API group.
type objRef struct {
	group, kind, namespace, name string
}

// granted reports whether a ReferenceGrant in to's namespace lets objects of
// from's group and kind in from's namespace refer to to. Same-namespace
// references need no grant.
func (b *builder) granted(from, to objRef) bool {
	if from.namespace == to.namespace {
		return true
	}
	for _, g := range b.grantsIn(to.namespace) {
		fromOK := false
		for _, f := range g.Spec.From {
			if string(f.Group) == from.group && string(f.Kind) == from.kind && string(f.Namespace) == from.namespace {
				fromOK = true
				break
			}
		}
		if !fromOK {
			continue
		}
		for _, t := range g.Spec.To {
			if string(t.Group) == to.group && string(t.Kind) == to.kind && (t.Name == nil || string(*t.Name) == to.name) {
				return true
			}
		}
	}
	return false
}
