package gcpfaults

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/providers/gcp"
)

const (
	backendPort = 8080
	tlsSecret   = "tls"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// namespace creates a namespace and a GatewayClass of the gcp controller
// for one test. envtest runs no namespace controller, so the test itself
// must delete its Gateways (and so their load balancers).
func namespace(t testing.TB, ctx context.Context, class string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "faults-"}}
	must(t, suite.c.Create(ctx, ns))
	gc := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: class}}
	gc.Spec.ControllerName = gcp.ControllerName
	must(t, suite.c.Create(ctx, gc))
	t.Cleanup(func() {
		forgetGateways(ns.Name)
		_ = suite.c.Delete(context.Background(), gc)
		_ = suite.c.Delete(context.Background(), ns)
	})
	return ns.Name
}

// forgetGateways deletes the namespace's Gateways without waiting for a
// controller: their finalizers are dropped. A test that failed half-way
// leaves Gateways behind, and the next test's controller, serving the
// same controllerName, would otherwise build them in its own double.
func forgetGateways(ns string) {
	ctx := context.Background()
	var gws gwv1.GatewayList
	if err := suite.c.List(ctx, &gws, client.InNamespace(ns)); err != nil {
		return
	}
	for i := range gws.Items {
		gw := &gws.Items[i]
		_ = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := suite.c.Get(ctx, client.ObjectKeyFromObject(gw), gw); err != nil {
				return client.IgnoreNotFound(err)
			}
			gw.Finalizers = nil
			return client.IgnoreNotFound(suite.c.Update(ctx, gw))
		})
		_ = deleteObject(ctx, gw)
	}
}

// service publishes a backend as a Service with an EndpointSlice of two
// ready addresses in the network, each on its node (the VM instance GCP's
// network endpoints name), as the endpoint slice controller would.
func service(t testing.TB, ctx context.Context, ns, name string, octet int) {
	t.Helper()
	portName, proto, ready, port := "http", corev1.ProtocolTCP, true, int32(backendPort)
	must(t, suite.c.Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: portName, Port: backendPort, Protocol: proto}}},
	}))
	var eps []discoveryv1.Endpoint
	for i := range 2 {
		eps = append(eps, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.0.%d.%d", octet, 10+i)},
			NodeName: ptr(nodeName(octet, i)), Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
	}
	must(t, suite.c.Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   eps,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port, Protocol: &proto}},
	}))
}

// testCert is the self-signed certificate and key of every test's
// Secret: one for the package, so that two runs of the same Gateways
// upload the same certificate (its content is in the name GCP gets).
var testCert = sync.OnceValues(func() (certPEM, keyPEM []byte) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "faults.example.com"},
		DNSNames: []string{"faults.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
})

// nodeName is the node of a service's i-th endpoint.
func nodeName(octet, i int) string { return fmt.Sprintf("node-%d-%d", octet, i) }

func ptr[T any](v T) *T { return &v }

// certSecret stores the test certificate for HTTPS listeners.
func certSecret(t testing.TB, ctx context.Context, ns string) {
	t.Helper()
	certPEM, keyPEM := testCert()
	must(t, suite.c.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: tlsSecret},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
	}))
}

// gateway is a Gateway with an HTTP listener on port 80 and, when https,
// an HTTPS one on 443 serving the test's certificate.
func gateway(ns, name, class string, https bool) *gwv1.Gateway {
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gwv1.GatewaySpec{GatewayClassName: gwv1.ObjectName(class), Listeners: []gwv1.Listener{
			{Name: "http", Protocol: gwv1.HTTPProtocolType, Port: 80},
		}}}
	if https {
		mode := gwv1.TLSModeTerminate
		gw.Spec.Listeners = append(gw.Spec.Listeners, gwv1.Listener{Name: "https", Protocol: gwv1.HTTPSProtocolType, Port: 443,
			TLS: &gwv1.ListenerTLSConfig{Mode: &mode, CertificateRefs: []gwv1.SecretObjectReference{{Name: tlsSecret}}}})
	}
	return gw
}

// routeRule is one rule of a test route: a path prefix to a backend.
type routeRule struct {
	path    string
	backend string
}

// httpRoute attaches to every listener of gw (no sectionName) and has one
// rule with one match per r.
func httpRoute(ns, name, gw string, rules []routeRule) *gwv1.HTTPRoute {
	route := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	route.Spec.ParentRefs = []gwv1.ParentReference{{Name: gwv1.ObjectName(gw)}}
	setRules(route, rules)
	return route
}

