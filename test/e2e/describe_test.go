package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
	"github.com/cloudgate-dev/cloudgate/mapping"
	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/emulated"
	"github.com/cloudgate-dev/cloudgate/reconciler"
	"github.com/cloudgate-dev/cloudgate/reconciler/describe"
)

// readOnlyClient is a client of a user whose only rights are get, list and
// watch on everything (a write through it fails), and its kubeconfig.
func readOnlyClient(t *testing.T) (client.Client, string) {
	t.Helper()
	group := "cloudgate-e2e-readers"
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: group},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"get", "list", "watch"}}}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: group},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: group},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: group}}}
	create(t, role, binding)
	t.Cleanup(func() {
		_ = suite.c.Delete(ctxFor(t), binding)
		_ = suite.c.Delete(ctxFor(t), role)
	})
	kubeconfig, err := suite.cp.AddUser("cloudgate-e2e-describer", group)
	must(t, err)
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	must(t, err)
	scheme, err := reconciler.NewScheme()
	must(t, err)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	must(t, err)
	// RBAC applies at once, but say so if it did not.
	probe := &v1alpha1.LoadBalancerParameters{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "probe"}}
	if err := c.Create(ctxFor(t), probe); err == nil {
		t.Fatal("the read-only user could create an object")
	}
	return c, kubeconfig
}

