package localcluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// workers is how many Pods the kubelet syncs at once. Syncs are short (a
// Pod's termination runs in its own goroutine), so a few are plenty.
const workers = 4

type kubeletConfig struct {
	client kubernetes.Interface
	node   string
	dir    string // the cluster's directory: Pod directories and logs
	images *imageMap
	log    io.Writer
	// forwards are the host loopback addresses every Pod reaches at the
	// same address, kube-apiserver's first.
	forwards []string
}

// kubelet is the process kubelet: the Node, the scheduler, the Pod runner and
// the kubelet API's Pod logs.
// Its sync is level-based: it looks at a Pod as the informer has it and at
// what runs for it, and makes them agree.
type kubelet struct {
	kubeletConfig
	objs   objects
	queue  workqueue.TypedRateLimitingInterface[string]
	lister corelisters.PodLister

	mu       sync.Mutex
	pods     map[string]*podRuntime // by namespace/name
	mounts   *mountPoints
	cleanups sync.WaitGroup // runtimes being torn down
	logMu    sync.Mutex

	cancel  context.CancelFunc
	workers sync.WaitGroup

	// The kubelet API (kubeletserver.go).
	listener net.Listener
	port     int32
	server   *http.Server
	serving  sync.WaitGroup
}

func newKubelet(cfg kubeletConfig) *kubelet {
	return &kubelet{
		kubeletConfig: cfg,
		objs:          apiObjects{cfg.client},
		queue: workqueue.NewTypedRateLimitingQueue(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 10*time.Second)),
		pods:   map[string]*podRuntime{},
		mounts: newMountPoints(cfg.dir),
	}
}

// start registers the Node, starts watching Pods and serves the kubelet API.
func (k *kubelet) start(ctx context.Context) error {
	ctx, k.cancel = context.WithCancel(ctx)
	if err := k.listen(); err != nil {
		return err
	}
	if err := k.registerNode(ctx); err != nil {
		return err
	}
	k.workers.Go(func() { k.heartbeat(ctx) })

	factory := informers.NewSharedInformerFactory(k.client, 0)
	informer := factory.Core().V1().Pods()
	k.lister = informer.Lister()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			k.queue.Add(key)
		}
	}
	if _, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("kubelet: the %v informer did not sync", typ)
		}
	}
	for range workers {
		k.workers.Go(func() {
			for k.processNext(ctx) {
			}
		})
	}
	return k.serve(ctx)
}

// stop stops syncing and tears down every Pod with a short grace period:
// the cluster is going away, so nobody waits for a graceful drain.
func (k *kubelet) stop() {
	if k.cancel == nil {
		return
	}
	k.cancel()
	k.stopServer()
	k.queue.ShutDown()
	k.workers.Wait()
	k.mu.Lock()
	for key, rt := range k.pods {
		delete(k.pods, key)
		k.teardown(rt, 2*time.Second)
	}
	k.mu.Unlock()
	k.cleanups.Wait()
}

func (k *kubelet) processNext(ctx context.Context) bool {
	key, quit := k.queue.Get()
	if quit {
		return false
	}
	defer k.queue.Done(key)
	after, err := k.sync(ctx, key)
	switch {
	case err != nil:
		// A conflict means the informer has a newer Pod on its way; the
		// retry sees it. Anything else is worth a line.
		if !apierrors.IsConflict(err) && ctx.Err() == nil {
			k.logf("Pod %s: %v", key, err)
		}
		k.queue.AddRateLimited(key)
	case after > 0:
		k.queue.Forget(key)
		k.queue.AddAfter(key, after)
	default:
		k.queue.Forget(key)
	}
	return true
}

