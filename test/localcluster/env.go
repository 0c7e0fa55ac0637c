package localcluster

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// configError is a container configuration the kubelet cannot honour (a
// missing Secret, an unsupported field); it becomes the waiting reason
// CreateContainerConfigError, as with a real kubelet.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func configErrorf(format string, args ...any) error {
	return &configError{fmt.Sprintf(format, args...)}
}

// objects reads the Secrets and ConfigMaps a Pod refers to and issues its
// ServiceAccount tokens.
type objects interface {
	secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	configMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error)
	token(ctx context.Context, pod *corev1.Pod, src corev1.ServiceAccountTokenProjection) (*authenticationv1.TokenRequest, error)
}

// apiObjects reads them straight from the apiserver: Pods start rarely, and a
// cache of every Secret would be more code and more memory for nothing.
type apiObjects struct{ client kubernetes.Interface }

func (o apiObjects) secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	return o.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
}

func (o apiObjects) configMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	return o.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
}

// token asks for a token of the Pod's ServiceAccount bound to the Pod, as a
// kubelet does: it stops working when the Pod is deleted.
func (o apiObjects) token(ctx context.Context, pod *corev1.Pod, src corev1.ServiceAccountTokenProjection) (*authenticationv1.TokenRequest, error) {
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: src.ExpirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if src.Audience != "" {
		tr.Spec.Audiences = []string{src.Audience}
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	return o.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, tr, metav1.CreateOptions{})
}

// process is how one container runs: its command line, environment and
// working directory as the container sees them, the volumes bind-mounted
// into its mount namespace, and what its securityContext asks.
type process struct {
	Argv []string
	Env  []string
	Dir  string
	// Hostname, when set, is the hostname of the process's own UTS
	// namespace; empty keeps the host's (a hostNetwork Pod's, as a kubelet
	// does).
	Hostname string
	// DirInMounts says Dir is the container's own workingDir, a path in its
	// view of the filesystem (after the mounts); the default, the Pod's
	// directory, is a host path that a mount may cover.
	DirInMounts  bool
	Mounts       []bindMount
	ReadOnlyRoot bool
	Security     security
}

// serviceEnv is the address every container reaches kube-apiserver at, for
// the KUBERNETES_SERVICE_* variables a kubelet sets.
type serviceEnv struct{ host, port string }

// processFor turns a container spec into a process: binary is the image's
// entrypoint, podDir the Pod's directory (the working directory unless
// workingDir says otherwise) and volumeDirs the host directory of each of the
// Pod's volumes. It also returns the mount points the container needs on the
// host.
func processFor(ctx context.Context, objs objects, pod *corev1.Pod, c *corev1.Container, binary, podDir string, volumeDirs map[string]string, alloc corev1.ResourceList, svc serviceEnv) (process, []mountPoint, error) {
	sec, err := securityFor(pod, c)
	if err != nil {
		return process{}, nil, err
	}
	env, err := resolveEnv(ctx, objs, pod, c, alloc)
	if err != nil {
		return process{}, nil, err
	}
	mounts, points, err := containerMounts(c, volumeDirs)
	if err != nil {
		return process{}, nil, err
	}
	lookup := func(name string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if env[i].name == name {
				return env[i].value, true
			}
		}
		return "", false
	}
	// The image's entrypoint is binary. A command replaces the entrypoint,
	// so its first word (a path inside the image) becomes binary and the
	// rest are arguments before args.
	argv := []string{binary}
	if len(c.Command) > 0 {
		argv = append(argv, c.Command[1:]...)
	}
	argv = append(argv, c.Args...)
	for i := 1; i < len(argv); i++ {
		argv[i] = expand(argv[i], lookup)
	}
	p := process{Argv: argv, Dir: podDir, Mounts: mounts, ReadOnlyRoot: sec.readOnlyRoot, Security: sec}
	if c.WorkingDir != "" {
		p.Dir, p.DirInMounts = c.WorkingDir, true
	}
	if !pod.Spec.HostNetwork {
		p.Hostname = podHostname(pod)
	}
	// No host environment leaks in: a container sees only what its spec
	// says, plus what every kubelet sets. The Service variables come first,
	// so that the spec's own env can override them.
	p.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOSTNAME=" + cmp.Or(p.Hostname, pod.Name),
		"HOME=" + podDir,
		ownerEnv(),
	}
	if svc.host != "" {
		p.Env = append(p.Env,
			"KUBERNETES_SERVICE_HOST="+svc.host,
			"KUBERNETES_SERVICE_PORT="+svc.port,
			"KUBERNETES_SERVICE_PORT_HTTPS="+svc.port,
			"KUBERNETES_PORT=tcp://"+net.JoinHostPort(svc.host, svc.port),
		)
	}
	for _, e := range env {
		p.Env = append(p.Env, e.name+"="+e.value)
	}
	return p, points, nil
}

type envVar struct{ name, value string }