// TestDescribe checks what describe reports for a class and a Gateway
// that both name parameters: each effective field with its source, the
// routes with their status, the plan and the cloud ids; and that it
// writes nothing, to the cluster (its user may only read) or to the cloud.
func TestDescribe(t *testing.T) {
	ns := namespace(t)
	backend(t, ns, "web")
	create(t,
		&v1alpha1.LoadBalancerParameters{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "class-params"},
			Spec: v1alpha1.LoadBalancerParametersSpec{
				Tags:     map[string]string{"team": "platform", "cost": "shared"},
				Emulated: &v1alpha1.EmulatedParameters{ResponseHeaders: map[string]string{"X-Class": "class"}},
			}},
		&v1alpha1.LoadBalancerParameters{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw-params"},
			Spec: v1alpha1.LoadBalancerParametersSpec{
				Tags:        map[string]string{"team": "web"},
				IdleTimeout: &metav1.Duration{Duration: 30 * time.Second},
				Emulated:    &v1alpha1.EmulatedParameters{ResponseHeaders: map[string]string{"X-Gateway": "gateway"}},
			}})
	paramsNS := gwv1.Namespace(ns)
	class := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "describe-" + ns}, Spec: gwv1.GatewayClassSpec{
		ControllerName: emulated.ControllerName,
		ParametersRef:  &gwv1.ParametersReference{Group: "cloudgate.dev", Kind: "LoadBalancerParameters", Namespace: &paramsNS, Name: "class-params"},
	}}
	create(t, class)
	gw := gateway(ns, "gw", httpListener("http", 80))
	gw.Spec.GatewayClassName = gwv1.ObjectName(class.Name)
	gw.Spec.Infrastructure = &gwv1.GatewayInfrastructure{
		ParametersRef: &gwv1.LocalParametersReference{Group: "cloudgate.dev", Kind: "LoadBalancerParameters", Name: "gw-params"}}
	create(t, gw, route(ns, "r", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("web", 1))))
	t.Cleanup(func() {
		// The Gateway first: the class is in use until it is gone.
		deleteAndWait(t, gw)
		_ = suite.c.Delete(ctxFor(t), class)
	})
	addr := programmedAddress(t, ns, "gw")
	expectBackend(t, "GET", "http://"+addr+":80/", "", nil, "web")
	r, err := send("GET", "http://"+addr+":80/", "", nil)
	must(t, err)
	if r.header.Get("X-Class") != "class" || r.header.Get("X-Gateway") != "gateway" {
		t.Fatalf("the merged parameters did not reach the data plane: %v", r.header)
	}
	routeParentCondition(t, ns, "r", "Accepted", metav1.ConditionTrue, "Accepted")
	lbs := cloudLoadBalancers(t, ns, "gw")
	if len(lbs) != 1 {
		t.Fatalf("%d load balancers in the cloud, want 1", len(lbs))
	}

	reader, kubeconfig := readOnlyClient(t)
	prov, err := emulated.New(emulated.Config{Endpoint: suite.cloud.URL()})
	must(t, err)
	before := getGateway(t, ns, "gw").ResourceVersion
	writes := cloudWrites()
	rep, err := describe.Describe(ctxFor(t), describe.Config{Reader: reader, ClusterName: clusterName, Providers: []providers.Provider{prov}},
		types.NamespacedName{Namespace: ns, Name: "gw"})
	must(t, err)
	if w := cloudWrites(); w != writes {
		t.Errorf("describe (or the controller meanwhile) wrote %d times to the cloud", w-writes)
	}
	if after := getGateway(t, ns, "gw").ResourceVersion; after != before {
		t.Errorf("the Gateway changed while describe ran (resourceVersion %s → %s)", before, after)
	}

	classSrc := mapping.ParameterSource{Kind: mapping.SourceClass, Ref: ns + "/class-params"}
	gwSrc := mapping.ParameterSource{Kind: mapping.SourceGateway, Ref: ns + "/gw-params"}
	want := map[string]mapping.Parameter{
		"tags[team]":                          {Path: "tags[team]", Value: "web", Source: gwSrc},
		"tags[cost]":                          {Path: "tags[cost]", Value: "shared", Source: classSrc},
		"idleTimeout":                         {Path: "idleTimeout", Value: "30s", Source: gwSrc},
		"emulated.responseHeaders[X-Class]":   {Path: "emulated.responseHeaders[X-Class]", Value: "class", Source: classSrc},
		"emulated.responseHeaders[X-Gateway]": {Path: "emulated.responseHeaders[X-Gateway]", Value: "gateway", Source: gwSrc},
	}
	for _, p := range rep.Parameters {
		if w, ok := want[p.Path]; ok {
			if p != w {
				t.Errorf("parameter %s = %+v, want %+v", p.Path, p, w)
			}
			delete(want, p.Path)
		}
	}
	if len(want) > 0 {
		t.Errorf("parameters missing from the report: %v (got %+v)", want, rep.Parameters)
	}
	if len(rep.Routes) != 1 || rep.Routes[0].Kind != "HTTPRoute" || rep.Routes[0].Name != "r" || len(rep.Routes[0].Parents) != 1 {
		t.Fatalf("routes %+v, want HTTPRoute r with one parent", rep.Routes)
	}
	conds := map[string]string{}
	for _, c := range rep.Routes[0].Parents[0].Conditions {
		conds[c.Type] = string(c.Status) + "/" + c.Reason
	}
	if conds["Accepted"] != "True/Accepted" || conds["ResolvedRefs"] != "True/ResolvedRefs" {
		t.Errorf("route conditions %v", conds)
	}
	if rep.Plan == nil || rep.Plan.Summary != "no changes" {
		t.Fatalf("plan %+v, want one with no changes for a programmed Gateway", rep.Plan)
	}
	var lbID string
	for _, r := range rep.Resources {
		if r.Kind == string(providers.KindLoadBalancer) {
			lbID = r.CloudID
		}
	}
	if lbID != lbs[0].ID {
		t.Errorf("the report's load balancer id %q, the cloud's %q (resources %+v)", lbID, lbs[0].ID, rep.Resources)
	}

	text := rep.String()
	if !regexp.MustCompile(`(?m)^Gateway:\s+` + ns + `/gw$`).MatchString(text) {
		t.Errorf("the printed report does not name the Gateway first:\n%s", text)
	}
	for _, line := range []string{
		"tags[team]", "Gateway parametersRef " + ns + "/gw-params",
		"GatewayClass parametersRef " + ns + "/class-params",
		"HTTPRoute " + ns + "/r", "Accepted      True",
		"no changes", lbs[0].ID,
	} {
		if !strings.Contains(text, line) {
			t.Errorf("the printed report lacks %q:\n%s", line, text)
		}
	}
	for _, f := range []describe.Format{describe.FormatJSON, describe.FormatYAML} {
		out, err := rep.Render(f)
		if err != nil || !strings.Contains(out, lbs[0].ID) || !strings.Contains(out, "gw-params") {
			t.Errorf("%s output (err %v):\n%s", f, err, out)
		}
	}
	t.Logf("describe:\n%s", text)

	// The same through the kubectl plugin, as a user runs it.
	writes = cloudWrites()
	plugin := kubectlPlugin(t)
	out := plugin("describe", "gateway", ns+"/gw", "--kubeconfig", kubeconfig,
		"--cluster-name", clusterName, "--emulated-endpoint", suite.cloud.URL(), "-o", "json")
	var fromPlugin describe.Report
	if err := json.Unmarshal(out, &fromPlugin); err != nil {
		t.Fatalf("kubectl cloudgate describe -o json printed %v:\n%s", err, out)
	}
	if len(fromPlugin.Resources) == 0 || fromPlugin.Resources[0].CloudID != lbs[0].ID || !slices.Equal(fromPlugin.Parameters, rep.Parameters) {
		t.Errorf("the plugin's report differs from the package's:\n%s", out)
	}
	// NAME with -n after it, kubectl's order; text by default.
	out = plugin("describe", "gateway", "gw", "-n", ns, "--kubeconfig", kubeconfig,
		"--cluster-name", clusterName, "--emulated-endpoint", suite.cloud.URL())
	if !strings.Contains(string(out), "Gateway parametersRef "+ns+"/gw-params") || !strings.Contains(string(out), lbs[0].ID) {
		t.Errorf("kubectl cloudgate describe printed:\n%s", out)
	}
	if w := cloudWrites(); w != writes {
		t.Errorf("the plugin (or the controller meanwhile) wrote %d times to the cloud", w-writes)
	}

	// A route change the controller has not applied yet shows in the plan:
	// a dry run holds it back.
	setDryRun(t, ns, "gw", "true")
	dryRunCondition(t, ns, "gw", reconciler.ReasonPlanComputed, "no changes")
	r2 := route(ns, "r2", "gw", nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/two"), backendRef("web", 1)))
	create(t, r2)
	dryRunCondition(t, ns, "gw", reconciler.ReasonPlanComputed, "would create 1 rule")
	rep, err = describe.Describe(ctxFor(t), describe.Config{Reader: reader, ClusterName: clusterName, Providers: []providers.Provider{prov}},
		types.NamespacedName{Namespace: ns, Name: "gw"})
	must(t, err)
	if rep.Plan == nil || !strings.Contains(rep.Plan.Summary, "would create 1 rule") || !strings.Contains(rep.Plan.Text, `Create rule "http-80/`+ns+`/r2/`) ||
		rep.Gateway.DryRun != "true" || len(rep.Routes) != 2 {
		t.Errorf("after a new route in a dry run: plan %+v, dry run %q, %d routes", rep.Plan, rep.Gateway.DryRun, len(rep.Routes))
	}
}

