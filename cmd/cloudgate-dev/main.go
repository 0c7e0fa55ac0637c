// Command cloudgate-dev runs Cloudgate's main job on its embedded default:
// a local cluster of processes (etcd, kube-apiserver,
// kube-controller-manager and a process kubelet that runs Pods in network
// namespaces), the controller, and the sample from deploy/examples/dev.yaml,
// whose echo Deployment runs as real Pods. `make dev` runs it.
//
// --provider picks the cloud the controller writes to:
//   - emulated (the default): the in-process emulated cloud, whose load
//     balancers listen on loopback addresses;
//   - aws: moto with Cloudgate's ELBv2 extensions (package localstack),
//     served by albplane with ALB's documented semantics;
//   - gcp: Cloudgate's Compute Engine double (providers/gcp/gcptest),
//     served by urlmapplane with the URL map's documented semantics.
//
// so that a Gateway configuration can be tried, with real traffic, against
// what AWS or GCP would do with it, before touching an account. The doubles
// and planes are linked here, never in cmd/cloudgate: the controller gets
// them only through manager.Options (endpoints, an SDK configuration).
//
// It is a binary of its own because the local cluster lives under test/:
// cmd/cloudgate, the binary users deploy, links none of it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/cmd/internal/manager"
	"github.com/cloudgate-dev/cloudgate/reconciler"
	"github.com/cloudgate-dev/cloudgate/test/controlplane"
	"github.com/cloudgate-dev/cloudgate/test/localcluster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dev(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "cloudgate-dev:", err)
		os.Exit(1)
	}
}

func dev(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cloudgate-dev", flag.ContinueOnError)
	var o manager.Options
	o.Bind(fs)
	provider := fs.String("provider", "emulated", "the cloud to try the sample against: emulated (in-process), aws (moto and an ALB data plane) or gcp (a Compute Engine double and a URL-map data plane)")
	sample := fs.String("sample", "", "manifest to apply (default deploy/examples/dev.yaml in the source tree); its GatewayClasses of a cloudgate.dev/ controller are given --provider's")
	var cf cloudFlags
	fs.StringVar(&cf.gcpAddressRange, "gcp-address-range", "127.110.0.0/16", "with --provider gcp: the loopback range the GCP double gives external addresses from, each served by the data plane")
	fs.BoolVar(&cf.verbose, "v", false, "print the controller's logs (and the data plane's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("cloudgate-dev takes no arguments, got %q", fs.Args())
	}
	var providersSet bool
	fs.Visit(func(f *flag.Flag) { providersSet = providersSet || f.Name == "providers" })
	if providersSet {
		return errors.New("--providers is the controller's; cloudgate-dev takes --provider (emulated, aws or gcp)")
	}
	switch *provider {
	case "emulated", "aws", "gcp":
	default:
		return fmt.Errorf("--provider %q: want emulated, aws or gcp", *provider)
	}
	o.MetricsAddr, o.ProbeAddr = "0", "0"
	if cf.verbose {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	} else {
		ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	}

	root, err := controlplane.RepoRoot()
	if err != nil {
		return fmt.Errorf("%w (run `make dev` from the repository)", err)
	}
	if *sample == "" {
		*sample = filepath.Join(root, "deploy", "examples", "dev.yaml")
	}

	step("Starting a local cluster: etcd, kube-apiserver, kube-controller-manager and a process kubelet")
	step("(built from source the first time: about 10 minutes; later starts take seconds)")
	cp, err := localcluster.Start(ctx, localcluster.Config{Root: root, Progress: os.Stdout})
	if err != nil {
		return err
	}
	defer func() {
		step("Stopping the local cluster")
		_ = cp.Stop()
	}()

	// The cloud closes after the controller (defers run in reverse).
	lc, err := startCloud(ctx, *provider, &o, cf)
	if err != nil {
		return err
	}
	defer lc.close()

	step("Starting the controller with the " + map[string]string{
		"emulated": "in-process emulated cloud", "aws": "AWS provider, on moto", "gcp": "GCP provider, on the double"}[*provider])
	// The controller outlives ctx (the interrupt) so that it can still remove
	// the sample's load balancer and finalizer while we clean up.
	ctrlCtx, stopCtrl := context.WithCancel(context.WithoutCancel(ctx))
	ready := make(chan struct{})
	ctrlDone := make(chan error, 1)
	go func() { ctrlDone <- manager.Run(ctrlCtx, cp.REST, o, ready) }()
	defer func() {
		stopCtrl()
		<-ctrlDone
	}()
	select {
	case <-ready:
	case err := <-ctrlDone:
		return fmt.Errorf("controller stopped: %w", err)
	case <-ctx.Done():
		return nil
	}

	scheme, err := reconciler.NewScheme()
	if err != nil {
		return err
	}
	c, err := client.New(cp.REST, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}

	step("Applying " + *sample)
	if err := applyManifest(ctx, c, *sample, lc.controllerName); err != nil {
		return err
	}
	// From here on the sample's Gateway may hold cloud resources: an
	// interrupt deletes it before the controller stops.
	defer deleteSample(c)

	step("Waiting for Gateway default/demo to be programmed")
	hostport, err := waitProgrammed(ctx, c, client.ObjectKey{Namespace: "default", Name: "demo"})
	if err != nil {
		return err
	}
	url := "http://" + strings.TrimSuffix(hostport, ":80") + "/"
	if err := checkServes(ctx, url, lc.dial); err != nil {
		return err
	}
	curl := strings.Join(append(append([]string{"curl"}, lc.curlArgs(hostport)...), url), " ")
	describe := "kubectl cloudgate describe gateway default/demo " + lc.describeFlags
	if lc.describeEnv != "" {
		describe = lc.describeEnv + " " + describe
	}
	fmt.Printf(`
Cloudgate is running.

  export KUBECONFIG=%s PATH=%s:%s:$PATH
  kubectl get gateways,httproutes,pods -A
  %s
  %s

Press Ctrl-C to stop; everything is cleaned up on exit.
`, cp.Kubeconfig, filepath.Join(root, "bin", "k8s"), filepath.Join(root, "bin"), curl, describe)
	select {
	case <-ctx.Done():
	case err := <-ctrlDone:
		return fmt.Errorf("controller stopped: %w", err)
	}
	return nil
}