func setRules(route *gwv1.HTTPRoute, rules []routeRule) {
	route.Spec.Rules = nil
	for _, r := range rules {
		prefix, path, port := gwv1.PathMatchPathPrefix, r.path, gwv1.PortNumber(backendPort)
		route.Spec.Rules = append(route.Spec.Rules, gwv1.HTTPRouteRule{
			Matches: []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: &prefix, Value: &path}}},
			BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{
				BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(r.backend), Port: &port}}}},
		})
	}
}

// updateRoute sets a route's rules, retrying conflicts with the
// controller's status writes.
func updateRoute(ctx context.Context, ns, name string, rules []routeRule) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var r gwv1.HTTPRoute
		if err := suite.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &r); err != nil {
			return err
		}
		setRules(&r, rules)
		return suite.c.Update(ctx, &r)
	})
}

// k8sConverged says why the namespace's Gateways and routes are not
// settled yet: every Gateway Programmed and every route Accepted with
// resolved references by each of its parents, at their current
// generations, and every Gateway in gone deleted. It returns the UIDs of
// the Gateways that exist, by name.
func k8sConverged(ctx context.Context, ns string, gone []string) (map[string]string, error) {
	var gws gwv1.GatewayList
	if err := suite.c.List(ctx, &gws, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	uids := map[string]string{}
	for _, gw := range gws.Items {
		if slices.Contains(gone, gw.Name) {
			return nil, fmt.Errorf("gateway %s is still there (finalizers %v)", gw.Name, gw.Finalizers)
		}
		c := meta.FindStatusCondition(gw.Status.Conditions, string(gwv1.GatewayConditionProgrammed))
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != gw.Generation {
			return nil, fmt.Errorf("gateway %s not Programmed at generation %d: %+v", gw.Name, gw.Generation, c)
		}
		uids[gw.Name] = string(gw.UID)
	}
	var routes gwv1.HTTPRouteList
	if err := suite.c.List(ctx, &routes, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for _, r := range routes.Items {
		if _, ok := uids[string(r.Spec.ParentRefs[0].Name)]; !ok {
			continue // its Gateway is gone
		}
		if len(r.Status.Parents) == 0 {
			return nil, fmt.Errorf("route %s has no parent status", r.Name)
		}
		for _, p := range r.Status.Parents {
			for _, typ := range []gwv1.RouteConditionType{gwv1.RouteConditionAccepted, gwv1.RouteConditionResolvedRefs} {
				c := meta.FindStatusCondition(p.Conditions, string(typ))
				if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != r.Generation {
					return nil, fmt.Errorf("route %s at generation %d: %s = %+v", r.Name, r.Generation, typ, c)
				}
			}
		}
	}
	return uids, nil
}

// deleteGateways deletes the namespace's Gateways and waits until their
// finalizers are gone (the controller deleted their load balancers).
func deleteGateways(ctx context.Context, ns string, timeout time.Duration) error {
	var gws gwv1.GatewayList
	if err := suite.c.List(ctx, &gws, client.InNamespace(ns)); err != nil {
		return err
	}
	for i := range gws.Items {
		if err := client.IgnoreNotFound(suite.c.Delete(ctx, &gws.Items[i])); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		var left gwv1.GatewayList
		if err := suite.c.List(ctx, &left, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(left.Items) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s, %d Gateways are still there, such as %s (finalizers %v)", timeout, len(left.Items), left.Items[0].Name, left.Items[0].Finalizers)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// deleteObject deletes obj; a missing one is no error.
func deleteObject(ctx context.Context, obj client.Object) error {
	err := suite.c.Delete(ctx, obj)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// eventually retries check every 100ms until it returns nil or timeout
// passes, and returns how long it took.
func eventually(timeout time.Duration, check func() error) (time.Duration, error) {
	start := time.Now()
	for {
		err := check()
		if err == nil {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return time.Since(start), fmt.Errorf("after %s: %w", timeout.Round(time.Second), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logEvents logs the namespace's warning events, which carry the cloud's
// errors.
func logEvents(t testing.TB, ctx context.Context, ns string) {
	var evs corev1.EventList
	if err := suite.c.List(ctx, &evs, client.InNamespace(ns)); err != nil {
		t.Log(err)
		return
	}
	for _, e := range evs.Items {
		if e.Type == corev1.EventTypeWarning {
			t.Logf("event %s on %s (%d times): %s", e.Reason, e.InvolvedObject.Name, e.Count, e.Message)
		}
	}
}
