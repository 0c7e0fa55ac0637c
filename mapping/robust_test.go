package mapping

import (
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

func TestBuildEmptyPieces(t *testing.T) {
	cases := []*Snapshot{
		nil,
		{},
		{Gateway: &gwv1.Gateway{}},
		{Gateway: &gwv1.Gateway{Spec: gwv1.GatewaySpec{
			Listeners:      []gwv1.Listener{{}, {Protocol: gwv1.HTTPSProtocolType, Port: 443, TLS: &gwv1.ListenerTLSConfig{}}, {Port: 80, Protocol: gwv1.HTTPProtocolType, AllowedRoutes: &gwv1.AllowedRoutes{Namespaces: &gwv1.RouteNamespaces{}}}},
			Infrastructure: &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{}},
		}}},
		{
			Capabilities: emulatedCaps(),
			GatewayClass: &gwv1.GatewayClass{Spec: gwv1.GatewayClassSpec{ParametersRef: &gwv1.ParametersReference{}}},
			Gateway: &gwv1.Gateway{Spec: gwv1.GatewaySpec{Listeners: []gwv1.Listener{{Name: "a", Port: 80, Protocol: gwv1.HTTPProtocolType},
				{Name: "t", Port: 81, Protocol: gwv1.TLSProtocolType, TLS: &gwv1.ListenerTLSConfig{}},
				{Name: "p", Port: 82, Protocol: gwv1.TLSProtocolType}, {Name: "c", Port: 83, Protocol: gwv1.TCPProtocolType},
				{Name: "u", Port: 84, Protocol: gwv1.UDPProtocolType}}}},
			HTTPRoutes: []*gwv1.HTTPRoute{nil, {}, {Spec: gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{}}}, Rules: []gwv1.HTTPRouteRule{{}, {Matches: []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{}, Headers: []gwv1.HTTPHeaderMatch{{}}, QueryParams: []gwv1.HTTPQueryParamMatch{{}}}}, BackendRefs: []gwv1.HTTPBackendRef{{}}}}}}},
			GRPCRoutes: []*gwv1.GRPCRoute{nil, {}, {Spec: gwv1.GRPCRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{}}},
				Rules: []gwv1.GRPCRouteRule{{}, {Matches: []gwv1.GRPCRouteMatch{{Method: &gwv1.GRPCMethodMatch{}, Headers: []gwv1.GRPCHeaderMatch{{}}}},
					Filters: []gwv1.GRPCRouteFilter{{}}, BackendRefs: []gwv1.GRPCBackendRef{{Filters: []gwv1.GRPCRouteFilter{{}}}}}}}}},
			TCPRoutes: []*gwv1.TCPRoute{nil, {}, {Spec: gwv1.TCPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{}}},
				Rules: []gwv1.TCPRouteRule{{}, {BackendRefs: []gwv1.BackendRef{{}}}}}}},
			UDPRoutes: []*gwv1.UDPRoute{nil, {}, {Spec: gwv1.UDPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{}}},
				Rules: []gwv1.UDPRouteRule{{BackendRefs: []gwv1.BackendRef{{}}}}}}},
			TLSRoutes: []*gwv1.TLSRoute{nil, {}, {Spec: gwv1.TLSRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{}}},
				Hostnames: []gwv1.Hostname{""}, Rules: []gwv1.TLSRouteRule{{BackendRefs: []gwv1.BackendRef{{}}}}}}},
			Services:        []*corev1.Service{nil, {}},
			Secrets:         []*corev1.Secret{nil},
			Namespaces:      []*corev1.Namespace{nil},
			ReferenceGrants: []*gwv1beta1.ReferenceGrant{nil, {}},
			Parameters:      []*v1alpha1.LoadBalancerParameters{nil, {}},
		},
	}
	// Stream routes that reach a named Gateway's listeners with empty
	// pieces everywhere.
	gwMeta := metav1.ObjectMeta{Namespace: "ns", Name: "gw"}
	parents := gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}}
	routeMeta := metav1.ObjectMeta{Namespace: "ns", Name: "r"}
	cases = append(cases, &Snapshot{
		Capabilities: emulatedCaps(),
		Gateway: &gwv1.Gateway{ObjectMeta: gwMeta, Spec: gwv1.GatewaySpec{Listeners: []gwv1.Listener{
			{Name: "t", Port: 81, Protocol: gwv1.TLSProtocolType, TLS: &gwv1.ListenerTLSConfig{CertificateRefs: []gwv1.SecretObjectReference{{}}}},
			{Name: "p", Port: 81, Protocol: gwv1.TLSProtocolType, TLS: &gwv1.ListenerTLSConfig{Mode: ptr(gwv1.TLSModePassthrough)}},
			{Name: "c", Port: 83, Protocol: gwv1.TCPProtocolType}, {Name: "u", Port: 84, Protocol: gwv1.UDPProtocolType},
			{Name: "u2", Port: 84, Protocol: gwv1.UDPProtocolType}}}},
		TCPRoutes: []*gwv1.TCPRoute{{ObjectMeta: routeMeta, Spec: gwv1.TCPRouteSpec{CommonRouteSpec: parents,
			Rules: []gwv1.TCPRouteRule{{BackendRefs: []gwv1.BackendRef{{}, {Weight: ptr(int32(0))}}}}}}},
		UDPRoutes: []*gwv1.UDPRoute{{ObjectMeta: routeMeta, Spec: gwv1.UDPRouteSpec{CommonRouteSpec: parents}}},
		TLSRoutes: []*gwv1.TLSRoute{{ObjectMeta: routeMeta, Spec: gwv1.TLSRouteSpec{CommonRouteSpec: parents,
			Hostnames: []gwv1.Hostname{"", "*."}, Rules: []gwv1.TLSRouteRule{{}, {}}}}},
		Services: []*corev1.Service{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{}}}}},
	})
	for i, s := range cases {
		res := Build(s)
		if res.LoadBalancer != nil {
			if err := res.LoadBalancer.Validate(); err != nil {
				t.Errorf("case %d: %v", i, err)
			}
		}
	}
	BuildClass(nil, nil, lb.Capabilities{})
	BuildClass(&gwv1.GatewayClass{}, []*v1alpha1.LoadBalancerParameters{nil}, lb.Capabilities{})
}

