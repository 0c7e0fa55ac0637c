package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cloudgate-dev/cloudgate/test/netns"
)

// startEnv is what starting a Pod needs from the kubelet.
type startEnv struct {
	objs   objects
	images *imageMap
	hostIP string
	alloc  corev1.ResourceList
	log    func(format string, args ...any)
	// mounts creates the mount points on the host.
	mounts *mountPoints
	// forwards are the host loopback addresses each Pod reaches at the
	// same address in its namespace, kube-apiserver's first.
	forwards []string
	svc      serviceEnv
}

// podRuntime is what runs for one Pod: its network namespace, its directory
// and its containers' processes. A Pod starts all its containers or none.
type podRuntime struct {
	uid    types.UID
	dir    string
	logDir string
	notify func() // asks the kubelet to sync the Pod again

	mu         sync.Mutex
	startTime  metav1.Time
	host       *netns.Host // nil for a hostNetwork Pod
	podIP      string      // empty until the Pod's network is there
	forwarder  *forwarder
	mounts     *mountPoints
	held       []string           // mount points this Pod counts as a user of
	stopTokens context.CancelFunc // stops the token refresher
	containers []*container       // nil until they started
	// waiting holds why each container has not started, while it has not.
	waiting     map[string]*corev1.ContainerStateWaiting
	terminating bool
	terminated  chan struct{} // closed when every process is gone
	releaseOnce sync.Once

	lastRV     string // the resourceVersion our last status write produced
	lastStatus corev1.PodStatus
}

func newPodRuntime(pod *corev1.Pod, dir, logDir string, notify func()) *podRuntime {
	return &podRuntime{
		uid:        pod.UID,
		dir:        dir,
		logDir:     logDir,
		notify:     notify,
		startTime:  metav1.NewTime(time.Now().Truncate(time.Second)),
		waiting:    map[string]*corev1.ContainerStateWaiting{},
		terminated: make(chan struct{}),
	}
}

// ensureStarted starts the Pod's containers unless they run or the Pod
// cannot start yet; then it records why in waiting and returns when to try
// again (a Secret may appear, a binary may be built).
func (rt *podRuntime) ensureStarted(ctx context.Context, env startEnv, pod *corev1.Pod) time.Duration {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.containers != nil || rt.terminating {
		return 0
	}
	waitAll := func(reason, msg string) {
		for _, c := range pod.Spec.Containers {
			rt.waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: reason, Message: msg}
		}
	}
	if msg := unsupported(pod); msg != "" {
		waitAll("CreateContainerConfigError", msg)
		return 30 * time.Second
	}

	type image struct{ binary, id string }
	images := make([]image, len(pod.Spec.Containers))
	var notRunnable bool
	waitAll("ContainerCreating", "")
	for i, c := range pod.Spec.Containers {
		bin, id, err := env.images.resolve(c.Image)
		if err != nil {
			rt.waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: "ImageNotRunnable", Message: err.Error()}
			notRunnable = true
			continue
		}
		images[i] = image{bin, id}
	}
	if notRunnable {
		return 10 * time.Second
	}

	switch {
	case pod.Spec.HostNetwork:
		// The host's network: no namespace and no forwarders; kube-apiserver
		// and everything else on loopback are there already.
		rt.podIP = env.hostIP
	case rt.host == nil:
		host, err := netns.New()
		if err != nil {
			env.log("Pod %s/%s: creating its network namespace: %v", pod.Namespace, pod.Name, err)
			waitAll("ContainerCreating", "creating the Pod's network namespace failed: "+err.Error())
			return 5 * time.Second
		}
		rt.host, rt.podIP = host, host.Addr.String()
	}
	if rt.host != nil && rt.forwarder == nil {
		fw, err := forward(rt.host, env.forwards, env.log)
		if err != nil {
			env.log("Pod %s/%s: %v", pod.Namespace, pod.Name, err)
			waitAll("ContainerCreating", err.Error())
			return 5 * time.Second
		}
		rt.forwarder = fw
	}
	// The processes' environment may name the Pod's IPs (fieldRef
	// status.podIP), which the API object does not have yet.
	withIPs := pod.DeepCopy()
	withIPs.Status.PodIP, withIPs.Status.PodIPs = rt.podIP, []corev1.PodIP{{IP: rt.podIP}}
	withIPs.Status.HostIP, withIPs.Status.HostIPs = env.hostIP, []corev1.HostIP{{IP: env.hostIP}}

	retry := func(err error) time.Duration {
		var cfgErr *configError
		if errors.As(err, &cfgErr) {
			waitAll("CreateContainerConfigError", err.Error())
		} else {
			env.log("Pod %s/%s: %v", pod.Namespace, pod.Name, err)
			waitAll("ContainerCreating", err.Error())
		}
		return 5 * time.Second
	}
	if err := os.MkdirAll(rt.dir, 0o755); err != nil {
		return retry(err)
	}
	vols, err := writeVolumes(ctx, env.objs, withIPs, rt.dir)
	if err != nil {
		return retry(err)
	}
	if err := os.MkdirAll(rt.logDir, 0o755); err != nil {
		return retry(err)
	}
	var containers []*container
	var points []mountPoint
	for i := range pod.Spec.Containers {
		spec := &pod.Spec.Containers[i]
		proc, pts, err := processFor(ctx, env.objs, withIPs, spec, images[i].binary, rt.dir, vols.dirs, env.alloc, env.svc)
		if err != nil {
			return retry(fmt.Errorf("container %s: %w", spec.Name, err))
		}
		points = append(points, pts...)
		// Records are per UID: a Pod recreated under the same name has its
		// own runs; the combined output file is per name, as Cluster.LogPath.
		containers = append(containers, newContainer(containerConfig{
			spec:          spec.DeepCopy(),
			imageID:       images[i].id,
			proc:          proc,
			host:          rt.host,
			podIP:         rt.podIP,
			logPath:       filepath.Join(rt.logDir, spec.Name+".log"),
			recordDir:     filepath.Join(rt.logDir, string(pod.UID), spec.Name),
			restartPolicy: pod.Spec.RestartPolicy,
			killGrace:     terminationGrace(pod),
			ignore:        ignoredListeners(env.forwards),
			notify:        rt.notify,
			log:           env.log,
		}))
	}
	held, err := env.mounts.acquire(points)
	if err != nil {
		return retry(err)
	}
	rt.mounts, rt.held = env.mounts, held
	if len(vols.tokens) > 0 {
		tokenCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
		rt.stopTokens = stop
		go refreshTokens(tokenCtx, env, withIPs, vols.tokens)
	}
	for _, c := range containers {
		go c.run()
	}
	rt.containers = containers
	clear(rt.waiting)
	return 0
}

