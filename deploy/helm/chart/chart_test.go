package chart_test

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/cloudgate-dev/cloudgate/deploy/helm/chart"
	"github.com/cloudgate-dev/cloudgate/deploy/helm/chartgen"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	release   = "cloudgate"
	namespace = "cloudgate-system"
)

// cases are the values files in testdata that the chart is linted and
// golden-tested with.
var cases = []string{"default", "aws", "gcp"}

func values(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func render(t *testing.T, vals map[string]any) *chart.Manifests {
	t.Helper()
	m, err := chart.Render(chart.Release{Name: release, Namespace: namespace, Values: vals})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLint(t *testing.T) {
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			for _, m := range chart.Lint(values(t, name), namespace) {
				// INFO is Helm's advice (an icon is recommended); warnings
				// and errors fail.
				if m.Severity > support.InfoSev {
					t.Error(m)
				}
			}
		})
	}
}

// The chart has no default cluster name: installing with the chart's values
// alone fails, saying why. (helm lint only logs it: in lint mode Helm's
// required lets a missing value pass, so that charts lint with defaults.)
func TestClusterNameRequired(t *testing.T) {
	_, err := chart.Render(chart.Release{Name: release, Namespace: namespace})
	if err == nil || !strings.Contains(err.Error(), "clusterName is required") {
		t.Errorf("Render without clusterName: %v, want clusterName is required", err)
	}
}

func TestGolden(t *testing.T) {
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			got := render(t, values(t, name)).YAML
			path := filepath.Join("testdata", name+".yaml")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./deploy/helm/chart -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s is stale (go test ./deploy/helm/chart -update rewrites it; review the diff) (-want +got):\n%s", path, diff)
			}
		})
	}
}

