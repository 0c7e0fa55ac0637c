package gcpe2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// namespace creates a namespace of the test's own.
func namespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "gcpe2e-"}}
	must(t, suite.c.Create(ctxFor(t), ns))
	return ns.Name
}

func create(t testing.TB, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		must(t, suite.c.Create(ctxFor(t), o))
	}
}

// update re-reads obj and applies change until no conflict: the controller
// writes statuses meanwhile.
func update[T client.Object](t testing.TB, obj T, change func(T)) {
	t.Helper()
	must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := suite.c.Get(ctxFor(t), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		change(obj)
		return suite.c.Update(ctxFor(t), obj)
	}))
}

// service creates a Service with one port and an EndpointSlice of ready
// endpoints at ips (envtest runs no endpoint controller).
func service(t testing.TB, ns, name string, port int32, ips ...string) {
	t.Helper()
	create(t,
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: port, Protocol: corev1.ProtocolTCP}}},
		},
		endpointSlice(ns, name, port, ips...))
}

func endpointSlice(ns, service string, port int32, ips ...string) *discoveryv1.EndpointSlice {
	portName, proto := "http", corev1.ProtocolTCP
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: service + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port, Protocol: &proto}},
	}
	setEndpoints(es, ips...)
	return es
}

// setEndpoints makes ips the slice's ready endpoints, each on a node of
// its own: GCP's endpoints name the VM instance holding their IP.
func setEndpoints(es *discoveryv1.EndpointSlice, ips ...string) {
	ready := true
	es.Endpoints = nil
	for _, ip := range ips {
		node := "node-" + strings.ReplaceAll(ip, ".", "-")
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: &node, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
	}
}

// scale replaces the endpoints of a Service's EndpointSlice.
func scale(t testing.TB, ns, service string, ips ...string) {
	t.Helper()
	update(t, endpointSlice(ns, service, 0), func(es *discoveryv1.EndpointSlice) { setEndpoints(es, ips...) })
}

func gateway(ns, name string, listeners ...gwv1.Listener) *gwv1.Gateway {
	return &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       gwv1.GatewaySpec{GatewayClassName: className, Listeners: listeners},
	}
}

func listener(name string, proto gwv1.ProtocolType, port int32) gwv1.Listener {
	return gwv1.Listener{Name: gwv1.SectionName(name), Protocol: proto, Port: gwv1.PortNumber(port)}
}

// httpsListener terminates TLS with the certificate in Secret secret.
func httpsListener(name string, port int32, secret string) gwv1.Listener {
	l := listener(name, gwv1.HTTPSProtocolType, port)
	mode := gwv1.TLSModeTerminate
	l.TLS = &gwv1.ListenerTLSConfig{Mode: &mode, CertificateRefs: []gwv1.SecretObjectReference{{Name: gwv1.ObjectName(secret)}}}
	return l
}

// route is an HTTPRoute of the Gateway gw, on its listener section when
// one is given, on all of them otherwise.
func route(ns, name, gw, section string, hostnames []string, rules ...gwv1.HTTPRouteRule) *gwv1.HTTPRoute {
	r := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	ref := gwv1.ParentReference{Name: gwv1.ObjectName(gw)}
	if section != "" {
		s := gwv1.SectionName(section)
		ref.SectionName = &s
	}
	r.Spec.ParentRefs = []gwv1.ParentReference{ref}
	for _, h := range hostnames {
		r.Spec.Hostnames = append(r.Spec.Hostnames, gwv1.Hostname(h))
	}
	r.Spec.Rules = rules
	return r
}

func backendRef(name string, port, weight int32) gwv1.HTTPBackendRef {
	p := gwv1.PortNumber(port)
	return gwv1.HTTPBackendRef{BackendRef: gwv1.BackendRef{
		BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(name), Port: &p},
		Weight:                 &weight,
	}}
}

func prefix(v string) gwv1.HTTPRouteMatch {
	t := gwv1.PathMatchPathPrefix
	return gwv1.HTTPRouteMatch{Path: &gwv1.HTTPPathMatch{Type: &t, Value: &v}}
}

func exact(v string) gwv1.HTTPRouteMatch {
	t := gwv1.PathMatchExact
	return gwv1.HTTPRouteMatch{Path: &gwv1.HTTPPathMatch{Type: &t, Value: &v}}
}