// refreshTokens keeps the Pod's ServiceAccount token files fresh, as a
// kubelet's token manager does, until ctx ends with the Pod.
func refreshTokens(ctx context.Context, env startEnv, pod *corev1.Pod, tokens []tokenFile) {
	for {
		next := 0
		for i := range tokens {
			if tokens[i].refreshAt.Before(tokens[next].refreshAt) {
				next = i
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(tokens[next].refreshAt)):
		}
		if err := tokens[next].refresh(ctx, env.objs, pod); err != nil {
			if ctx.Err() != nil {
				return
			}
			env.log("Pod %s/%s: refreshing its token %s: %v", pod.Namespace, pod.Name, tokens[next].path, err)
			tokens[next].refreshAt = time.Now().Add(10 * time.Second)
		}
	}
}

// terminationGrace is how long a container killed for a failed liveness
// probe may take to stop.
func terminationGrace(pod *corev1.Pod) time.Duration {
	if s := pod.Spec.TerminationGracePeriodSeconds; s != nil {
		return time.Duration(*s) * time.Second
	}
	return 30 * time.Second
}

// ignoredListeners are the forwarder's sockets as /proc/net/tcp shows them:
// they are in every Pod's namespace and say nothing about its containers.
func ignoredListeners(forwards []string) map[string]bool {
	out := map[string]bool{}
	for _, a := range forwards {
		if s, ok := procNetAddr(a); ok {
			out[s] = true
		}
	}
	return out
}

// unsupported names what in a Pod's spec the local cluster cannot honour.
func unsupported(pod *corev1.Pod) string {
	switch {
	case len(pod.Spec.InitContainers) > 0:
		return "init containers are not supported by the local cluster"
	}
	return ""
}

// terminate stops every container within grace, in the background, and
// reports whether all processes are gone. The runtime's notify fires when
// they are.
func (rt *podRuntime) terminate(grace time.Duration) bool {
	rt.mu.Lock()
	if !rt.terminating {
		rt.terminating = true
		containers := rt.containers
		go func() {
			var wg sync.WaitGroup
			for _, c := range containers {
				wg.Go(func() { c.halt(grace) })
			}
			wg.Wait()
			close(rt.terminated)
			rt.notify()
		}()
	}
	rt.mu.Unlock()
	select {
	case <-rt.terminated:
		return true
	default:
		return false
	}
}

// release removes the network namespace and the Pod's directory; the
// processes must be gone.
func (rt *podRuntime) release() {
	rt.releaseOnce.Do(func() {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		if rt.stopTokens != nil {
			rt.stopTokens()
		}
		if rt.forwarder != nil {
			rt.forwarder.close()
		}
		if rt.mounts != nil {
			rt.mounts.release(rt.held)
		}
		if rt.host != nil {
			rt.host.Close()
		}
		_ = os.RemoveAll(rt.dir)
	})
}

func (rt *podRuntime) alreadyWritten(rv string, status corev1.PodStatus) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rv == rt.lastRV && apiequality.Semantic.DeepEqual(status, rt.lastStatus)
}

func (rt *podRuntime) written(rv string, status corev1.PodStatus) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.lastRV, rt.lastStatus = rv, status
}
