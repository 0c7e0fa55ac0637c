package mapping

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
)

// provenanceSnapshot is a class and a Gateway that both name parameters,
// and a Gateway that adds labels and an address of its own.
func provenanceSnapshot() *Snapshot {
	caps := emulatedCaps()
	caps.ParameterDefaults = map[string]string{"idleTimeout": "60s", "scheme": "internet-facing", "aws.sslPolicy": "P-default"}
	ns := gwv1.Namespace("infra")
	class := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: gwv1.GatewayClassSpec{
		ControllerName: "cloudgate.dev/emulated",
		ParametersRef:  &gwv1.ParametersReference{Group: "cloudgate.dev", Kind: "LoadBalancerParameters", Namespace: &ns, Name: "class-params"},
	}}
	classParams := &v1alpha1.LoadBalancerParameters{ObjectMeta: metav1.ObjectMeta{Namespace: "infra", Name: "class-params"},
		Spec: v1alpha1.LoadBalancerParametersSpec{
			Scheme:      ptr(v1alpha1.SchemeInternal),
			Tags:        map[string]string{"team": "platform", "cost": "shared"},
			AccessLogs:  &v1alpha1.AccessLogs{Enabled: true, Bucket: "logs", Prefix: "lb"},
			HealthCheck: &v1alpha1.HealthCheck{Path: ptr("/healthz"), Interval: &metav1.Duration{Duration: 30 * time.Second}},
			AWS:         &v1alpha1.AWSParameters{Subnets: []string{"subnet-0123456789abcdef0", "subnet-0123456789abcdef1"}},
		}}
	gwParams := &v1alpha1.LoadBalancerParameters{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "gw-params"},
		Spec: v1alpha1.LoadBalancerParametersSpec{
			Tags:        map[string]string{"team": "web"},
			AccessLogs:  &v1alpha1.AccessLogs{Enabled: false},
			HealthCheck: &v1alpha1.HealthCheck{Interval: &metav1.Duration{Duration: 10 * time.Second}},
			AWS: &v1alpha1.AWSParameters{Subnets: []string{"subnet-0123456789abcdef2"},
				DeregistrationDelay: &metav1.Duration{Duration: 1500 * time.Millisecond}},
			Emulated: &v1alpha1.EmulatedParameters{ResponseHeaders: map[string]string{"X-Env": "prod"}},
		}}
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "gw"}, Spec: gwv1.GatewaySpec{
		GatewayClassName: "c",
		Listeners:        []gwv1.Listener{{Name: "http", Protocol: gwv1.HTTPProtocolType, Port: 80}},
		Addresses:        []gwv1.GatewaySpecAddress{{Value: "127.0.0.5"}},
		Infrastructure: &gwv1.GatewayInfrastructure{
			ParametersRef: &gwv1.LocalParametersReference{Group: "cloudgate.dev", Kind: "LoadBalancerParameters", Name: "gw-params"},
			Labels:        map[gwv1.LabelKey]gwv1.LabelValue{"cost": "web-budget", "cloudgate.dev/owner": "me"},
		},
	}}
	return &Snapshot{ClusterName: "test", Capabilities: caps, GatewayClass: class, Gateway: gw,
		Parameters: []*v1alpha1.LoadBalancerParameters{classParams, gwParams}}
}

// TestParameterProvenance checks that each effective field names the
// object that set it last: the Gateway's parameters over the class's,
// field by field and map key by map key; a field replaced as a whole
// (accessLogs, a list) has one source; the Gateway's own spec over both;
// the provider's default for what nothing set.
func TestParameterProvenance(t *testing.T) {
	res := Build(provenanceSnapshot())
	if res.LoadBalancer == nil {
		t.Fatalf("the Gateway is not accepted: %+v", res.Gateway.Conditions)
	}
	class := ParameterSource{Kind: SourceClass, Ref: "infra/class-params"}
	gateway := ParameterSource{Kind: SourceGateway, Ref: "apps/gw-params"}
	want := []Parameter{
		{"accessLogs.enabled", "false", gateway},
		{"addresses", "127.0.0.5", ParameterSource{Kind: SourceGatewaySpec, Ref: "spec.addresses"}},
		{"aws.deregistrationDelay", "1s", gateway},
		{"aws.sslPolicy", "P-default", ParameterSource{Kind: SourceDefault}},
		{"aws.subnets", "subnet-0123456789abcdef2", gateway},
		{"emulated.responseHeaders[X-Env]", "prod", gateway},
		{"healthCheck.interval", "10s", gateway},
		{"healthCheck.path", "/healthz", class},
		{"idleTimeout", "60s", ParameterSource{Kind: SourceDefault}},
		{"scheme", "internal", class},
		{"tags[cost]", "web-budget", ParameterSource{Kind: SourceGatewaySpec, Ref: "spec.infrastructure.labels"}},
		{"tags[team]", "web", gateway},
	}
	if !reflect.DeepEqual(want, res.Parameters) {
		t.Errorf("effective parameters:\n got %s\nwant %s", lines(res.Parameters), lines(want))
	}
	// The model carries the same values.
	o := res.LoadBalancer.Options
	if o.Scheme != "internal" || o.AccessLogs != nil || res.LoadBalancer.Tags["cost"] != "web-budget" || res.LoadBalancer.Tags["team"] != "web" {
		t.Errorf("model options %+v tags %v disagree with the parameters", o, res.LoadBalancer.Tags)
	}
	if got := res.LoadBalancer.TargetGroups; len(got) > 0 && got[0].HealthCheck.Interval != 10*time.Second {
		t.Errorf("health check interval %s, want 10s", got[0].HealthCheck.Interval)
	}
	if got := (ParameterSource{Kind: SourceClass, Ref: "infra/p"}).String(); got != "GatewayClass parametersRef infra/p" {
		t.Errorf("source prints as %q", got)
	}
}

// TestParameterProvenanceInvalid checks that a bad merged value still
// shows where each field came from, and that a parametersRef that does
// not resolve gives no parameters at all.
func TestParameterProvenanceInvalid(t *testing.T) {
	s := provenanceSnapshot()
	s.Parameters[1].Spec.HealthCheck.Timeout = &metav1.Duration{Duration: 20 * time.Second} // not below the interval
	res := Build(s)
	if res.LoadBalancer != nil {
		t.Fatal("a timeout longer than the interval was accepted")
	}
	found := false
	for _, p := range res.Parameters {
		if p.Path == "healthCheck.timeout" {
			found = p.Value == "20s" && p.Source.Ref == "apps/gw-params"
		}
	}
	if !found {
		t.Errorf("healthCheck.timeout missing or wrong in %+v", res.Parameters)
	}

	s = provenanceSnapshot()
	s.Parameters = s.Parameters[:1]
	if res := Build(s); res.Parameters != nil {
		t.Errorf("a Gateway whose parametersRef does not resolve has parameters %+v", res.Parameters)
	}
}

func lines(ps []Parameter) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "\n  %s = %s (%s)", p.Path, p.Value, p.Source)
	}
	return b.String()
}
