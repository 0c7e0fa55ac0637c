// Command cloudgate-dev runs Cloudgate's main job on its embedded default:
// a local cluster of processes (etcd, kube-apiserver,
// kube-controller-manager and a process kubelet that runs Pods in network
// namespaces), the controller with the in-process emulated cloud, and the
// sample from deploy/examples/dev.yaml, whose echo Deployment runs as real
// Pods. `make dev` runs it.
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
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
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
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
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
	sample := fs.String("sample", "", "manifest to apply (default deploy/examples/dev.yaml in the source tree)")
	verbose := fs.Bool("v", false, "print the controller's logs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.MetricsAddr, o.ProbeAddr = "0", "0"
	if *verbose {
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

	if o.EmulatedEndpoint == "" && slices.ContainsFunc(strings.Split(o.Providers, ","), func(p string) bool { return strings.TrimSpace(p) == "emulated" }) {
		// The emulated cloud runs here, but at an address of its own that
		// `cloudgate describe` can be pointed at, as it would be at the
		// cloud of a deployed controller. It outlives ctx, as the
		// controller does, and closes after it (defers run in reverse).
		prefix, err := netip.ParsePrefix(o.AddressRange)
		if err != nil {
			return fmt.Errorf("--emulated-address-range: %w", err)
		}
		srv, err := cloud.Start(context.WithoutCancel(ctx), cloud.Config{AddressRange: prefix}, "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("starting the emulated cloud: %w", err)
		}
		defer func() { _ = srv.Close() }()
		o.EmulatedEndpoint = srv.URL()
	}

	step("Starting the controller with the in-process emulated cloud")
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
	if err := applyManifest(ctx, c, *sample); err != nil {
		return err
	}

	step("Waiting for Gateway default/demo to be programmed")
	addr, err := waitProgrammed(ctx, c, client.ObjectKey{Namespace: "default", Name: "demo"})
	if err != nil {
		return err
	}
	url := "http://" + addr + "/"
	if err := checkServes(ctx, url); err != nil {
		return err
	}
	fmt.Printf(`
Cloudgate is running.

  export KUBECONFIG=%s PATH=%s:%s:$PATH
  kubectl get gateways,httproutes,pods -A
  curl %s
  kubectl cloudgate describe gateway default/demo --emulated-endpoint %s --cluster-name %s

Press Ctrl-C to stop; everything is cleaned up on exit.
`, cp.Kubeconfig, filepath.Join(root, "bin", "k8s"), filepath.Join(root, "bin"), url, o.EmulatedEndpoint, o.ClusterName)
	select {
	case <-ctx.Done():
	case err := <-ctrlDone:
		return fmt.Errorf("controller stopped: %w", err)
	}
	step("Deleting the sample Gateway and its load balancer")
	cleanupCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "demo"}}
	if err := c.Delete(cleanupCtx, gw); err == nil {
		for cleanupCtx.Err() == nil && c.Get(cleanupCtx, client.ObjectKeyFromObject(gw), gw) == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

func step(msg string) { fmt.Println("==> " + msg) }

func applyManifest(ctx context.Context, c client.Client, path string) error {
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
		if err := c.Create(ctx, &u); err != nil {
			return fmt.Errorf("creating %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
}

func waitProgrammed(ctx context.Context, c client.Client, key client.ObjectKey) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		var gw gwv1.Gateway
		if err := c.Get(ctx, key, &gw); err == nil {
			for _, cond := range gw.Status.Conditions {
				if cond.Type == string(gwv1.GatewayConditionProgrammed) && cond.Status == metav1.ConditionTrue && len(gw.Status.Addresses) > 0 {
					return gw.Status.Addresses[0].Value, nil
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

// checkServes makes sure the printed curl command answers before printing it.
func checkServes(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
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
