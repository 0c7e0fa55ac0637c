package localcluster

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// podVolumes is what writeVolumes made for a Pod.
type podVolumes struct {
	// dirs maps each volume's name to its host directory.
	dirs map[string]string
	// tokens are the ServiceAccount token files, which need refreshing.
	tokens []tokenFile
}

// tokenFile is one projected ServiceAccount token on the host.
type tokenFile struct {
	path string
	mode fs.FileMode
	src  corev1.ServiceAccountTokenProjection
	// refreshAt is when the kubelet asks for a new token: 80% into the
	// token's lifetime, as a real kubelet's token manager does, and never
	// later than 24 hours after it was issued.
	refreshAt time.Time
}

// writeVolumes makes a directory under dir for each of the Pod's volumes and
// fills it. Supported: secret, configMap, emptyDir, downwardAPI (fieldRef
// items) and projected volumes of those plus serviceAccountToken; anything
// else is a configError, since a Pod silently missing a volume would fail in
// confusing ways.
func writeVolumes(ctx context.Context, objs objects, pod *corev1.Pod, dir string) (podVolumes, error) {
	vols := podVolumes{dirs: map[string]string{}}
	for _, v := range pod.Spec.Volumes {
		vdir := filepath.Join(dir, "volumes", v.Name)
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			return podVolumes{}, err
		}
		vols.dirs[v.Name] = vdir
		var files map[string]file
		var err error
		switch {
		case v.EmptyDir != nil:
			// As a kubelet makes it: any user of the Pod may write.
			err = os.Chmod(vdir, 0o777)
		case v.Secret != nil:
			files, err = secretFiles(ctx, objs, pod.Namespace, v.Secret)
		case v.ConfigMap != nil:
			files, err = configMapFiles(ctx, objs, pod.Namespace, v.ConfigMap)
		case v.DownwardAPI != nil:
			files, err = downwardFiles(pod, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
		case v.Projected != nil:
			var tokens []tokenFile
			files, tokens, err = projectedFiles(ctx, objs, pod, vdir, v.Projected)
			vols.tokens = append(vols.tokens, tokens...)
		default:
			err = configErrorf("volume %q: only secret, configMap, emptyDir, downwardAPI and projected volumes are supported by the local cluster", v.Name)
		}
		if err != nil {
			return podVolumes{}, err
		}
		for name, f := range files {
			if err := writeFile(vdir, name, f, pod.Spec.SecurityContext); err != nil {
				return podVolumes{}, fmt.Errorf("volume %q: %w", v.Name, err)
			}
		}
	}
	return vols, nil
}

// projectedFiles gathers a projected volume's sources into one directory;
// each serviceAccountToken source is a TokenRequest for the Pod's
// ServiceAccount, bound to the Pod.
func projectedFiles(ctx context.Context, objs objects, pod *corev1.Pod, vdir string, src *corev1.ProjectedVolumeSource) (map[string]file, []tokenFile, error) {
	mode := int32(0o644)
	if src.DefaultMode != nil {
		mode = *src.DefaultMode
	}
	files := map[string]file{}
	var tokens []tokenFile
	add := func(more map[string]file) {
		for k, v := range more {
			files[k] = v
		}
	}
	for _, s := range src.Sources {
		switch {
		case s.ServiceAccountToken != nil:
			tf := tokenFile{path: filepath.Join(vdir, s.ServiceAccountToken.Path), mode: fs.FileMode(mode), src: *s.ServiceAccountToken}
			data, err := tf.request(ctx, objs, pod)
			if err != nil {
				return nil, nil, err
			}
			files[tf.src.Path] = file{data, tf.mode}
			tokens = append(tokens, tf)
		case s.Secret != nil:
			sec, err := objs.secret(ctx, pod.Namespace, s.Secret.Name)
			if err := missing(err, s.Secret.Optional, "secret", s.Secret.Name); err != nil {
				return nil, nil, err
			}
			if sec == nil {
				continue
			}
			more, err := project(sec.Data, s.Secret.Items, &mode, s.Secret.Optional, "secret", s.Secret.Name)
			if err != nil {
				return nil, nil, err
			}
			add(more)
		case s.ConfigMap != nil:
			cm, err := objs.configMap(ctx, pod.Namespace, s.ConfigMap.Name)
			if err := missing(err, s.ConfigMap.Optional, "configmap", s.ConfigMap.Name); err != nil {
				return nil, nil, err
			}
			if cm == nil {
				continue
			}
			more, err := project(configMapData(cm), s.ConfigMap.Items, &mode, s.ConfigMap.Optional, "configmap", s.ConfigMap.Name)
			if err != nil {
				return nil, nil, err
			}
			add(more)
		case s.DownwardAPI != nil:
			more, err := downwardFiles(pod, s.DownwardAPI.Items, &mode)
			if err != nil {
				return nil, nil, err
			}
			add(more)
		default:
			return nil, nil, configErrorf("projected volume: only serviceAccountToken, secret, configMap and downwardAPI sources are supported by the local cluster")
		}
	}
	return files, tokens, nil
}