func TestSchemaRejectsBadValues(t *testing.T) {
	for _, c := range []struct {
		name   string
		values string
		want   []string // in the error, in any order
	}{
		{"misspelt key", "clusterName: a\nreplicaCont: 2", []string{"replicaCont", "not allowed"}},
		{"misspelt nested key", "clusterName: a\naws: {roleArn: x}", []string{"roleArn", "not allowed"}},
		{"string replicas", "clusterName: a\nreplicaCount: two", []string{"/replicaCount", "want integer"}},
		{"unknown provider", "clusterName: a\nproviders: [azure]", []string{"/providers/0"}},
		{"cluster name with capitals", "clusterName: Prod_1", []string{"/clusterName"}},
		{"bad duration", "clusterName: a\nleaderElection: {leaseDuration: 15}", []string{"/leaderElection/leaseDuration"}},
		{"gcp zone without its letter", "clusterName: a\ngcp: {zone: europe-west1}", []string{"/gcp/zone"}},
		{"gcp network path of a subnetwork", "clusterName: a\ngcp: {network: projects/p/regions/europe-west1/subnetworks/s}", []string{"/gcp/network"}},
		{"gcp subnetwork in global", "clusterName: a\ngcp: {subnetwork: projects/p/global/subnetworks/s}", []string{"/gcp/subnetwork"}},
		{"gcp endpoint without a scheme", "clusterName: a\ngcp: {endpoint: 127.0.0.1:8091}", []string{"/gcp/endpoint"}},
		{"gcp project number", "clusterName: a\ngcp: {project: '123456789012'}", []string{"/gcp/project"}},
		{"gcp withoutAuthentication as a string", "clusterName: a\ngcp: {withoutAuthentication: 'yes'}", []string{"/gcp/withoutAuthentication"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var v map[string]any
			if err := yaml.Unmarshal([]byte(c.values), &v); err != nil {
				t.Fatal(err)
			}
			_, err := chart.Render(chart.Release{Name: release, Namespace: namespace, Values: v})
			if err == nil {
				t.Fatalf("Render accepted %q", c.values)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func typed[T any](t *testing.T, m *chart.Manifests, kind, name string) *T {
	t.Helper()
	u := m.Find(kind, name)
	if u == nil {
		t.Fatalf("no %s %s rendered", kind, name)
	}
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, out, true); err != nil {
		t.Fatalf("%s %s: %v", kind, name, err)
	}
	return out
}

func TestDeployment(t *testing.T) {
	d := typed[appsv1.Deployment](t, render(t, values(t, "default")), "Deployment", release)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %v, want 2", d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	for _, arg := range []string{"run", "--leader-elect", "--cluster-name=$(CLOUDGATE_CLUSTER_NAME)", "--providers=aws",
		"--metrics-bind-address=:8080", "--health-probe-bind-address=:8081", "--zap-log-level=info"} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("args %q lack %s", c.Args, arg)
		}
	}

	ps, sc := pod.SecurityContext, c.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser != 65532 ||
		ps.SeccompProfile == nil || ps.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("pod securityContext %+v is not restricted (non-root uid 65532, seccomp RuntimeDefault)", ps)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 ||
		sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.SeccompProfile == nil || sc.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("container securityContext %+v is not restricted", sc)
	}

	for probe, want := range map[string]string{"liveness": "/healthz", "readiness": "/readyz"} {
		p := c.LivenessProbe
		if probe == "readiness" {
			p = c.ReadinessProbe
		}
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != want || p.HTTPGet.Port.String() != "probes" {
			t.Errorf("%s probe %+v, want GET %s on the probes port", probe, p, want)
		}
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "probes" && p.ContainerPort == 8081 }) {
		t.Errorf("ports %+v lack probes 8081", c.Ports)
	}

	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			env[e.Name] = "field:" + e.ValueFrom.FieldRef.FieldPath
		default:
			env[e.Name] = e.Value
		}
	}
	wantEnv := map[string]string{"CLOUDGATE_CLUSTER_NAME": "test-cluster",
		"POD_NAMESPACE": "field:metadata.namespace", "POD_NAME": "field:metadata.name"}
	if diff := cmp.Diff(wantEnv, env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}

	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/tmp" }) ||
		!slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == "tmp" && v.EmptyDir != nil }) {
		t.Errorf("no emptyDir at /tmp: mounts %+v, volumes %+v", c.VolumeMounts, pod.Volumes)
	}

	var keys []string
	for _, tsc := range pod.TopologySpreadConstraints {
		if tsc.WhenUnsatisfiable != "ScheduleAnyway" {
			t.Errorf("topology spread on %s is %s, want ScheduleAnyway", tsc.TopologyKey, tsc.WhenUnsatisfiable)
		}
		keys = append(keys, tsc.TopologyKey)
	}
	if !slices.Equal(keys, []string{"kubernetes.io/hostname", "topology.kubernetes.io/zone"}) {
		t.Errorf("topology spread keys %q, want hostname and zone", keys)
	}
	if d.Spec.Template.Spec.ServiceAccountName != release {
		t.Errorf("serviceAccountName %q, want %q", d.Spec.Template.Spec.ServiceAccountName, release)
	}
}

