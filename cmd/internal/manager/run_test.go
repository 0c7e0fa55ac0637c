package manager

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/providers/emulated"
	"github.com/cloudgate-dev/cloudgate/reconciler"
	"github.com/cloudgate-dev/cloudgate/test/controlplane"
)

// freePort returns a loopback address no one listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// TestMetricsEndpoint runs the controller as the binary does, with its
// in-process emulated cloud, and scrapes its metrics endpoint over HTTP once
// a Gateway is programmed: Cloudgate's own series are served next to
// controller-runtime's, the emulated provider's calls among them.
func TestMetricsEndpoint(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("needs root: the emulated cloud's load balancers listen on 127.0.0.0/8 addresses other than 127.0.0.1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cp, err := controlplane.Start(ctx, controlplane.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cp.Stop() }()

	metricsAddr := freePort(t)
	o := Options{ClusterName: "manager-test", Providers: "emulated", MetricsAddr: metricsAddr, ProbeAddr: "0",
		AddressRange: fmt.Sprintf("127.%d.0.0/16", 70+os.Getpid()%20), Concurrency: 1}
	runCtx, stop := context.WithCancel(ctx)
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- Run(runCtx, cp.REST, o, ready) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run stopped: %v", err)
	}

	scheme, err := reconciler.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cp.REST, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	gc := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "manager-test"},
		Spec: gwv1.GatewayClassSpec{ControllerName: emulated.ControllerName}}
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "gw"},
		Spec: gwv1.GatewaySpec{GatewayClassName: "manager-test",
			Listeners: []gwv1.Listener{{Name: "http", Protocol: gwv1.HTTPProtocolType, Port: 80}}}}
	for _, obj := range []client.Object{gc, gw} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		// The load balancer goes with the Gateway, before the controller.
		_ = c.Delete(ctx, gw)
		for c.Get(ctx, client.ObjectKeyFromObject(gw), gw) == nil && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}()

	want := []string{
		`cloudgate_cloud_api_calls_total{operation="CreateLoadBalancer",outcome="success",provider="emulated"} 1`,
		`cloudgate_gateways{programmed="True"} 1`,
		`cloudgate_plan_steps_applied_total{action="Create",kind="load balancer",provider="emulated"} 1`,
		`cloudgate_route_programmed_seconds_count 0`,
		`controller_runtime_reconcile_total{controller="gateway"`,
	}
	var body string
	for deadline := time.Now().Add(30 * time.Second); ; {
		if err := c.Get(ctx, client.ObjectKeyFromObject(gw), gw); err != nil {
			t.Fatal(err)
		}
		if p := meta.FindStatusCondition(gw.Status.Conditions, "Programmed"); p != nil && p.Status == metav1.ConditionTrue {
			body = scrape(t, "http://"+metricsAddr+"/metrics")
			if missing := absent(body, want); len(missing) == 0 {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("the metrics endpoint lacks %q", missing)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("the Gateway was not programmed: %+v", p)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping %s: %s %v", url, resp.Status, err)
	}
	return string(data)
}

func absent(body string, want []string) []string {
	var out []string
	for _, w := range want {
		if !strings.Contains(body, w) {
			out = append(out, w)
		}
	}
	return out
}
