package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/cloudgate-dev/cloudgate/test/controlplane"
)

// DefaultNodeName is the name of the one Node unless Config.NodeName is set.
const DefaultNodeName = "cloudgate-local"

// Config says how to start a cluster. The zero value works from inside the
// source tree.
type Config struct {
	// Root is the Cloudgate source tree; empty means controlplane.RepoRoot().
	Root string
	// BinDir holds the built programs; empty means $KUBEBUILDER_ASSETS,
	// else <Root>/bin/k8s (as for controlplane).
	BinDir string
	// Progress receives build progress and one line per cluster start step;
	// nil discards it.
	Progress io.Writer
	// Images maps image name prefixes to local binaries, on top of
	// DefaultImages; the longest matching prefix wins. An empty binary
	// removes a default.
	Images map[string]string
	// NodeName names the Node; empty means DefaultNodeName.
	NodeName string
	// Log receives the process kubelet's and kube-controller-manager's
	// diagnostics; nil discards them.
	Log io.Writer
	// HostForwards lists TCP addresses on this machine's loopback
	// ("127.0.0.1:8080") that every Pod reaches at the same address inside
	// its network namespace, as it reaches kube-apiserver: a service a test
	// runs on the host (an emulated cloud's API) for a controller in a Pod.
	HostForwards []string
}

// Cluster is a running local cluster.
type Cluster struct {
	// REST is an admin client configuration.
	REST *rest.Config
	// Kubeconfig is an admin kubeconfig file for kubectl and other clients.
	Kubeconfig string
	// NodeName is the one Node's name.
	NodeName string

	cp      *controlplane.ControlPlane
	kcm     *controllerManager
	kubelet *kubelet
	cancel  context.CancelFunc
	dir     string

	stopOnce sync.Once
	stopErr  error
}

// DefaultImages maps the images the Gateway API conformance suite deploys
// (and cloudgate.dev/echo, for Cloudgate's own samples) to the echo server
// and CoreDNS built into binDir. echo-advanced images also run echo-basic: it serves the
// same HTTP echo; the mesh tests' client mode (its args) is not there.
//
// Every tag runs the one echo-basic that test/tools/echo builds
// (gateway-api-conformance-images v0.1.0): suite v1.7.0 asks for
// conformance/echo-basic:v0.1.0, and :v0.2.0 for its UDP backend, whose
// UDP echo (UDP_ECHO_SERVER) v0.1.0 already serves.
func DefaultImages(binDir string) map[string]string {
	echo := filepath.Join(binDir, "echo-basic")
	// Prefixes end at the repository so that tags and digests both match.
	return map[string]string{
		// Suite v1.7.0 and later (images from gateway-api-conformance-images).
		"registry.k8s.io/gateway-api/conformance/echo-basic":    echo,
		"registry.k8s.io/gateway-api/conformance/echo-advanced": echo,
		// Suite v1.6 and earlier.
		"registry.k8s.io/gateway-api/echo-basic":       echo,
		"registry.k8s.io/gateway-api/echo-advanced":    echo,
		"gcr.io/k8s-staging-gateway-api/echo-basic":    echo,
		"gcr.io/k8s-staging-gateway-api/echo-advanced": echo,
		"cloudgate.dev/echo":                           echo,
		// Suite v1.6's UDP backend (v1.7 uses echo-basic's UDP echo); the
		// local cluster's own test still runs it.
		"registry.k8s.io/coredns/coredns": filepath.Join(binDir, "coredns"),
	}
}

