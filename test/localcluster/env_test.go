package localcluster

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// fakeObjects holds Secrets and ConfigMaps by name for the pure tests.
type fakeObjects struct {
	secrets    map[string]*corev1.Secret
	configMaps map[string]*corev1.ConfigMap
	// tokens issues tokens; nil issues none.
	tokens func(src corev1.ServiceAccountTokenProjection) (*authenticationv1.TokenRequest, error)
}

func (f fakeObjects) secret(_ context.Context, _, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

func (f fakeObjects) token(_ context.Context, _ *corev1.Pod, src corev1.ServiceAccountTokenProjection) (*authenticationv1.TokenRequest, error) {
	if f.tokens == nil {
		return nil, errors.New("fakeObjects issues no tokens")
	}
	return f.tokens(src)
}

func (f fakeObjects) configMap(_ context.Context, _, name string) (*corev1.ConfigMap, error) {
	if c, ok := f.configMaps[name]; ok {
		return c, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func TestProcessFor(t *testing.T) {
	objs := fakeObjects{
		secrets:    map[string]*corev1.Secret{"s": {Data: map[string][]byte{"token": []byte("t0k")}}},
		configMaps: map[string]*corev1.ConfigMap{"cm": {Data: map[string]string{"A": "1", "B": "2"}}},
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p-abc", Namespace: "ns", Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{NodeName: "n1"},
		Status:     corev1.PodStatus{PodIP: "198.18.0.2", PodIPs: []corev1.PodIP{{IP: "198.18.0.2"}}},
	}
	optional := true
	c := &corev1.Container{
		Command: []string{"/bin/echo-in-image", "--conf=/etc/conf/file"},
		Args:    []string{"$(POD_NAME)", "$$(POD_NAME)", "$(UNKNOWN)", "/etc/tls/crt", "/etc/tlsx"},
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}},
		Env: []corev1.EnvVar{
			{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "token"}}},
			{Name: "NONE", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Key: "k", Optional: &optional}}},
			{Name: "URL", Value: "http://$(IP):3000"},
			{Name: "CERT", Value: "/etc/tls/crt"},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: "tls", MountPath: "/etc/tls"}, {Name: "conf", MountPath: "/etc/conf/"}},
	}
	vols := t.TempDir()
	dirs := map[string]string{"tls": vols + "/tls", "conf": vols + "/conf"}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	svc := serviceEnv{host: "127.0.0.1", port: "6443"}
	p, points, err := processFor(context.Background(), objs, pod, c, "/bin/echo-basic", "/tmp/pod", dirs, allocatable(), svc)
	if err != nil {
		t.Fatal(err)
	}
	// Paths stay as the container sees them: the volumes are mounted there.
	wantArgv := []string{"/bin/echo-basic", "--conf=/etc/conf/file", "p-abc", "$(POD_NAME)", "$(UNKNOWN)", "/etc/tls/crt", "/etc/tlsx"}
	if !slices.Equal(p.Argv, wantArgv) {
		t.Errorf("argv\n got %q\nwant %q", p.Argv, wantArgv)
	}
	for _, want := range []string{"CM_A=1", "CM_B=2", "POD_NAME=p-abc", "IP=198.18.0.2", "APP=x", "TOKEN=t0k", "NONE=", "URL=http://198.18.0.2:3000", "CERT=/etc/tls/crt", "HOSTNAME=p-abc",
		"KUBERNETES_SERVICE_HOST=127.0.0.1", "KUBERNETES_SERVICE_PORT=6443"} {
		if !slices.Contains(p.Env, want) {
			t.Errorf("env lacks %s: %q", want, p.Env)
		}
	}
	wantMounts := []bindMount{{source: dirs["tls"], target: "/etc/tls"}, {source: dirs["conf"], target: "/etc/conf"}}
	if !slices.Equal(p.Mounts, wantMounts) {
		t.Errorf("mounts\n got %+v\nwant %+v", p.Mounts, wantMounts)
	}
	wantPoints := []mountPoint{{path: "/etc/tls"}, {path: "/etc/conf"}}
	if !slices.Equal(points, wantPoints) {
		t.Errorf("mount points\n got %+v\nwant %+v", points, wantPoints)
	}

	c.Env = append(c.Env, corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Key: "k"}}})
	_, _, err = processFor(context.Background(), objs, pod, c, "/bin/echo-basic", "/tmp/pod", dirs, allocatable(), svc)
	if _, ok := err.(*configError); !ok {
		t.Errorf("a missing required Secret gave %v, want a configError", err)
	}
}

func TestImageMatch(t *testing.T) {
	m := newImageMap(map[string]string{
		"registry.k8s.io/gateway-api/echo-basic": "/echo",
		"registry.k8s.io/":                       "/any",
		"cloudgate.dev/echo":                     "/ours",
	})
	for image, want := range map[string]string{
		"registry.k8s.io/gateway-api/echo-basic:v1.5.1":      "registry.k8s.io/gateway-api/echo-basic",
		"registry.k8s.io/gateway-api/echo-basic@sha256:abcd": "registry.k8s.io/gateway-api/echo-basic",
		"registry.k8s.io/gateway-api/echo-basic-tls:v1":      "registry.k8s.io/",
		"cloudgate.dev/echo":                                 "cloudgate.dev/echo",
		"cloudgate.dev/echoes:v1":                            "",
		"docker.io/library/nginx":                            "",
	} {
		got, _ := m.match(image)
		if got != want {
			t.Errorf("match(%q) = %q, want %q", image, got, want)
		}
	}
}