// TestBuildMutatedGoldens takes every golden input and, many times over,
// clears random pointers, slices, maps and strings in it: Build must not
// panic and every model it returns must pass lb.Validate.
func TestBuildMutatedGoldens(t *testing.T) {
	ins, _ := filepath.Glob("testdata/*.in.yaml")
	rng := rand.New(rand.NewPCG(1, 2))
	for _, in := range ins {
		for range 40 {
			s := loadSnapshot(t, in)
			mutate(reflect.ValueOf(s).Elem(), rng, 0)
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("%s: Build panicked: %v", in, r)
					}
				}()
				res := Build(s)
				if res.LoadBalancer != nil {
					if err := res.LoadBalancer.Validate(); err != nil {
						t.Errorf("%s: mutated input gives an invalid model: %v", in, err)
					}
				}
			}()
		}
	}
}

var timeType = reflect.TypeOf(metav1.Time{})

func ptr[T any](v T) *T { return &v }

func mutate(v reflect.Value, rng *rand.Rand, depth int) {
	if depth > 12 || !v.IsValid() {
		return
	}
	if v.CanSet() && rng.IntN(12) == 0 {
		switch v.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.String, reflect.Int32, reflect.Int64:
			v.Set(reflect.Zero(v.Type()))
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		mutate(v.Elem(), rng, depth+1)
	case reflect.Slice:
		for i := range v.Len() {
			mutate(v.Index(i), rng, depth+1)
		}
	case reflect.Struct:
		if v.Type() == timeType {
			return
		}
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() && !strings.HasPrefix(f.Name, "XXX") {
				mutate(v.Field(i), rng, depth+1)
			}
		}
	}
}