// The gcp provider's optional flags are passed only when their value is
// set, so that the controller's defaults (network "default", zone
// <region>-b, Compute Engine's endpoint, credentials) apply otherwise.
func TestGCPArgs(t *testing.T) {
	gcpArgs := func(t *testing.T, gcp map[string]any) []string {
		t.Helper()
		m := render(t, map[string]any{"clusterName": "a", "providers": []any{"gcp"}, "gcp": gcp})
		var out []string
		for _, a := range typed[appsv1.Deployment](t, m, "Deployment", release).Spec.Template.Spec.Containers[0].Args {
			if strings.HasPrefix(a, "--gcp-") {
				out = append(out, a)
			}
		}
		return out
	}
	got := gcpArgs(t, map[string]any{"project": "my-project", "region": "us-central1"})
	if want := []string{"--gcp-project=my-project", "--gcp-region=us-central1"}; !slices.Equal(got, want) {
		t.Errorf("project and region only: args %q, want %q", got, want)
	}
	got = gcpArgs(t, map[string]any{"project": "cloudgate-test", "region": "us-central1", "zone": "us-central1-a",
		"network": "vpc", "subnetwork": "nodes", "endpoint": "http://127.0.0.1:8091", "withoutAuthentication": true})
	want := []string{"--gcp-project=cloudgate-test", "--gcp-region=us-central1", "--gcp-zone=us-central1-a", "--gcp-network=vpc",
		"--gcp-subnetwork=nodes", "--gcp-endpoint=http://127.0.0.1:8091", "--gcp-without-authentication"}
	if !slices.Equal(got, want) {
		t.Errorf("every gcp value: args %q, want %q", got, want)
	}

	_, err := chart.Render(chart.Release{Name: release, Namespace: namespace, Values: map[string]any{"clusterName": "a", "providers": []any{"gcp"},
		"gcp": map[string]any{"project": "my-project", "region": "us-central1", "withoutAuthentication": true}}})
	if err == nil || !strings.Contains(err.Error(), "needs gcp.endpoint") {
		t.Errorf("withoutAuthentication without an endpoint: %v, want an error naming gcp.endpoint", err)
	}
}

func TestLeaderElectionOff(t *testing.T) {
	_, err := chart.Render(chart.Release{Name: release, Namespace: namespace,
		Values: map[string]any{"clusterName": "a", "leaderElection": map[string]any{"enabled": false}}})
	if err == nil || !strings.Contains(err.Error(), "leaderElection.enabled=false needs replicaCount 1") {
		t.Errorf("two replicas without leader election: %v, want an error", err)
	}
	m := render(t, map[string]any{"clusterName": "a", "leaderElection": map[string]any{"enabled": false}, "replicaCount": 1})
	d := typed[appsv1.Deployment](t, m, "Deployment", release)
	for _, a := range d.Spec.Template.Spec.Containers[0].Args {
		if strings.HasPrefix(a, "--leader-elect") {
			t.Errorf("leader election off, but args have %s", a)
		}
	}
}