func header(name, value string) gwv1.HTTPHeaderMatch {
	return gwv1.HTTPHeaderMatch{Name: gwv1.HTTPHeaderName(name), Value: value}
}

func rule(match gwv1.HTTPRouteMatch, refs ...gwv1.HTTPBackendRef) gwv1.HTTPRouteRule {
	return gwv1.HTTPRouteRule{Matches: []gwv1.HTTPRouteMatch{match}, BackendRefs: refs}
}

// eventually retries check until it returns nil or timeout passes.
func eventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func getGateway(t testing.TB, ns, name string) *gwv1.Gateway {
	t.Helper()
	var gw gwv1.Gateway
	must(t, suite.c.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: name}, &gw))
	return &gw
}

// programmed waits for the Gateway's Programmed=True on its generation
// and returns the condition and the Gateway's IP address.
func programmed(t testing.TB, ns, name string) (metav1.Condition, string) {
	t.Helper()
	var (
		cond metav1.Condition
		addr string
	)
	eventually(t, 60*time.Second, func() error {
		gw := getGateway(t, ns, name)
		c := meta.FindStatusCondition(gw.Status.Conditions, string(gwv1.GatewayConditionProgrammed))
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != gw.Generation {
			return fmt.Errorf("Gateway %s/%s Programmed = %+v", ns, name, c)
		}
		if len(gw.Status.Addresses) != 1 || gw.Status.Addresses[0].Type == nil || *gw.Status.Addresses[0].Type != gwv1.IPAddressType {
			return fmt.Errorf("Gateway %s/%s addresses = %+v, want one IPAddress", ns, name, gw.Status.Addresses)
		}
		cond, addr = *c, gw.Status.Addresses[0].Value
		return nil
	})
	return cond, addr
}

// deleteGateway deletes the Gateway and waits until it is gone, its
// finalizer released: the provider deleted everything it had.
func deleteGateway(t testing.TB, ns, name string) {
	t.Helper()
	must(t, suite.c.Delete(ctxFor(t), getGateway(t, ns, name)))
	eventually(t, 60*time.Second, func() error {
		err := suite.c.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: name}, &gwv1.Gateway{})
		if err == nil {
			return fmt.Errorf("Gateway %s/%s still there", ns, name)
		}
		return client.IgnoreNotFound(err)
	})
}

// certSecret is a kubernetes.io/tls Secret with a new self-signed
// certificate for host; serial tells rotations apart.
func certSecret(t testing.TB, ns, name, host string, serial int64) *corev1.Secret {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		},
	}
}

// callsUntilQuiet returns the provider's calls since the last take,
// waiting until it has made none for a second and until done holds: a
// reconcile may still be reading or writing after the double shows its
// change.
func callsUntilQuiet(t testing.TB, done func() bool) map[string]int {
	t.Helper()
	calls := map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	for quiet := 0; quiet < 2 || !done(); {
		time.Sleep(500 * time.Millisecond)
		now := suite.calls.take()
		if len(now) == 0 {
			quiet++
		} else {
			quiet = 0
		}
		for op, n := range now {
			calls[op] += n
		}
		if time.Now().After(deadline) {
			t.Fatalf("the provider kept calling the double for 30s: %s", formatCalls(calls))
		}
	}
	return calls
}

func always() bool { return true }

// quiesce waits until the provider is idle, so that a test's call counts
// start clean.
func quiesce(t testing.TB) { t.Helper(); callsUntilQuiet(t, always) }

// reads are the methods that change nothing.
func isRead(method string) bool {
	_, verb, _ := strings.Cut(method, ".")
	switch verb {
	case "get", "list", "aggregatedList", "listNetworkEndpoints", "wait":
		return true
	}
	return false
}

func writesOf(calls map[string]int) map[string]int {
	out := map[string]int{}
	for m, n := range calls {
		if !isRead(m) {
			out[m] = n
		}
	}
	return out
}

func total(calls map[string]int) (reads, writes int) {
	for m, n := range calls {
		if isRead(m) {
			reads += n
		} else {
			writes += n
		}
	}
	return reads, writes
}

func formatCalls(calls map[string]int) string {
	var parts []string
	for _, m := range slices.Sorted(maps.Keys(calls)) {
		parts = append(parts, fmt.Sprintf("%s=%d", m, calls[m]))
	}
	reads, writes := total(calls)
	return fmt.Sprintf("%d calls, %d reads and %d writes (%s)", reads+writes, reads, writes, strings.Join(parts, " "))
}