func step(msg string) { fmt.Println("==> " + msg) }

// deleteSample deletes the sample's Gateway and waits until the controller
// has removed its load balancer and finalizer.
func deleteSample(c client.Client) {
	step("Deleting the sample Gateway and its load balancer")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "demo"}}
	if err := c.Delete(ctx, gw); err == nil {
		for ctx.Err() == nil && c.Get(ctx, client.ObjectKeyFromObject(gw), gw) == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// applyManifest creates the objects of the manifest at path. A GatewayClass
// whose controller is one of Cloudgate's (cloudgate.dev/...) is given
// controllerName, so that one manifest tries every provider; other classes
// are left to their controllers.
func applyManifest(ctx context.Context, c client.Client, path, controllerName string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s: %w", path, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if err := forProvider(&u, controllerName); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := c.Create(ctx, &u); err != nil {
			return fmt.Errorf("creating %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
}

// forProvider gives u, when it is a GatewayClass of Cloudgate's,
// controllerName.
func forProvider(u *unstructured.Unstructured, controllerName string) error {
	gvk := u.GroupVersionKind()
	if gvk.Group != gwv1.GroupName || gvk.Kind != "GatewayClass" {
		return nil
	}
	name, _, err := unstructured.NestedString(u.Object, "spec", "controllerName")
	if err != nil {
		return fmt.Errorf("GatewayClass %s: %w", u.GetName(), err)
	}
	if !strings.HasPrefix(name, "cloudgate.dev/") {
		return nil
	}
	return unstructured.SetNestedField(u.Object, controllerName, "spec", "controllerName")
}

// waitProgrammed waits until the Gateway is Programmed and returns its
// first address with its first listener's port, "host:port".
func waitProgrammed(ctx context.Context, c client.Client, key client.ObjectKey) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		var gw gwv1.Gateway
		if err := c.Get(ctx, key, &gw); err == nil && len(gw.Spec.Listeners) > 0 {
			for _, cond := range gw.Status.Conditions {
				if cond.Type == string(gwv1.GatewayConditionProgrammed) && cond.Status == metav1.ConditionTrue && len(gw.Status.Addresses) > 0 {
					return net.JoinHostPort(gw.Status.Addresses[0].Value, strconv.Itoa(int(gw.Spec.Listeners[0].Port))), nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("gateway %s not programmed in time: %w", key, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// checkServes makes sure the printed curl command answers before printing
// it, dialling the load balancer as curl will.
func checkServes(ctx context.Context, url string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// No proxy from the environment: the load balancer is on this machine.
	hc := &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				var compact bytes.Buffer
				if json.Compact(&compact, body) != nil {
					compact.Reset()
					compact.Write(bytes.TrimSpace(body))
				}
				fmt.Printf("    %s answered: %s\n", url, compact.String())
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s does not answer 200: %w", url, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
