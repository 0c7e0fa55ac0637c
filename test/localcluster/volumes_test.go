package localcluster

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The kube-api-access volume the ServiceAccount admission plugin adds: a
// token, the cluster CA from kube-root-ca.crt and the namespace, each where
// rest.InClusterConfig looks, and the token renewed before it expires.
func TestProjectedServiceAccountVolume(t *testing.T) {
	issued := 0
	objs := fakeObjects{
		configMaps: map[string]*corev1.ConfigMap{rootCAConfigMap: {Data: map[string]string{"ca.crt": "CA"}}},
		tokens: func(src corev1.ServiceAccountTokenProjection) (*authenticationv1.TokenRequest, error) {
			issued++
			return &authenticationv1.TokenRequest{
				Spec:   authenticationv1.TokenRequestSpec{ExpirationSeconds: src.ExpirationSeconds},
				Status: authenticationv1.TokenRequestStatus{Token: fmt.Sprintf("token-%d", issued), ExpirationTimestamp: metav1.NewTime(time.Now().Add(time.Duration(*src.ExpirationSeconds) * time.Second))},
			}, nil
		},
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "kube-api-access-x", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			DefaultMode: new(int32(0o640)),
			Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: new(int64(3607))}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: rootCAConfigMap}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt", Mode: new(int32(0o600))}}}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
			},
		}}}}},
	}
	dir := t.TempDir()
	start := time.Now()
	vols, err := writeVolumes(context.Background(), objs, pod, dir)
	if err != nil {
		t.Fatal(err)
	}
	vdir := vols.dirs["kube-api-access-x"]
	for name, want := range map[string]struct {
		data string
		mode fs.FileMode
	}{"token": {"token-1", 0o640}, "ca.crt": {"CA", 0o600}, "namespace": {"ns", 0o640}} {
		data, err := os.ReadFile(filepath.Join(vdir, name))
		st, serr := os.Stat(filepath.Join(vdir, name))
		if err != nil || serr != nil || string(data) != want.data || st.Mode().Perm() != want.mode {
			t.Errorf("%s: %q %v, %v; want %q mode %v", name, data, err, st.Mode(), want.data, want.mode)
		}
	}
	if len(vols.tokens) != 1 {
		t.Fatalf("%d tokens to refresh, want 1", len(vols.tokens))
	}
	tf := vols.tokens[0]
	// 80% of 3607 s is 2885.6 s.
	if early, late := start.Add(2885*time.Second), time.Now().Add(2886*time.Second); tf.refreshAt.Before(early) || tf.refreshAt.After(late) {
		t.Errorf("refresh at %s after start, want 80%% of the lifetime (2885.6s)", tf.refreshAt.Sub(start))
	}
	if err := tf.refresh(context.Background(), objs, pod); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(vdir, "token")); string(data) != "token-2" {
		t.Errorf("token after refresh %q, want token-2", data)
	}
	if _, err := os.Stat(filepath.Join(vdir, "token.new")); !os.IsNotExist(err) {
		t.Errorf("the refresh left its temporary file (%v)", err)
	}
}

// An unsupported projection is a configuration error, not a Pod that starts
// without the file.
func TestProjectedUnsupportedSource(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{Path: "b"}}},
	}}}}}}
	_, err := writeVolumes(context.Background(), fakeObjects{}, pod, t.TempDir())
	if _, ok := err.(*configError); !ok {
		t.Errorf("got %v, want a configError", err)
	}
}
