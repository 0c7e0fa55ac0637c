package gcptest

import (
	"fmt"
	"sort"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// Create stores obj in scope ("global", "regions/R" or "zones/Z") with the
// checks of an API insert, and returns its selfLink. It is how a test or
// `cloudgate gcp-double` seeds objects (a subnetwork, a foreign resource)
// without a client.
func (d *Double) Create(scope string, obj proto.Message) (string, error) {
	c := collectionFor(obj)
	if c == nil || !c.in(scope) || c.name == "operations" {
		return "", fmt.Errorf("gcptest: cannot store a %T in %s", obj, scope)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ref, aerr := d.insert(scope, c, proto.Clone(obj))
	if aerr != nil {
		return "", aerr
	}
	return SelfLinkBase + ref, nil
}

// Objects returns copies of every stored object of T's kind, in every
// scope, sorted by selfLink: gcptest.Objects[*computepb.UrlMap](d).
func Objects[T proto.Message](d *Double) []T {
	d.mu.Lock()
	defer d.mu.Unlock()
	var refs []string
	for ref, obj := range d.objects {
		if _, ok := obj.(T); ok {
			refs = append(refs, ref)
		}
	}
	sort.Strings(refs)
	out := make([]T, 0, len(refs))
	for _, ref := range refs {
		out = append(out, d.present(d.objects[ref]).(T))
	}
	return out
}

// Get returns a copy of the object at link (a selfLink, or a path such as
// "projects/P/regions/R/urlMaps/N" or "regions/R/urlMaps/N").
func Get[T proto.Message](d *Double, link string) (T, bool) {
	var zero T
	d.mu.Lock()
	defer d.mu.Unlock()
	ref, ok := d.resolve(link)
	if !ok {
		return zero, false
	}
	obj, ok := d.objects[ref].(T)
	if !ok {
		return zero, false
	}
	return d.present(obj).(T), true
}

// NetworkEndpoints returns copies of the endpoints attached to the network
// endpoint group at link.
func (d *Double) NetworkEndpoints(link string) []*computepb.NetworkEndpoint {
	d.mu.Lock()
	defer d.mu.Unlock()
	ref, _ := d.resolve(link)
	out := make([]*computepb.NetworkEndpoint, 0, len(d.endpoints[ref]))
	for _, e := range d.endpoints[ref] {
		out = append(out, proto.CloneOf(e))
	}
	return out
}

// Edit changes the stored object at link in place, as another client
// would: edit gets a copy; the result must pass the checks of an update,
// and gets new fingerprints, so a writer holding the old one gets 412.
func (d *Double) Edit(link string, edit func(proto.Message)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	ref, ok := d.resolve(link)
	obj, found := d.objects[ref]
	if !ok || !found {
		return notFound(link)
	}
	next := proto.Clone(obj)
	edit(next)
	if aerr := d.replace(ref, collections[collectionOf(ref)], obj, next); aerr != nil {
		return aerr
	}
	return nil
}

// Len returns how many objects the double holds, seeded subnetworks
// included and operations not, for leak checks.
func (d *Double) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.objects)
}

// collectionFor finds the collection whose objects have obj's type.
func collectionFor(obj proto.Message) *collection {
	name := obj.ProtoReflect().Descriptor().FullName()
	for _, c := range collections {
		if c.newObj().ProtoReflect().Descriptor().FullName() == name {
			return c
		}
	}
	return nil
}

// Refs lists the refs of every stored object, sorted; a test can diff it
// before and after to find leaks.
func (d *Double) Refs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.objects))
	for ref := range d.objects {
		out = append(out, ref)
	}
	sort.Strings(out)
	return out
}
