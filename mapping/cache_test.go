package mapping

import (
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"weak"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// stamp gives every object of s a UID and a resourceVersion, as objects
// read from the API server have (the Cache caches nothing without them).
func stamp(s *Snapshot) {
	for i, o := range snapshotObjects(s) {
		if o.GetUID() == "" {
			o.SetUID(types.UID(fmt.Sprintf("uid-%d", i)))
		}
		if o.GetResourceVersion() == "" {
			o.SetResourceVersion("1")
		}
	}
}

// snapshotObjects lists every object of s that carries a UID and a
// resourceVersion.
func snapshotObjects(s *Snapshot) []metav1.Object {
	var out []metav1.Object
	out = appendObjects(out, s.HTTPRoutes)
	out = appendObjects(out, s.GRPCRoutes)
	out = appendObjects(out, s.TCPRoutes)
	out = appendObjects(out, s.UDPRoutes)
	out = appendObjects(out, s.TLSRoutes)
	out = appendObjects(out, s.Services)
	out = appendObjects(out, s.EndpointSlices)
	out = appendObjects(out, s.ReferenceGrants)
	out = appendObjects(out, s.BackendTLSPolicies)
	out = appendObjects(out, s.Secrets)
	out = appendObjects(out, s.ConfigMaps)
	return out
}

func appendObjects[T metav1.Object](out []metav1.Object, objs []T) []metav1.Object {
	for _, o := range objs {
		out = append(out, o)
	}
	return out
}

// bump gives o a new resourceVersion, as any write does.
func bump(o metav1.Object) {
	n, _ := strconv.Atoi(o.GetResourceVersion())
	o.SetResourceVersion(strconv.Itoa(n + 1))
}

// sameAsUncached builds s through c and without a cache and fails when the
// Results differ.
func sameAsUncached(t *testing.T, c *Cache, s *Snapshot, what string) {
	t.Helper()
	got, want := c.Build(s), Build(s)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: the cached Build differs from Build:\ncached:   %+v\nuncached: %+v", what, got, want)
	}
}

// TestCacheSameResult checks, on every golden input, that a Build through
// a Cache gives Build's Result the first time, the second (every route a
// hit), and after each change of an input a conversion reads: a Service's
// port, an EndpointSlice's addresses, a ReferenceGrant gone, a Service gone,
// other capabilities.
func TestCacheSameResult(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatal("no golden inputs", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			s := loadSnapshot(t, path)
			stamp(s)
			var c Cache
			sameAsUncached(t, &c, s, "first Build")
			sameAsUncached(t, &c, s, "second Build")
			for _, svc := range s.Services {
				for i := range svc.Spec.Ports {
					svc.Spec.Ports[i].Port++
				}
				bump(svc)
				sameAsUncached(t, &c, s, "Service "+svc.Name+" ports changed")
			}
			for _, es := range s.EndpointSlices {
				for i := range es.Endpoints {
					if len(es.Endpoints[i].Addresses) > 0 {
						es.Endpoints[i].Addresses[0] = "10.9.9.9"
					}
				}
				bump(es)
				sameAsUncached(t, &c, s, "EndpointSlice "+es.Name+" changed")
			}
			for len(s.ReferenceGrants) > 0 {
				g := s.ReferenceGrants[0]
				s.ReferenceGrants = s.ReferenceGrants[1:]
				sameAsUncached(t, &c, s, "ReferenceGrant "+g.Name+" deleted")
			}
			if len(s.Services) > 0 {
				gone := s.Services[0]
				s.Services = s.Services[1:]
				sameAsUncached(t, &c, s, "Service "+gone.Name+" deleted")
				s.Services = append(s.Services, gone)
				sameAsUncached(t, &c, s, "Service "+gone.Name+" back")
			}
			// The Cache's order hints (the last Build's order) must not
			// decide anything: listed the other way round, and with
			// paths whose precedence moves, the Result stays Build's.
			slices.Reverse(s.HTTPRoutes)
			sameAsUncached(t, &c, s, "routes listed in reverse")
			for _, r := range s.HTTPRoutes {
				for _, rule := range r.Spec.Rules {
					for _, m := range rule.Matches {
						if m.Path != nil && m.Path.Type != nil {
							flipped := gwv1.PathMatchPathPrefix
							if *m.Path.Type == gwv1.PathMatchPathPrefix {
								flipped = gwv1.PathMatchExact
							}
							*m.Path.Type = flipped
						}
					}
				}
				bump(r)
				sameAsUncached(t, &c, s, "HTTPRoute "+r.Name+" paths flipped")
			}
			// Routes unchanged, what they attach to changed: the cached
			// attachments and statuses must not outlive it.
			if s.Gateway != nil && len(s.Gateway.Spec.Listeners) > 0 {
				l := &s.Gateway.Spec.Listeners[0]
				host := gwv1.Hostname("moved.example.com")
				l.Hostname = &host
				bump(s.Gateway)
				sameAsUncached(t, &c, s, "first listener's hostname changed")
				all := gwv1.NamespacesFromAll
				l.AllowedRoutes = &gwv1.AllowedRoutes{Namespaces: &gwv1.RouteNamespaces{From: &all}}
				bump(s.Gateway)
				sameAsUncached(t, &c, s, "first listener allows all namespaces")
				l.Port++
				bump(s.Gateway)
				sameAsUncached(t, &c, s, "first listener's port changed")
			}
			for _, n := range s.Namespaces {
				n.Labels = map[string]string{"cache-test": n.Name}
				bump(n)
				sameAsUncached(t, &c, s, "namespace "+n.Name+" labels changed")
			}
			s.Capabilities.PathMatch = nil
			sameAsUncached(t, &c, s, "capabilities changed")
		})
	}
}

