package reconciler

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/test/controlplane"
)

// The Gateway Service reconciler on a kube-apiserver, alone: the test writes
// each Gateway's status addresses itself (as the Gateway reconciler would
// from the provider), so hostnames, IPs of both families and loopback
// addresses can all be tried. envtest runs no garbage collector, so what the
// reconciler deletes it deleted itself.

const testController = "cloudgate.dev/service-test"

type serviceEnv struct {
	c  client.Client
	ns string
}

func startServiceEnv(t *testing.T) *serviceEnv {
	t.Helper()
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	ctx, cancel := context.WithCancel(context.Background())
	cp, err := controlplane.Start(ctx, controlplane.Config{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cp.Stop(); err != nil {
			t.Error(err)
		}
	})
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cp.REST, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	skip := true
	mgr, err := ctrl.NewManager(cp.REST, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: &skip}})
	if err != nil {
		t.Fatal(err)
	}
	r := &GatewayServiceReconciler{Client: mgr.GetClient(), Controllers: map[gwv1.GatewayController]bool{testController: true},
		Events: mgr.GetEventRecorder("cloudgate")}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	for _, gc := range []struct{ name, controller string }{{"ours", testController}, {"theirs", "example.com/other"}} {
		check(t, c.Create(ctx, &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: gc.name},
			Spec: gwv1.GatewayClassSpec{ControllerName: gwv1.GatewayController(gc.controller)}}))
	}
	ns := "svc-test"
	check(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	return &serviceEnv{c: c, ns: ns}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it returns nil, and fails with its last
// error after 20 s.
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *serviceEnv) gateway(t *testing.T, name, class string) *gwv1.Gateway {
	t.Helper()
	gw := &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name},
		Spec: gwv1.GatewaySpec{
			GatewayClassName: gwv1.ObjectName(class),
			Listeners: []gwv1.Listener{
				{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType},
				{Name: "dns", Port: 53, Protocol: gwv1.UDPProtocolType},
			},
			Infrastructure: &gwv1.GatewayInfrastructure{
				Labels:      map[gwv1.LabelKey]gwv1.LabelValue{"team": "payments", "tier": "edge"},
				Annotations: map[gwv1.AnnotationKey]gwv1.AnnotationValue{"example.com/owner": "alice"},
			},
		},
	}
	check(t, e.c.Create(context.Background(), gw))
	return gw
}

// setAddresses writes the Gateway's status addresses as the Gateway
// reconciler would.
func (e *serviceEnv) setAddresses(t *testing.T, gw *gwv1.Gateway, addrs ...gwv1.GatewayStatusAddress) {
	t.Helper()
	check(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur gwv1.Gateway
		if err := e.c.Get(context.Background(), client.ObjectKeyFromObject(gw), &cur); err != nil {
			return err
		}
		cur.Status.Addresses = addrs
		return e.c.Status().Update(context.Background(), &cur)
	}))
}

func (e *serviceEnv) service(name string) (*corev1.Service, error) {
	var svc corev1.Service
	err := e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: name}, &svc)
	return &svc, err
}

// slices returns the addresses of the Service's EndpointSlices by family.
func (e *serviceEnv) slices(t *testing.T, svc string) map[discoveryv1.AddressType][]string {
	t.Helper()
	var list discoveryv1.EndpointSliceList
	check(t, e.c.List(context.Background(), &list, client.InNamespace(e.ns), client.MatchingLabels{discoveryv1.LabelServiceName: svc}))
	out := map[discoveryv1.AddressType][]string{}
	for _, es := range list.Items {
		for _, ep := range es.Endpoints {
			out[es.AddressType] = append(out[es.AddressType], ep.Addresses...)
		}
	}
	return out
}

func (e *serviceEnv) condition(t *testing.T, gw *gwv1.Gateway) *metav1.Condition {
	t.Helper()
	var cur gwv1.Gateway
	check(t, e.c.Get(context.Background(), client.ObjectKeyFromObject(gw), &cur))
	return findCondition(cur.Status.Conditions, ConditionInClusterService)
}

