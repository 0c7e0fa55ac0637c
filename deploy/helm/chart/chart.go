package chart

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Dir is the chart's directory in the source tree. It is found from this
// file's compile-time path, so it holds wherever the source tree is, as long
// as the code is built from it without -trimpath (as tests and `go run` are).
func Dir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("chart: runtime.Caller found no source path")
	}
	return filepath.Join(filepath.Dir(file), "..", "cloudgate")
}

// Release is what `helm install` would be given.
type Release struct {
	Name      string
	Namespace string
	// Values override the chart's values.yaml, as --values would.
	Values map[string]any
	// Service is .Release.Service, the app.kubernetes.io/managed-by label;
	// empty means Helm.
	Service string
}

// Manifests are a rendered release.
type Manifests struct {
	// CRDs are the chart's crds/ directories: ours, and the Gateway API's
	// when gatewayAPI.installCRDs is true. Helm installs them before
	// anything else and never upgrades them.
	CRDs []*unstructured.Unstructured
	// Objects are the templates' objects in Helm's install order.
	Objects []*unstructured.Unstructured
	// YAML is the templates' output as `helm template` prints it (without
	// CRDs), in the same order: what golden files hold.
	YAML string
	// Notes is the rendered NOTES.txt.
	Notes string
}

// Render renders the chart for r as `helm install` would, checking the
// values against values.schema.json first.
func Render(r Release) (*Manifests, error) {
	if r.Name == "" || r.Namespace == "" {
		return nil, errors.New("chart: a release needs a name and a namespace")
	}
	ch, err := loader.Load(Dir())
	if err != nil {
		return nil, fmt.Errorf("loading the chart: %w", err)
	}
	vals := r.Values
	if vals == nil {
		vals = map[string]any{}
	}
	// As helm install does: drop disabled subcharts (the Gateway API CRDs)
	// before the CRDs are collected and the templates rendered.
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return nil, err
	}
	top, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{
		Name: r.Name, Namespace: r.Namespace, Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	if r.Service != "" {
		top["Release"].(map[string]any)["Service"] = r.Service
	}
	files, err := engine.Render(ch, top)
	if err != nil {
		return nil, err
	}
	m := &Manifests{}
	for name, content := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			m.Notes = content
			delete(files, name)
		}
	}
	hooks, sorted, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, err
	}
	if len(hooks) > 0 {
		return nil, fmt.Errorf("chart: %d hooks rendered; this chart has none, and Render does not run them", len(hooks))
	}
	var out strings.Builder
	for _, s := range sorted {
		objs, err := decode(s.Content)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		m.Objects = append(m.Objects, objs...)
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", s.Name, strings.TrimSpace(s.Content))
	}
	m.YAML = out.String()
	crds := ch.CRDObjects()
	sort.Slice(crds, func(i, j int) bool { return crds[i].Filename < crds[j].Filename })
	for _, c := range crds {
		objs, err := decode(string(c.File.Data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Filename, err)
		}
		m.CRDs = append(m.CRDs, objs...)
	}
	return m, nil
}

// InstallOrder is everything a release creates, in an order that a plain
// client can create it in: CRDs, the release namespace, then the objects.
func (m *Manifests) InstallOrder(namespace string) []*unstructured.Unstructured {
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(namespace)
	out := append([]*unstructured.Unstructured{}, m.CRDs...)
	out = append(out, ns)
	return append(out, m.Objects...)
}

// Find returns the rendered object of kind and name, or nil.
func (m *Manifests) Find(kind, name string) *unstructured.Unstructured {
	for _, o := range append(append([]*unstructured.Unstructured{}, m.CRDs...), m.Objects...) {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func decode(manifest string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(manifest)), 4096)
	for {
		var obj map[string]any
		if err := d.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(obj) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
}

// Message is one finding of Lint.
type Message = support.Message

// Lint runs `helm lint` on the chart with values over values.yaml and
// returns its findings; support.ErrorSev and above fail `helm lint`.
func Lint(values map[string]any, namespace string) []Message {
	return lint.All(Dir(), values, namespace, false).Messages
}
