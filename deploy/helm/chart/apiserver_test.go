package chart_test

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudgate-dev/cloudgate/deploy/helm/chart"
	"github.com/cloudgate-dev/cloudgate/test/controlplane"
)

// install applies m to the API server as a client would install it, every
// object checked strictly against the server's schemas. Objects of a kind
// the server does not serve (a ServiceMonitor without the Prometheus
// Operator) are skipped.
func install(ctx context.Context, t *testing.T, c client.Client, m *chart.Manifests, ns string) {
	t.Helper()
	c = client.WithFieldValidation(c, metav1.FieldValidationStrict)
	for _, o := range m.InstallOrder(ns) {
		if _, err := c.RESTMapper().RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version); meta.IsNoMatchError(err) {
			t.Logf("skipping %s %s: the API server does not serve %s", o.GetKind(), o.GetName(), o.GroupVersionKind())
			continue
		}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("cloudgate-chart-test"), client.ForceOwnership); err != nil {
			t.Errorf("applying %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// The rendered manifests are objects a real kube-apiserver accepts, and the
// RBAC they create lets the controller's ServiceAccount do what it does and
// no more where it matters: leader election only in its own namespace.
func TestInstallsOnAPIServer(t *testing.T) {
	ctx := t.Context()
	cp, err := controlplane.Start(ctx, controlplane.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cp.Stop(); err != nil {
			t.Error(err)
		}
	})
	c, err := client.New(cp.REST, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	install(ctx, t, c, render(t, values(t, "default")), namespace)
	// A second release with the AWS values: ServiceAccount annotations,
	// an image by digest, a priority class, and a ServiceMonitor to skip.
	aws, err := chart.Render(chart.Release{Name: "edge", Namespace: "edge-system", Values: values(t, "aws")})
	if err != nil {
		t.Fatal(err)
	}
	install(ctx, t, c, aws, "edge-system")

	restricted(ctx, t, c, render(t, values(t, "default")))

	user := "system:serviceaccount:" + namespace + ":" + release
	for _, a := range []struct {
		attrs authorizationv1.ResourceAttributes
		allow bool
	}{
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "patch", Group: "gateway.networking.k8s.io", Resource: "gateways"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Group: "gateway.networking.k8s.io", Resource: "httproutes", Subresource: "status"}, true},
		{authorizationv1.ResourceAttributes{Verb: "watch", Resource: "secrets"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "get", Resource: "configmaps"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "watch", Group: "gateway.networking.k8s.io", Resource: "backendtlspolicies"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Group: "gateway.networking.k8s.io", Resource: "backendtlspolicies", Subresource: "status"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Group: "gateway.networking.k8s.io", Resource: "backendtlspolicies"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Group: "events.k8s.io", Resource: "events"}, true},
		// Each Gateway's in-cluster Service and its EndpointSlices.
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Resource: "services"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "delete", Group: "discovery.k8s.io", Resource: "endpointslices"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "patch", Resource: "services"}, false},
		{authorizationv1.ResourceAttributes{Namespace: namespace, Verb: "update", Group: "coordination.k8s.io", Resource: "leases"}, true},
		{authorizationv1.ResourceAttributes{Namespace: namespace, Verb: "create", Resource: "events"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "default", Verb: "update", Group: "coordination.k8s.io", Resource: "leases"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "delete", Group: "gateway.networking.k8s.io", Resource: "gateways"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Resource: "secrets"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Resource: "configmaps"}, false},
	} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace}, ResourceAttributes: &a.attrs}}
		if err := c.Create(ctx, sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != a.allow {
			t.Errorf("%s may %s %s/%s %s in %q: %v, want %v (%s)", user, a.attrs.Verb, a.attrs.Group, a.attrs.Resource,
				a.attrs.Subresource, a.attrs.Namespace, sar.Status.Allowed, a.allow, sar.Status.Reason)
		}
	}
}

// restricted checks that the controller's Pod passes the restricted Pod
// Security Standard: the API server's PodSecurity admission, enforcing it on
// the release namespace, admits a Pod made from the Deployment's template
// (created as a dry run: no kubelet here would run it).
func restricted(ctx context.Context, t *testing.T, c client.Client, m *chart.Manifests) {
	t.Helper()
	ns := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		t.Fatal(err)
	}
	ns.Labels = map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}
	if err := c.Update(ctx, ns); err != nil {
		t.Fatal(err)
	}
	d := typed[appsv1.Deployment](t, m, "Deployment", release)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "cloudgate-psa", Namespace: namespace}, Spec: d.Spec.Template.Spec}
	if err := c.Create(ctx, pod, client.DryRunAll); err != nil {
		t.Errorf("the restricted Pod Security Standard refuses the controller's Pod: %v", err)
	}
	// The check itself works: a Pod that may escalate is refused.
	bad := pod.DeepCopy()
	bad.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
	if err := c.Create(ctx, bad, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "allowPrivilegeEscalation") {
		t.Errorf("a Pod without allowPrivilegeEscalation=false: %v, want PodSecurity's refusal", err)
	}
}