// request asks the apiserver for a token as a kubelet does and sets
// refreshAt.
func (tf *tokenFile) request(ctx context.Context, objs objects, pod *corev1.Pod) ([]byte, error) {
	tr, err := objs.token(ctx, pod, tf.src)
	if err != nil {
		return nil, fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", pod.Namespace, pod.Spec.ServiceAccountName, err)
	}
	lifetime := time.Hour
	if tr.Spec.ExpirationSeconds != nil {
		lifetime = time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
	}
	issued := tr.Status.ExpirationTimestamp.Add(-lifetime)
	tf.refreshAt = issued.Add(min(lifetime*8/10, 24*time.Hour))
	return []byte(tr.Status.Token), nil
}

// refresh replaces the token file with a new token. The rename is atomic,
// so a reader sees the old token or the new one, never half of one; and a
// bind mount of the volume's directory sees the new file.
func (tf *tokenFile) refresh(ctx context.Context, objs objects, pod *corev1.Pod) error {
	data, err := tf.request(ctx, objs, pod)
	if err != nil {
		return err
	}
	tmp := tf.path + ".new"
	if err := os.WriteFile(tmp, data, tf.mode); err != nil {
		return err
	}
	if err := applyFSGroup(tmp, tf.mode, pod.Spec.SecurityContext); err != nil {
		return err
	}
	return os.Rename(tmp, tf.path)
}

type file struct {
	data []byte
	mode fs.FileMode
}

func writeFile(dir, name string, f file, psc *corev1.PodSecurityContext) error {
	// Item paths come from the API, which rejects ".." and absolute paths;
	// check again, since this writes as root.
	p := filepath.Join(dir, name)
	if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
		return fmt.Errorf("path %q leaves the volume", name)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, f.data, f.mode); err != nil {
		return err
	}
	return applyFSGroup(p, f.mode, psc)
}

// applyFSGroup gives a volume file to the Pod's fsGroup and lets that group
// read it, as a kubelet does, so that a container running as another user
// can read a file whose mode allows only its owner.
func applyFSGroup(path string, mode fs.FileMode, psc *corev1.PodSecurityContext) error {
	if psc == nil || psc.FSGroup == nil {
		return nil
	}
	if err := os.Chown(path, -1, int(*psc.FSGroup)); err != nil {
		return err
	}
	return os.Chmod(path, mode|0o040)
}

func secretFiles(ctx context.Context, objs objects, ns string, src *corev1.SecretVolumeSource) (map[string]file, error) {
	s, err := objs.secret(ctx, ns, src.SecretName)
	if err := missing(err, src.Optional, "secret", src.SecretName); err != nil || s == nil {
		return nil, err
	}
	return project(s.Data, src.Items, src.DefaultMode, src.Optional, "secret", src.SecretName)
}

func configMapFiles(ctx context.Context, objs objects, ns string, src *corev1.ConfigMapVolumeSource) (map[string]file, error) {
	cm, err := objs.configMap(ctx, ns, src.Name)
	if err := missing(err, src.Optional, "configmap", src.Name); err != nil || cm == nil {
		return nil, err
	}
	return project(configMapData(cm), src.Items, src.DefaultMode, src.Optional, "configmap", src.Name)
}

func configMapData(cm *corev1.ConfigMap) map[string][]byte {
	data := map[string][]byte{}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	return data
}

// project picks the files of a Secret or ConfigMap volume: every key, or the
// listed items at their paths.
func project(data map[string][]byte, items []corev1.KeyToPath, defaultMode *int32, optional *bool, kind, name string) (map[string]file, error) {
	mode := fs.FileMode(0o644)
	if defaultMode != nil {
		mode = fs.FileMode(*defaultMode)
	}
	files := map[string]file{}
	if len(items) == 0 {
		for k, v := range data {
			files[k] = file{v, mode}
		}
		return files, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional != nil && *optional {
				continue
			}
			return nil, configErrorf("key %q not found in %s %q", it.Key, kind, name)
		}
		m := mode
		if it.Mode != nil {
			m = fs.FileMode(*it.Mode)
		}
		files[it.Path] = file{v, m}
	}
	return files, nil
}

func downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, defaultMode *int32) (map[string]file, error) {
	mode := fs.FileMode(0o644)
	if defaultMode != nil {
		mode = fs.FileMode(*defaultMode)
	}
	files := map[string]file{}
	for _, it := range items {
		if it.FieldRef == nil {
			return nil, configErrorf("downwardAPI item %q: only fieldRef is supported by the local cluster", it.Path)
		}
		v, err := fieldValue(pod, it.FieldRef.FieldPath)
		if err != nil {
			return nil, err
		}
		m := mode
		if it.Mode != nil {
			m = fs.FileMode(*it.Mode)
		}
		files[it.Path] = file{[]byte(v), m}
	}
	return files, nil
}
