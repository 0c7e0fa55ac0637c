package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
	"github.com/cloudgate-dev/cloudgate/test/controlplane"
)

// TestAWSParametersValidation creates LoadBalancerParameters on a real
// kube-apiserver with the generated CRD: the aws section's OpenAPI bounds
// and CEL rules refuse what the provider could never apply, with the
// message users read, and accept what it can.
func TestAWSParametersValidation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cp, err := controlplane.Start(ctx, controlplane.Config{Progress: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cp.Stop() })
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cp.REST, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}

	full := v1alpha1.LoadBalancerParametersSpec{
		IdleTimeout:        &metav1.Duration{Duration: 120 * time.Second},
		DeletionProtection: ptr.To(true),
		AccessLogs:         &v1alpha1.AccessLogs{Enabled: true, Bucket: "logs", Prefix: "shop"},
		AWS: &v1alpha1.AWSParameters{
			Subnets:              []string{"subnet-0123456789abcdef0", "subnet-89abcdef"},
			SourceRanges:         []string{"10.0.0.0/8", "2001:db8::/32"},
			BackendSecurityGroup: ptr.To("sg-0123456789abcdef0"),
			SSLPolicy:            ptr.To("ELBSecurityPolicy-TLS13-1-2-2021-06"),
			TargetType:           ptr.To("ip"),
			DeregistrationDelay:  &metav1.Duration{Duration: 0},
			Attributes:           map[string]string{"routing.http2.enabled": "false", "client_keep_alive.seconds": "3600"},
			TargetGroupAttributes: map[string]string{"stickiness.enabled": "true",
				"load_balancing.algorithm.type": "least_outstanding_requests"},
			Quotas: &v1alpha1.AWSQuotas{RulesPerLoadBalancer: ptr.To[int32](200), CertificatesPerLoadBalancer: ptr.To[int32](50)},
		},
	}
	withAWS := func(f func(a *v1alpha1.AWSParameters)) v1alpha1.LoadBalancerParametersSpec {
		a := &v1alpha1.AWSParameters{}
		f(a)
		return v1alpha1.LoadBalancerParametersSpec{AWS: a}
	}
	cases := []struct {
		name string
		spec v1alpha1.LoadBalancerParametersSpec
		// refused is a part of the API server's message; "" means accepted.
		refused string
	}{
		{"every field", full, ""},
		{"given security groups", withAWS(func(a *v1alpha1.AWSParameters) { a.SecurityGroups = []string{"sg-12345678", "sg-0abcdef012345678f"} }), ""},
		{"deregistration delay at its bound", withAWS(func(a *v1alpha1.AWSParameters) { a.DeregistrationDelay = &metav1.Duration{Duration: time.Hour} }), ""},
		{"instance targets (the provider refuses them, the API does not)", withAWS(func(a *v1alpha1.AWSParameters) { a.TargetType = ptr.To("instance") }), ""},

		{"subnet not an id", withAWS(func(a *v1alpha1.AWSParameters) { a.Subnets = []string{"subnet-XYZ12345"} }), "should match '^subnet-"},
		{"subnet by name", withAWS(func(a *v1alpha1.AWSParameters) { a.Subnets = []string{"public-a"} }), "should match '^subnet-"},
		{"security group not an id", withAWS(func(a *v1alpha1.AWSParameters) { a.SecurityGroups = []string{"default"} }), "should match '^sg-"},
		{"six security groups", withAWS(func(a *v1alpha1.AWSParameters) {
			for i := range 6 {
				a.SecurityGroups = append(a.SecurityGroups, fmt.Sprintf("sg-0000000%d", i))
			}
		}), "must have at most 5 items"},
		{"backend group not an id", withAWS(func(a *v1alpha1.AWSParameters) { a.BackendSecurityGroup = ptr.To("sg-nothex!") }), "should match '^sg-"},
		{"source range not a CIDR", withAWS(func(a *v1alpha1.AWSParameters) { a.SourceRanges = []string{"10.0.0.1"} }), "sourceRanges must be CIDRs"},
		{"source range garbage", withAWS(func(a *v1alpha1.AWSParameters) { a.SourceRanges = []string{"0.0.0.0/0", "everyone"} }), "sourceRanges must be CIDRs"},
		{"source ranges with given security groups", withAWS(func(a *v1alpha1.AWSParameters) {
			a.SecurityGroups, a.SourceRanges = []string{"sg-12345678"}, []string{"10.0.0.0/8"}
		}), "securityGroups replaces"},
		{"backend group with given security groups", withAWS(func(a *v1alpha1.AWSParameters) {
			a.SecurityGroups, a.BackendSecurityGroup = []string{"sg-12345678"}, ptr.To("sg-87654321")
		}), "securityGroups replaces"},
		{"ssl policy not an ELB policy", withAWS(func(a *v1alpha1.AWSParameters) { a.SSLPolicy = ptr.To("TLSv1.2") }), "should match '^ELBSecurityPolicy-"},
		{"target type lambda", withAWS(func(a *v1alpha1.AWSParameters) { a.TargetType = ptr.To("lambda") }), `supported values: "ip", "instance"`},
		{"deregistration delay over an hour", withAWS(func(a *v1alpha1.AWSParameters) {
			a.DeregistrationDelay = &metav1.Duration{Duration: time.Hour + time.Second}
		}), "deregistrationDelay must be between 0s and 3600s"},
		{"negative deregistration delay", withAWS(func(a *v1alpha1.AWSParameters) { a.DeregistrationDelay = &metav1.Duration{Duration: -time.Second} }), "deregistrationDelay must be between 0s and 3600s"},
		{"attribute key with capitals", withAWS(func(a *v1alpha1.AWSParameters) { a.Attributes = map[string]string{"Routing.HTTP2.Enabled": "true"} }), "dotted lower-case names"},
		{"attribute key without a dot", withAWS(func(a *v1alpha1.AWSParameters) { a.Attributes = map[string]string{"idle": "60"} }), "dotted lower-case names"},
		{"idle timeout as an attribute", withAWS(func(a *v1alpha1.AWSParameters) {
			a.Attributes = map[string]string{"idle_timeout.timeout_seconds": "60"}
		}), "through their fields"},
		{"deletion protection as an attribute", withAWS(func(a *v1alpha1.AWSParameters) {
			a.Attributes = map[string]string{"deletion_protection.enabled": "true"}
		}), "through their fields"},
		{"access logs as attributes", withAWS(func(a *v1alpha1.AWSParameters) { a.Attributes = map[string]string{"access_logs.s3.bucket": "b"} }), "through their fields"},
		{"deregistration delay as a target group attribute", withAWS(func(a *v1alpha1.AWSParameters) {
			a.TargetGroupAttributes = map[string]string{"deregistration_delay.timeout_seconds": "10"}
		}), "through its field"},
		{"target group attribute key with a space", withAWS(func(a *v1alpha1.AWSParameters) {
			a.TargetGroupAttributes = map[string]string{"stickiness enabled": "true"}
		}), "dotted lower-case names"},
		{"rules quota below AWS's default", withAWS(func(a *v1alpha1.AWSParameters) {
			a.Quotas = &v1alpha1.AWSQuotas{RulesPerLoadBalancer: ptr.To[int32](50)}
		}), "should be greater than or equal to 100"},
		{"certificates quota below AWS's default", withAWS(func(a *v1alpha1.AWSParameters) {
			a.Quotas = &v1alpha1.AWSQuotas{CertificatesPerLoadBalancer: ptr.To[int32](10)}
		}), "should be greater than or equal to 25"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &v1alpha1.LoadBalancerParameters{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("p-%d", i)}, Spec: tc.spec}
			err := c.Create(ctx, p)
			switch {
			case tc.refused == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.refused != "" && err == nil:
				t.Errorf("accepted, want a refusal with %q", tc.refused)
			case tc.refused != "" && !strings.Contains(err.Error(), tc.refused):
				t.Errorf("refused with %v, want %q in the message", err, tc.refused)
			case err != nil:
				t.Logf("refused as expected: %v", err)
			}
		})
	}
}
