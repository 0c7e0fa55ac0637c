package localcluster

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// writeVolumes makes a directory under dir for each of the Pod's volumes and
// fills it, returning volume name → directory. Supported: secret, configMap,
// emptyDir and downwardAPI (fieldRef items); anything else is a configError,
// since a Pod silently missing a volume would fail in confusing ways.
func writeVolumes(ctx context.Context, objs objects, pod *corev1.Pod, dir string) (map[string]string, error) {
	dirs := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		vdir := filepath.Join(dir, "volumes", v.Name)
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			return nil, err
		}
		dirs[v.Name] = vdir
		var files map[string]file
		var err error
		switch {
		case v.EmptyDir != nil:
		case v.Secret != nil:
			files, err = secretFiles(ctx, objs, pod.Namespace, v.Secret)
		case v.ConfigMap != nil:
			files, err = configMapFiles(ctx, objs, pod.Namespace, v.ConfigMap)
		case v.DownwardAPI != nil:
			files, err = downwardFiles(pod, v.DownwardAPI)
		default:
			err = configErrorf("volume %q: only secret, configMap, emptyDir and downwardAPI volumes are supported by the local cluster", v.Name)
		}
		if err != nil {
			return nil, err
		}
		for name, f := range files {
			if err := writeFile(vdir, name, f); err != nil {
				return nil, fmt.Errorf("volume %q: %w", v.Name, err)
			}
		}
	}
	return dirs, nil
}

type file struct {
	data []byte
	mode fs.FileMode
}

func writeFile(dir, name string, f file) error {
	// Item paths come from the API, which rejects ".." and absolute paths;
	// check again, since this writes as root.
	p := filepath.Join(dir, name)
	if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
		return fmt.Errorf("path %q leaves the volume", name)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, f.data, f.mode)
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
	data := map[string][]byte{}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	return project(data, src.Items, src.DefaultMode, src.Optional, "configmap", src.Name)
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

func downwardFiles(pod *corev1.Pod, src *corev1.DownwardAPIVolumeSource) (map[string]file, error) {
	mode := fs.FileMode(0o644)
	if src.DefaultMode != nil {
		mode = fs.FileMode(*src.DefaultMode)
	}
	files := map[string]file{}
	for _, it := range src.Items {
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