// TestCacheConvertsOnlyChanged checks that the Cache is used: a second
// Build reuses every route's conversion, and a change to one route's
// Service reconverts that route only.
func TestCacheConvertsOnlyChanged(t *testing.T) {
	s := loadSnapshot(t, "testdata/basic.in.yaml")
	base := s.HTTPRoutes[0]
	other := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: base.Namespace, Name: "other"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}}}
	s.Services = append(s.Services, other)
	r := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: base.Namespace, Name: "to-other", Generation: 1}}
	r.Spec.ParentRefs = base.Spec.ParentRefs
	port := gwv1.PortNumber(80)
	r.Spec.Rules = []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{
		BackendObjectReference: gwv1.BackendObjectReference{Name: "other", Port: &port}}}}}}
	s.HTTPRoutes = append(s.HTTPRoutes, r)
	stamp(s)

	var c Cache
	c.Build(s)
	first := map[cacheKey]*cacheEntry{}
	for k, e := range c.entries {
		if e.rules == nil {
			t.Fatalf("%v: conversion not cached", k)
		}
		first[k] = e
	}
	c.Build(s)
	for k, e := range c.entries {
		if e != first[k] || &e.rules[0] != &first[k].rules[0] {
			t.Errorf("%v: converted again with nothing changed", k)
		}
	}
	before := map[cacheKey]*ruleResult{}
	for k, e := range c.entries {
		before[k] = &e.rules[0]
	}
	other.Spec.Ports[0].Port = 81
	bump(other)
	c.Build(s)
	for k, e := range c.entries {
		reconverted := &e.rules[0] != before[k]
		if want := k.key.Name == "to-other"; reconverted != want {
			t.Errorf("%v: reconverted = %v, want %v", k, reconverted, want)
		}
	}
}

// TestCacheKeepsNoListAlive checks that a Cache holds nothing of the route
// objects it converted: the reconciler's routes sit side by side in one
// list per Build, and a route kept would keep its whole list (thousands of
// routes) alive for as long as the route does not change.
func TestCacheKeepsNoListAlive(t *testing.T) {
	s := loadSnapshot(t, "testdata/basic.in.yaml")
	stamp(s)
	// list lays the snapshot's HTTPRoutes out in one array, as a client's
	// HTTPRouteList does.
	list := func() *gwv1.HTTPRoute {
		items := make([]gwv1.HTTPRoute, len(s.HTTPRoutes))
		for i, r := range s.HTTPRoutes {
			items[i] = *r
			s.HTTPRoutes[i] = &items[i]
		}
		return &items[0]
	}
	var c Cache
	first := weak.Make(list())
	if c.Build(s).LoadBalancer == nil {
		t.Fatal("no model")
	}
	list()
	c.Build(s)
	runtime.GC()
	runtime.GC()
	if first.Value() != nil {
		t.Error("the Cache keeps the first Build's route list alive")
	}
	// The Cache lives on, as the reconciler's does.
	runtime.KeepAlive(&c)
}