func TestServiceAccountAnnotations(t *testing.T) {
	for _, c := range []struct {
		values string
		want   map[string]string
	}{
		{"default", nil},
		{"aws", map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/cloudgate-controller"}},
		{"gcp", map[string]string{"iam.gke.io/gcp-service-account": "cloudgate@my-project.iam.gserviceaccount.com"}},
	} {
		sa := render(t, values(t, c.values)).Find("ServiceAccount", release)
		if sa == nil {
			t.Fatalf("%s: no ServiceAccount", c.values)
		}
		if diff := cmp.Diff(c.want, sa.GetAnnotations()); diff != "" {
			t.Errorf("%s: ServiceAccount annotations (-want +got):\n%s", c.values, diff)
		}
	}
}

// The chart's RBAC is the markers' RBAC: a marker changed without `make
// generate` fails here.
func TestRBACMatchesMarkers(t *testing.T) {
	data, err := os.ReadFile("../../rbac/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	roles, err := chartgen.ParseRoles(data)
	if err != nil {
		t.Fatal(err)
	}
	const ns = "other-namespace"
	m, err := chart.Render(chart.Release{Name: "cg", Namespace: ns, Values: map[string]any{"clusterName": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	cr := typed[rbacv1.ClusterRole](t, m, "ClusterRole", "cg-cloudgate")
	if diff := cmp.Diff(roles.Cluster, cr.Rules); diff != "" {
		t.Errorf("ClusterRole rules differ from deploy/rbac/role.yaml (run make generate) (-markers +chart):\n%s", diff)
	}
	role := typed[rbacv1.Role](t, m, "Role", "cg-cloudgate")
	if role.Namespace != ns {
		t.Errorf("Role in namespace %q, want the release namespace %q", role.Namespace, ns)
	}
	if diff := cmp.Diff(roles.Namespaced, role.Rules); diff != "" {
		t.Errorf("Role rules differ from deploy/rbac/role.yaml (run make generate) (-markers +chart):\n%s", diff)
	}
	wantSubject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "cg-cloudgate", Namespace: ns}}
	crb := typed[rbacv1.ClusterRoleBinding](t, m, "ClusterRoleBinding", "cg-cloudgate")
	rb := typed[rbacv1.RoleBinding](t, m, "RoleBinding", "cg-cloudgate")
	if diff := cmp.Diff(wantSubject, crb.Subjects); diff != "" || crb.RoleRef.Name != cr.Name || crb.RoleRef.Kind != "ClusterRole" {
		t.Errorf("ClusterRoleBinding %+v does not bind the ClusterRole to the ServiceAccount: %s", crb, diff)
	}
	if diff := cmp.Diff(wantSubject, rb.Subjects); diff != "" || rb.RoleRef.Name != role.Name || rb.RoleRef.Kind != "Role" {
		t.Errorf("RoleBinding %+v does not bind the Role to the ServiceAccount: %s", rb, diff)
	}

	none, err := chart.Render(chart.Release{Name: "cg", Namespace: ns, Values: map[string]any{"clusterName": "a", "rbac": map[string]any{"create": false}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range none.Objects {
		if o.GroupVersionKind().Group == "rbac.authorization.k8s.io" {
			t.Errorf("rbac.create=false rendered %s %s", o.GetKind(), o.GetName())
		}
	}
}

func crdNames(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetName())
	}
	slices.Sort(out)
	return out
}

// Our CRD always comes with the chart; the Gateway API's only when asked for.
func TestGatewayAPICRDsOptIn(t *testing.T) {
	if got := crdNames(render(t, values(t, "default")).CRDs); !slices.Equal(got, []string{"loadbalancerparameters.cloudgate.dev"}) {
		t.Errorf("default CRDs %q, want ours alone", got)
	}
	files, err := filepath.Glob("../../crds/gateway-api/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Gateway API CRDs in deploy/crds/gateway-api: %v", err)
	}
	got := render(t, values(t, "gcp")).CRDs
	if len(got) != 1+len(files) {
		t.Errorf("installCRDs=true gave %d CRDs, want ours and %d of the Gateway API", len(got), len(files))
	}
	if !slices.Contains(crdNames(got), "gateways.gateway.networking.k8s.io") {
		t.Errorf("installCRDs=true CRDs %q lack gateways.gateway.networking.k8s.io", crdNames(got))
	}
}

func TestServiceMonitorOptional(t *testing.T) {
	if render(t, values(t, "default")).Find("ServiceMonitor", release) != nil {
		t.Error("a ServiceMonitor by default; it needs the Prometheus Operator's CRD")
	}
	sm := render(t, values(t, "aws")).Find("ServiceMonitor", release)
	if sm == nil {
		t.Fatal("metrics.serviceMonitor.enabled rendered no ServiceMonitor")
	}
	if sm.GetLabels()["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels %v lack metrics.serviceMonitor.labels", sm.GetLabels())
	}
	_, err := chart.Render(chart.Release{Name: release, Namespace: namespace, Values: map[string]any{"clusterName": "a",
		"metrics": map[string]any{"service": map[string]any{"enabled": false}, "serviceMonitor": map[string]any{"enabled": true}}}})
	if err == nil || !strings.Contains(err.Error(), "metrics.service.enabled") {
		t.Errorf("a ServiceMonitor without the Service: %v, want an error naming metrics.service.enabled", err)
	}
}

// A budget for one replica would block node drains for good.
func TestPodDisruptionBudgetNeedsTwoReplicas(t *testing.T) {
	if render(t, values(t, "default")).Find("PodDisruptionBudget", release) == nil {
		t.Error("no PodDisruptionBudget for two replicas")
	}
	if pdb := render(t, map[string]any{"clusterName": "a", "replicaCount": 1}).Find("PodDisruptionBudget", release); pdb != nil {
		t.Error("a PodDisruptionBudget for a single replica")
	}
}