// resolveEnv computes a container's environment in the kubelet's order:
// envFrom, then env, each value able to refer to earlier ones with $(NAME).
func resolveEnv(ctx context.Context, objs objects, pod *corev1.Pod, c *corev1.Container, alloc corev1.ResourceList) ([]envVar, error) {
	var env []envVar
	lookup := func(name string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if env[i].name == name {
				return env[i].value, true
			}
		}
		return "", false
	}
	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			cm, err := objs.configMap(ctx, pod.Namespace, from.ConfigMapRef.Name)
			if err := missing(err, from.ConfigMapRef.Optional, "configmap", from.ConfigMapRef.Name); err != nil {
				return nil, err
			}
			if cm != nil {
				data = cm.Data
			}
		case from.SecretRef != nil:
			s, err := objs.secret(ctx, pod.Namespace, from.SecretRef.Name)
			if err := missing(err, from.SecretRef.Optional, "secret", from.SecretRef.Name); err != nil {
				return nil, err
			}
			if s != nil {
				data = map[string]string{}
				for k, v := range s.Data {
					data[k] = string(v)
				}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(data)) {
			env = append(env, envVar{from.Prefix + k, data[k]})
		}
	}
	for _, e := range c.Env {
		v, err := envValue(ctx, objs, pod, c, e, lookup, alloc)
		if err != nil {
			return nil, err
		}
		env = append(env, envVar{e.Name, v})
	}
	return env, nil
}

// missing turns a lookup error into nil for an optional reference that is
// not found, and into a configError otherwise.
func missing(err error, optional *bool, kind, name string) error {
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err) && optional != nil && *optional:
		return nil
	case apierrors.IsNotFound(err):
		return configErrorf("%s %q not found", kind, name)
	default:
		return err
	}
}

func envValue(ctx context.Context, objs objects, pod *corev1.Pod, c *corev1.Container, e corev1.EnvVar, lookup func(string) (string, bool), alloc corev1.ResourceList) (string, error) {
	from := e.ValueFrom
	switch {
	case from == nil:
		return expand(e.Value, lookup), nil
	case from.FieldRef != nil:
		return fieldValue(pod, from.FieldRef.FieldPath)
	case from.ResourceFieldRef != nil:
		return resourceValue(c, from.ResourceFieldRef, alloc)
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := objs.configMap(ctx, pod.Namespace, ref.Name)
		if err := missing(err, ref.Optional, "configmap", ref.Name); err != nil || cm == nil {
			return "", err
		}
		if v, ok := cm.Data[ref.Key]; ok {
			return v, nil
		}
		if v, ok := cm.BinaryData[ref.Key]; ok {
			return string(v), nil
		}
		if ref.Optional != nil && *ref.Optional {
			return "", nil
		}
		return "", configErrorf("key %q not found in configmap %q", ref.Key, ref.Name)
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		s, err := objs.secret(ctx, pod.Namespace, ref.Name)
		if err := missing(err, ref.Optional, "secret", ref.Name); err != nil || s == nil {
			return "", err
		}
		if v, ok := s.Data[ref.Key]; ok {
			return string(v), nil
		}
		if ref.Optional != nil && *ref.Optional {
			return "", nil
		}
		return "", configErrorf("key %q not found in secret %q", ref.Key, ref.Name)
	default:
		return "", configErrorf("env %s: this kind of valueFrom is not supported by the local cluster", e.Name)
	}
}

// fieldValue answers the downward API's fieldRef paths. The Pod passed in
// carries the IPs the kubelet assigned, which the API object may not show yet.
func fieldValue(pod *corev1.Pod, fieldPath string) (string, error) {
	if key, ok := subscript(fieldPath, "metadata.labels"); ok {
		return pod.Labels[key], nil
	}
	if key, ok := subscript(fieldPath, "metadata.annotations"); ok {
		return pod.Annotations[key], nil
	}
	ips := func(list []corev1.PodIP) string {
		var s []string
		for _, ip := range list {
			s = append(s, ip.IP)
		}
		return strings.Join(s, ",")
	}
	switch fieldPath {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return pod.Status.HostIP, nil
	case "status.hostIPs":
		var s []string
		for _, ip := range pod.Status.HostIPs {
			s = append(s, ip.IP)
		}
		return strings.Join(s, ","), nil
	case "status.podIP":
		return pod.Status.PodIP, nil
	case "status.podIPs":
		return ips(pod.Status.PodIPs), nil
	}
	return "", configErrorf("fieldRef %q is not supported", fieldPath)
}

// subscript parses `base['key']`.
func subscript(fieldPath, base string) (string, bool) {
	rest, ok := strings.CutPrefix(fieldPath, base+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

// formatMap renders labels or annotations as the downward API does.
func formatMap(m map[string]string) string {
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		lines = append(lines, fmt.Sprintf("%s=%q", k, m[k]))
	}
	return strings.Join(lines, "\n")
}

// resourceValue answers resourceFieldRef as the kubelet does: the limit, or
// the node's allocatable when there is none, divided and rounded up.
func resourceValue(c *corev1.Container, ref *corev1.ResourceFieldSelector, alloc corev1.ResourceList) (string, error) {
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", configErrorf("resourceFieldRef %q is not supported", ref.Resource)
	}
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		q = alloc[corev1.ResourceName(name)]
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	n := (q.MilliValue() + divisor.MilliValue() - 1) / divisor.MilliValue()
	return fmt.Sprint(n), nil
}

// expand replaces $(NAME) with earlier variables' values, leaves unknown
// references alone and turns $$ into $, like the kubelet.
func expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			ref := s[i : i+3+end]
			if v, ok := lookup(s[i+2 : i+2+end]); ok {
				b.WriteString(v)
			} else {
				b.WriteString(ref)
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// podHostname is the hostname a kubelet gives a Pod's containers:
// spec.hostname, else the Pod's name cut to 63 characters (a DNS label).
func podHostname(pod *corev1.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	return strings.TrimRight(pod.Name[:min(len(pod.Name), 63)], "-.")
}