// Start builds what is missing (kube-controller-manager and the echo server
// take minutes and seconds the first time), starts the control plane,
// kube-controller-manager and the process kubelet, and returns once the Node
// is Ready and the controllers work. Stop undoes all of it.
func Start(ctx context.Context, cfg Config) (_ *Cluster, err error) {
	if cfg.Root == "" {
		root, err := controlplane.RepoRoot()
		if err != nil {
			return nil, err
		}
		cfg.Root = root
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.NodeName == "" {
		cfg.NodeName = DefaultNodeName
	}
	if cfg.BinDir == "" {
		cfg.BinDir = os.Getenv("KUBEBUILDER_ASSETS")
	}
	if cfg.BinDir == "" {
		cfg.BinDir = filepath.Join(cfg.Root, "bin", "k8s")
	}
	for _, a := range cfg.HostForwards {
		if ap, err := netip.ParseAddrPort(a); err != nil || !ap.Addr().Is4() || !ap.Addr().IsLoopback() || ap.Port() == 0 {
			return nil, fmt.Errorf("HostForwards: %q is not an IPv4 loopback address with a port", a)
		}
	}
	removeStale()
	// Build everything before anything runs, so that no apiserver idles
	// through a first build of several minutes.
	if err := controlplane.Build(ctx, cfg.Root, cfg.BinDir, cfg.Progress,
		"etcd", "kube-apiserver", "kube-controller-manager", "kubectl", "echo-basic", "coredns"); err != nil {
		return nil, err
	}

	start := time.Now()
	cp, err := controlplane.Start(ctx, controlplane.Config{
		Root: cfg.Root, BinDir: cfg.BinDir, Progress: cfg.Progress,
		// Pods get their ServiceAccount's token as in a real cluster; the
		// serviceaccount controller below creates the ServiceAccounts.
		ServiceAccountAdmission: true,
	})
	if err != nil {
		return nil, err
	}
	c := &Cluster{REST: cp.REST, Kubeconfig: cp.Kubeconfig, NodeName: cfg.NodeName, cp: cp}
	defer func() {
		if err != nil {
			_ = c.Stop()
		}
	}()
	c.dir, err = os.MkdirTemp("", stateDirPrefix+fmt.Sprint(os.Getpid())+"-")
	if err != nil {
		return nil, err
	}
	// Traversable by anyone, so that a container running as another user
	// (runAsUser) can work in its Pod's directory, which is the default
	// working directory and HOME.
	if err := os.Chmod(c.dir, 0o711); err != nil {
		return nil, err
	}
	if err := recordLeftovers(c.dir, cp.BinDir, cp.TempDirs()); err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Progress, ">> control plane up in %s\n", time.Since(start).Round(time.Millisecond))

	images := DefaultImages(cp.BinDir)
	for prefix, bin := range cfg.Images {
		if bin == "" {
			delete(images, prefix)
			continue
		}
		images[prefix] = bin
	}

	apiURL, err := url.Parse(cp.REST.Host)
	if err != nil {
		return nil, err
	}
	apiserver := apiURL.Host
	client, err := kubernetes.NewForConfig(cp.REST)
	if err != nil {
		return nil, err
	}
	// The cluster's goroutines outlive ctx, which only bounds Start.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel

	step := time.Now()
	c.kcm, err = startControllerManager(runCtx, cp, filepath.Join(c.dir, "kube-controller-manager.log"))
	if err != nil {
		return nil, err
	}
	c.kubelet = newKubelet(kubeletConfig{
		client: client,
		node:   cfg.NodeName,
		dir:    c.dir,
		images: newImageMap(images),
		log:    cfg.Log,
		// KUBERNETES_SERVICE_HOST and _PORT name the first: kube-apiserver
		// at the address its serving certificate names.
		forwards: append([]string{apiserver}, cfg.HostForwards...),
	})
	if err := c.kubelet.start(runCtx); err != nil {
		return nil, err
	}
	if err := c.kcm.waitWorking(ctx, client); err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Progress, ">> kube-controller-manager and node %s ready in %s (cluster up in %s)\n",
		cfg.NodeName, time.Since(step).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	return c, nil
}

// LogPath is the file that holds the output of one container of a Pod that
// runs, or ran, on this cluster: all its runs, and those of earlier Pods of
// the same name, appended. It outlives the Pod, until Stop; Pod logs through
// the API (`kubectl logs`) end with the Pod, as in any cluster.
func (c *Cluster) LogPath(namespace, pod, container string) string {
	return c.kubelet.logPath(namespace, pod, container)
}

// Stop kills every Pod's processes, removes their network namespaces and
// files, and stops kube-controller-manager, kube-apiserver and etcd.
// It is safe to call more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	var errs []error
	if c.kubelet != nil {
		c.kubelet.stop()
	}
	if c.cancel != nil {
		c.cancel()
	}
	if c.kcm != nil {
		errs = append(errs, c.kcm.stop())
	}
	if c.cp != nil {
		errs = append(errs, c.cp.Stop())
	}
	if c.dir != "" {
		errs = append(errs, os.RemoveAll(c.dir))
	}
	return errors.Join(errs...)
}