func TestGatewayServiceOnAPIServer(t *testing.T) {
	e := startServiceEnv(t)
	ctx := context.Background()

	gw := e.gateway(t, "web", "ours")
	name := GatewayServiceName("web")

	t.Run("IPs make a headless Service with EndpointSlices", func(t *testing.T) {
		e.setAddresses(t, gw, ipAddr("203.0.113.10"), ipAddr("2001:db8::10"))
		waitFor(t, "headless Service", func() error {
			svc, err := e.service(name)
			if err != nil {
				return err
			}
			if svc.Spec.ClusterIP != corev1.ClusterIPNone || svc.Spec.Type != corev1.ServiceTypeClusterIP {
				return fmt.Errorf("spec %+v", svc.Spec)
			}
			got := e.slices(t, name)
			if !slices.Equal(got["IPv4"], []string{"203.0.113.10"}) || !slices.Equal(got["IPv6"], []string{"2001:db8::10"}) {
				return fmt.Errorf("slices %v", got)
			}
			return nil
		})
		svc, _ := e.service(name)
		var ports []string
		for _, p := range svc.Spec.Ports {
			ports = append(ports, fmt.Sprintf("%s %s %d", p.Name, p.Protocol, p.Port))
		}
		if !slices.Equal(ports, []string{"udp-53 UDP 53", "tcp-80 TCP 80"}) {
			t.Errorf("ports %v", ports)
		}
		for k, v := range map[string]string{"team": "payments", "tier": "edge", gwv1.GatewayNameLabelKey: "web", LabelManagedBy: ManagedBy} {
			if svc.Labels[k] != v {
				t.Errorf("label %s=%q, want %q (labels %v)", k, svc.Labels[k], v, svc.Labels)
			}
		}
		if svc.Annotations["example.com/owner"] != "alice" {
			t.Errorf("annotations %v", svc.Annotations)
		}
		ref := metav1.GetControllerOf(svc)
		if ref == nil || ref.UID != gw.UID || ref.Kind != "Gateway" {
			t.Errorf("controller reference %+v, want the Gateway %s", ref, gw.UID)
		}
		if c := e.condition(t, gw); c != nil {
			t.Errorf("condition %+v on a Gateway whose Service is complete", c)
		}
	})

	t.Run("infrastructure changes are followed; other keys stay", func(t *testing.T) {
		svc, err := e.service(name)
		check(t, err)
		svc.Labels["other-tool"] = "kept"
		check(t, e.c.Update(ctx, svc))
		check(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var cur gwv1.Gateway
			if err := e.c.Get(ctx, client.ObjectKeyFromObject(gw), &cur); err != nil {
				return err
			}
			cur.Spec.Infrastructure.Labels = map[gwv1.LabelKey]gwv1.LabelValue{"team": "checkout"}
			cur.Spec.Infrastructure.Annotations = nil
			return e.c.Update(ctx, &cur)
		}))
		waitFor(t, "labels follow", func() error {
			svc, err := e.service(name)
			if err != nil {
				return err
			}
			want := map[string]string{"team": "checkout", "other-tool": "kept", gwv1.GatewayNameLabelKey: "web", LabelManagedBy: ManagedBy}
			if !maps.Equal(svc.Labels, want) {
				return fmt.Errorf("labels %v, want %v", svc.Labels, want)
			}
			if _, ok := svc.Annotations["example.com/owner"]; ok {
				return fmt.Errorf("annotations %v still hold the removed one", svc.Annotations)
			}
			return nil
		})
	})

	t.Run("a hostname makes an ExternalName Service", func(t *testing.T) {
		e.setAddresses(t, gw, hostAddr("web-123.elb.example.com"))
		waitFor(t, "ExternalName Service", func() error {
			svc, err := e.service(name)
			if err != nil {
				return err
			}
			if svc.Spec.Type != corev1.ServiceTypeExternalName || svc.Spec.ExternalName != "web-123.elb.example.com" {
				return fmt.Errorf("spec %+v", svc.Spec)
			}
			if got := e.slices(t, name); len(got) > 0 {
				return fmt.Errorf("slices left: %v", got)
			}
			return nil
		})
	})

	t.Run("loopback addresses leave the Service without endpoints, and say so", func(t *testing.T) {
		e.setAddresses(t, gw, ipAddr("127.70.0.3"))
		waitFor(t, "NoEndpointAddress", func() error {
			svc, err := e.service(name)
			if err != nil {
				return err
			}
			if svc.Spec.ClusterIP != corev1.ClusterIPNone {
				return fmt.Errorf("spec %+v", svc.Spec)
			}
			c := e.condition(t, gw)
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != ReasonNoEndpointAddress {
				return fmt.Errorf("condition %+v", c)
			}
			return nil
		})
		e.setAddresses(t, gw, ipAddr("203.0.113.11"))
		waitFor(t, "the condition goes with the problem", func() error {
			if c := e.condition(t, gw); c != nil {
				return fmt.Errorf("condition %+v", c)
			}
			if got := e.slices(t, name); !slices.Equal(got["IPv4"], []string{"203.0.113.11"}) || len(got["IPv6"]) > 0 {
				return fmt.Errorf("slices %v", got)
			}
			return nil
		})
	})

	t.Run("a Service of another owner is never touched", func(t *testing.T) {
		foreignName := GatewayServiceName("api")
		foreign := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: foreignName, Labels: map[string]string{"app": "mine"}},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 8080}}, Selector: map[string]string{"app": "mine"}}}
		check(t, e.c.Create(ctx, foreign))
		api := e.gateway(t, "api", "ours")
		e.setAddresses(t, api, ipAddr("203.0.113.20"))
		waitFor(t, "NameTaken", func() error {
			c := e.condition(t, api)
			if c == nil || c.Reason != ReasonServiceNameTaken {
				return fmt.Errorf("condition %+v", c)
			}
			return nil
		})
		waitFor(t, "a NameTaken Event", func() error {
			var evs eventsv1.EventList
			if err := e.c.List(ctx, &evs, client.InNamespace(e.ns)); err != nil {
				return err
			}
			for _, ev := range evs.Items {
				if ev.Regarding.Name == "api" && ev.Reason == ReasonServiceNameTaken && ev.Type == corev1.EventTypeWarning {
					return nil
				}
			}
			return fmt.Errorf("none among %d events", len(evs.Items))
		})
		cur, err := e.service(foreignName)
		check(t, err)
		if cur.ResourceVersion != foreign.ResourceVersion || metav1.GetControllerOf(cur) != nil {
			t.Errorf("the foreign Service was written: %+v", cur.ObjectMeta)
		}
		if got := e.slices(t, foreignName); len(got) > 0 {
			t.Errorf("endpoints added to the foreign Service: %v", got)
		}
		// Once the name is free, the Service is ours.
		check(t, e.c.Delete(ctx, foreign))
		waitFor(t, "the Service after the foreign one left", func() error {
			svc, err := e.service(foreignName)
			if err != nil {
				return err
			}
			if !controlledBy(svc, "api") {
				return fmt.Errorf("not ours yet: %+v", svc.ObjectMeta)
			}
			if c := e.condition(t, api); c != nil {
				return fmt.Errorf("condition %+v", c)
			}
			return nil
		})
	})

	t.Run("a Gateway moved to another controller's class loses its Service", func(t *testing.T) {
		moved := e.gateway(t, "moved", "ours")
		e.setAddresses(t, moved, ipAddr("203.0.113.30"))
		movedName := GatewayServiceName("moved")
		waitFor(t, "the Service", func() error { _, err := e.service(movedName); return err })
		check(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var cur gwv1.Gateway
			if err := e.c.Get(ctx, client.ObjectKeyFromObject(moved), &cur); err != nil {
				return err
			}
			cur.Spec.GatewayClassName = "theirs"
			return e.c.Update(ctx, &cur)
		}))
		waitFor(t, "Service removed", func() error {
			if _, err := e.service(movedName); !apierrors.IsNotFound(err) {
				return fmt.Errorf("Service: %v", err)
			}
			if got := e.slices(t, movedName); len(got) > 0 {
				return fmt.Errorf("slices left: %v", got)
			}
			return nil
		})
	})

	t.Run("no address, then deletion, remove the Service and its slices", func(t *testing.T) {
		e.setAddresses(t, gw)
		waitFor(t, "Service removed without addresses", func() error {
			if _, err := e.service(name); !apierrors.IsNotFound(err) {
				return fmt.Errorf("Service: %v", err)
			}
			if got := e.slices(t, name); len(got) > 0 {
				return fmt.Errorf("slices left: %v", got)
			}
			return nil
		})
		api := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "api"}}
		apiName := GatewayServiceName("api")
		check(t, e.c.Delete(ctx, api))
		waitFor(t, "Service removed with its Gateway", func() error {
			if _, err := e.service(apiName); !apierrors.IsNotFound(err) {
				return fmt.Errorf("Service: %v", err)
			}
			if got := e.slices(t, apiName); len(got) > 0 {
				return fmt.Errorf("slices left: %v", got)
			}
			return nil
		})
	})
}
