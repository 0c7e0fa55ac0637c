package chart

import (
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// Helm keeps each release revision in a Secret, which Kubernetes caps at
// 1 MiB: the chart's own templates, values and files (our CRD among them) and
// the rendered manifest, gzipped. Subcharts are not stored, so the Gateway
// API CRDs (1.5 MB of YAML in a subchart) must not make the release too big
// to install; this measures it with Helm's own storage driver.
func TestReleaseFitsInASecret(t *testing.T) {
	for _, installCRDs := range []bool{false, true} {
		vals := map[string]any{"clusterName": "a", "gatewayAPI": map[string]any{"installCRDs": installCRDs}}
		m, err := Render(Release{Name: "cloudgate", Namespace: "cloudgate-system", Values: vals})
		if err != nil {
			t.Fatal(err)
		}
		ch, err := loader.Load(Dir())
		if err != nil {
			t.Fatal(err)
		}
		// What helm install stores: the chart without its disabled subcharts.
		if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
			t.Fatal(err)
		}
		secrets := fake.NewClientset().CoreV1().Secrets("cloudgate-system")
		rel := &release.Release{Name: "cloudgate", Namespace: "cloudgate-system", Version: 1, Chart: ch, Config: vals,
			Manifest: m.YAML, Info: &release.Info{Status: release.StatusDeployed}}
		if err := driver.NewSecrets(secrets).Create("sh.helm.release.v1.cloudgate.v1", rel); err != nil {
			t.Fatal(err)
		}
		s, err := secrets.Get(t.Context(), "sh.helm.release.v1.cloudgate.v1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		size := len(s.Data["release"])
		t.Logf("gatewayAPI.installCRDs=%v: the release Secret holds %d bytes", installCRDs, size)
		if size >= 1<<20 {
			t.Errorf("gatewayAPI.installCRDs=%v: the release Secret holds %d bytes, over Kubernetes' 1 MiB", installCRDs, size)
		}
	}
}
