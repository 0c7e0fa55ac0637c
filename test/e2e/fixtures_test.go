package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
)

// ctxFor returns a context that ends with the test.
func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// namespace creates a namespace for one test and deletes it afterwards.
func namespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-"}}
	must(t, suite.c.Create(ctxFor(t), ns))
	t.Cleanup(func() {
		// envtest runs no namespace controller, so a namespace's objects outlive
		// it: delete the Gateways (and so their load balancers) by hand.
		var gws gwv1.GatewayList
		if err := suite.c.List(context.Background(), &gws, client.InNamespace(ns.Name)); err == nil {
			for i := range gws.Items {
				deleteAndWait(t, &gws.Items[i])
			}
		}
		_ = suite.c.Delete(context.Background(), ns)
	})
	return ns.Name
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func create(t testing.TB, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		must(t, suite.c.Create(ctxFor(t), o))
	}
}

// backend starts an HTTP server in the backend namespace that answers with
// its name in the X-Backend header and the body, and publishes it as a
// Service (port 8080) with an EndpointSlice, as kube-proxy-less clusters do.
func backend(t testing.TB, ns, name string) {
	t.Helper()
	backendWith(t, ns, name, nil)
}

// backendWith is backend, with seen called on each request it answers.
func backendWith(t testing.TB, ns, name string, seen func(*http.Request)) {
	t.Helper()
	l, err := suite.host.Listen(0)
	must(t, err)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			seen(r)
		}
		w.Header().Set("X-Backend", name)
		_, _ = io.WriteString(w, name)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	port := int32(l.Addr().(*net.TCPAddr).Port)
	portName, proto, ready := "http", corev1.ProtocolTCP, true
	create(t,
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: portName, Port: 8080, Protocol: proto}}},
		},
		&discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{
				Addresses:  []string{suite.host.Addr.String()},
				Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			}},
			Ports: []discoveryv1.EndpointPort{{Name: &portName, Port: &port, Protocol: &proto}},
		})
}

func gateway(ns, name string, listeners ...gwv1.Listener) *gwv1.Gateway {
	return &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       gwv1.GatewaySpec{GatewayClassName: className, Listeners: listeners},
	}
}

func httpListener(name string, port int32) gwv1.Listener {
	return gwv1.Listener{Name: gwv1.SectionName(name), Protocol: gwv1.HTTPProtocolType, Port: gwv1.PortNumber(port)}
}

func route(ns, name, gw string, hostnames []string, rules ...gwv1.HTTPRouteRule) *gwv1.HTTPRoute {
	r := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	r.Spec.ParentRefs = []gwv1.ParentReference{{Name: gwv1.ObjectName(gw)}}
	for _, h := range hostnames {
		r.Spec.Hostnames = append(r.Spec.Hostnames, gwv1.Hostname(h))
	}
	r.Spec.Rules = rules
	return r
}

func backendRef(name string, weight int32) gwv1.HTTPBackendRef {
	port := gwv1.PortNumber(8080)
	return gwv1.HTTPBackendRef{BackendRef: gwv1.BackendRef{
		BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(name), Port: &port},
		Weight:                 &weight,
	}}
}

func rule(match gwv1.HTTPRouteMatch, refs ...gwv1.HTTPBackendRef) gwv1.HTTPRouteRule {
	return gwv1.HTTPRouteRule{Matches: []gwv1.HTTPRouteMatch{match}, BackendRefs: refs}
}

func pathMatch(t gwv1.PathMatchType, v string) gwv1.HTTPRouteMatch {
	return gwv1.HTTPRouteMatch{Path: &gwv1.HTTPPathMatch{Type: &t, Value: &v}}
}

// eventually retries check until it returns nil or the timeout passes.
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

// programmedAddress waits for the Gateway to be Programmed at its current
// generation and returns its address.
func programmedAddress(t testing.TB, ns, name string) string {
	t.Helper()
	var addr string
	eventually(t, 30*time.Second, func() error {
		gw := getGateway(t, ns, name)
		c := meta.FindStatusCondition(gw.Status.Conditions, string(gwv1.GatewayConditionProgrammed))
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != gw.Generation {
			return fmt.Errorf("gateway not programmed: %+v", c)
		}
		if len(gw.Status.Addresses) == 0 {
			return fmt.Errorf("gateway has no address")
		}
		addr = gw.Status.Addresses[0].Value
		return nil
	})
	return addr
}

// condition waits until cond holds on the object's condition of type typ.
func routeParentCondition(t testing.TB, ns, name, typ string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		var r gwv1.HTTPRoute
		if err := suite.c.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: name}, &r); err != nil {
			return err
		}
		if len(r.Status.Parents) == 0 {
			return fmt.Errorf("route %s has no parent status", name)
		}
		c := meta.FindStatusCondition(r.Status.Parents[0].Conditions, typ)
		if c == nil || c.Status != status || c.Reason != reason || c.ObservedGeneration != r.Generation {
			return fmt.Errorf("route %s condition %s = %+v, want %s/%s", name, typ, c, status, reason)
		}
		return nil
	})
}

// response is what the test sees of one request.
type response struct {
	status  int
	backend string
	header  http.Header
}

var httpClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// send makes a request to the load balancer at addr (host:port) with the
// given Host header.
func send(method, rawURL, host string, header http.Header) (response, error) {
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		return response{}, err
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return response{status: resp.StatusCode, backend: resp.Header.Get("X-Backend"), header: resp.Header}, nil
}

// expectBackend waits until a request is answered by want (with status 200),
// or with status code want when want is a number like "404".
func expectBackend(t testing.TB, method, rawURL, host string, header http.Header, want string) {
	t.Helper()
	eventually(t, 15*time.Second, func() error {
		r, err := send(method, rawURL, host, header)
		if err != nil {
			return err
		}
		got := r.backend
		if r.status != http.StatusOK {
			got = fmt.Sprint(r.status)
		}
		if got != want {
			return fmt.Errorf("%s %s (Host %s, headers %v): got %s, want %s", method, rawURL, host, header, got, want)
		}
		return nil
	})
}

// cloudLoadBalancers asks the emulated cloud's API for the load balancers
// tagged with the Gateway, as a user of that cloud would.
func cloudLoadBalancers(t testing.TB, ns, name string) []cloud.LoadBalancer {
	t.Helper()
	q := url.Values{"tag": {"cloudgate.dev/gateway=" + ns + "/" + name}}
	resp, err := http.Get(suite.cloud.URL() + "/v1/loadbalancers?" + q.Encode())
	must(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("listing load balancers: %s", resp.Status)
	}
	var list cloud.List
	must(t, json.NewDecoder(resp.Body).Decode(&list))
	return list.Items
}

func deleteAndWait(t testing.TB, obj client.Object) {
	t.Helper()
	must(t, client.IgnoreNotFound(suite.c.Delete(ctxFor(t), obj)))
	eventually(t, 30*time.Second, func() error {
		err := suite.c.Get(ctxFor(t), client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("%s still exists (finalizers %v): %v", obj.GetName(), obj.GetFinalizers(), err)
	})
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}