// kubectlPlugin builds cmd/cloudgate as kubectl-cloudgate and returns a
// function that runs `kubectl cloudgate ARGS` with it on PATH (kubectl
// from the control plane's binaries) and returns its standard output.
func kubectlPlugin(t *testing.T) func(args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "kubectl-cloudgate"), "github.com/cloudgate-dev/cloudgate/cmd/cloudgate")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building kubectl-cloudgate: %v\n%s", err, out)
	}
	kubectl := filepath.Join(suite.cp.BinDir, "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		t.Fatalf("kubectl is not built (make cluster-binaries): %v", err)
	}
	return func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(kubectl, append([]string{"cloudgate"}, args...)...)
		cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl cloudgate %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out
	}
}

// TestDescribeLeavesOutRefusedRoutes checks that describe plans what the
// controller applies when the cloud refused a route: the route is left
// out (its status says why), so a Gateway in its steady state shows no
// changes rather than the refused rule as one to create.
func TestDescribeLeavesOutRefusedRoutes(t *testing.T) {
	ns := namespace(t)
	c := suite.cloud.Cloud()
	c.RefuseRules("refused-in-describe")
	defer c.RefuseRules("")
	backend(t, ns, "web")
	create(t, gateway(ns, "gw", httpListener("http", 80)),
		route(ns, "good", "gw", []string{"good.example"}, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("web", 1))),
		route(ns, "refused-in-describe", "gw", []string{"bad.example"}, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("web", 1))))
	routeParentCondition(t, ns, "refused-in-describe", "Accepted", metav1.ConditionFalse, string(gwv1.RouteReasonUnsupportedValue))
	addr := programmedAddress(t, ns, "gw")
	expectBackend(t, "GET", "http://"+addr+"/", "good.example", nil, "web")

	prov, err := emulated.New(emulated.Config{Endpoint: suite.cloud.URL()})
	must(t, err)
	rep, err := describe.Describe(ctxFor(t), describe.Config{Reader: suite.c, ClusterName: clusterName, Providers: []providers.Provider{prov}},
		types.NamespacedName{Namespace: ns, Name: "gw"})
	must(t, err)
	if rep.Plan == nil || rep.Plan.Summary != "no changes" {
		t.Errorf("describe's plan with a refused route: %+v, want no changes", rep.Plan)
	}
	if len(rep.Routes) != 2 {
		t.Errorf("describe lists %d routes, want the refused one too", len(rep.Routes))
	}
	if text := rep.String(); !strings.Contains(text, "The cloud refused this route's configuration") {
		t.Errorf("describe does not say the route was refused:\n%s", text)
	}
}