// sync makes what runs for one Pod agree with the Pod, and returns when to
// look again if nothing else will trigger it (a retry of a failed start).
func (k *kubelet) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	pod, err := k.lister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		k.forget(key, "")
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	k.forget(key, pod.UID) // a Pod recreated under the same name
	switch {
	case pod.Spec.NodeName == "":
		return 0, k.schedule(ctx, pod)
	case pod.Spec.NodeName != k.node:
		return 0, nil
	}

	k.mu.Lock()
	rt := k.pods[key]
	if rt == nil && pod.DeletionTimestamp == nil {
		rt = newPodRuntime(pod, k.podDir(pod), k.logDir(pod), func() { k.queue.Add(key) })
		k.pods[key] = rt
	}
	k.mu.Unlock()

	if pod.DeletionTimestamp != nil {
		return 0, k.finishDeletion(ctx, key, pod, rt)
	}
	retry := rt.ensureStarted(ctx, k.startEnv(), pod)
	return retry, k.writeStatus(ctx, pod, rt)
}

func (k *kubelet) startEnv() startEnv {
	host, port, _ := net.SplitHostPort(k.forwards[0])
	return startEnv{
		objs: k.objs, images: k.images, hostIP: hostIP, alloc: allocatable(), log: k.logf,
		mounts: k.mounts, forwards: k.forwards, svc: serviceEnv{host: host, port: port},
	}
}

// finishDeletion stops the Pod's processes within its grace period and, once
// they are gone, deletes the Pod for good, as a kubelet does.
func (k *kubelet) finishDeletion(ctx context.Context, key string, pod *corev1.Pod, rt *podRuntime) error {
	if rt != nil {
		grace := 30 * time.Second
		if s := pod.DeletionGracePeriodSeconds; s != nil {
			grace = time.Duration(*s) * time.Second
		}
		if !rt.terminate(grace) {
			return nil // the runtime's notify requeues the Pod when it is done
		}
		rt.release()
		k.mu.Lock()
		if k.pods[key] == rt {
			delete(k.pods, key)
		}
		k.mu.Unlock()
	}
	err := k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: new(int64),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// forget tears down runtimes under key that do not belong to the Pod with
// uid (all of them when uid is empty): their Pod is gone from the API.
func (k *kubelet) forget(key string, uid types.UID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if rt := k.pods[key]; rt != nil && rt.uid != uid {
		delete(k.pods, key)
		k.teardown(rt, 2*time.Second)
	}
}

// teardown stops a runtime in the background; stop waits for all of them.
func (k *kubelet) teardown(rt *podRuntime, grace time.Duration) {
	k.cleanups.Go(func() {
		rt.terminate(grace)
		<-rt.terminated
		rt.release()
	})
}

// schedule binds a Pod of the default scheduler to the one Node.
func (k *kubelet) schedule(ctx context.Context, pod *corev1.Pod) error {
	if pod.Spec.SchedulerName != "" && pod.Spec.SchedulerName != corev1.DefaultSchedulerName {
		return nil
	}
	if pod.DeletionTimestamp != nil {
		return nil
	}
	err := k.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: k.node},
	}, metav1.CreateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // bound meanwhile, or gone
	}
	return err
}

// writeStatus writes the runtime's view of the Pod when it changed. It
// compares with what it last wrote too, so that a field the apiserver
// normalizes cannot make it write forever.
func (k *kubelet) writeStatus(ctx context.Context, pod *corev1.Pod, rt *podRuntime) error {
	status := rt.status(pod, time.Now())
	if apiequality.Semantic.DeepEqual(pod.Status, status) || rt.alreadyWritten(pod.ResourceVersion, status) {
		return nil
	}
	next := pod.DeepCopy()
	next.Status = status
	updated, err := k.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	rt.written(updated.ResourceVersion, status)
	return nil
}

func (k *kubelet) podDir(pod *corev1.Pod) string {
	return filepath.Join(k.dir, "pods", pod.Namespace+"_"+pod.Name+"_"+string(pod.UID))
}

// logDir outlives the Pod (until the cluster stops), so that a test can read
// a deleted Pod's output.
func (k *kubelet) logDir(pod *corev1.Pod) string {
	return filepath.Join(k.dir, "logs", pod.Namespace+"_"+pod.Name)
}

func (k *kubelet) logPath(namespace, pod, container string) string {
	return filepath.Join(k.dir, "logs", namespace+"_"+pod, container+".log")
}

func (k *kubelet) logf(format string, args ...any) {
	k.logMu.Lock()
	defer k.logMu.Unlock()
	fmt.Fprintf(k.log, "%s kubelet: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}
