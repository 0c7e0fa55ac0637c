package localstack

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
)

// TestCreatesAreIdempotent checks what a client retrying a create whose
// answer was lost relies on: AWS's creates of load balancers, target groups
// and listeners return the existing resource for the same settings, and
// refuse other settings under the same name (or port).
func TestCreatesAreIdempotent(t *testing.T) {
	e := motoEnv(t)
	if !e.HasExtension(ExtIdempotentCreates) {
		t.Fatalf("extensions %v lack %s", e.Extensions, ExtIdempotentCreates)
	}
	_, elb := clients(t, e)
	ctx := context.Background()
	code := func(err error) string {
		var api smithy.APIError
		if errors.As(err, &api) {
			return api.ErrorCode()
		}
		return ""
	}

	createLB := func(scheme types.LoadBalancerSchemeEnum) (*elbv2.CreateLoadBalancerOutput, error) {
		return elb.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("idempotent"), Scheme: scheme,
			Type: types.LoadBalancerTypeEnumApplication, Subnets: e.PublicSubnetIDs})
	}
	first, err := createLB(types.LoadBalancerSchemeEnumInternetFacing)
	if err != nil {
		t.Fatal(err)
	}
	lbARN := first.LoadBalancers[0].LoadBalancerArn
	t.Cleanup(func() { _, _ = elb.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: lbARN}) })
	again, err := createLB(types.LoadBalancerSchemeEnumInternetFacing)
	if err != nil || *again.LoadBalancers[0].LoadBalancerArn != *lbARN {
		t.Errorf("CreateLoadBalancer again: %v, %v; want the first one, %s", again, err, *lbARN)
	}
	if _, err := createLB(types.LoadBalancerSchemeEnumInternal); code(err) != "DuplicateLoadBalancerName" {
		t.Errorf("CreateLoadBalancer with another scheme: %v, want DuplicateLoadBalancerName", err)
	}
	lbs, err := elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"idempotent"}})
	if err != nil || len(lbs.LoadBalancers) != 1 {
		t.Errorf("load balancers named idempotent: %v, %v; want one", lbs, err)
	}

	createTG := func(port int32) (*elbv2.CreateTargetGroupOutput, error) {
		return elb.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("idempotent"), Protocol: types.ProtocolEnumHttp,
			Port: aws.Int32(port), VpcId: aws.String(e.VPCID), TargetType: types.TargetTypeEnumIp})
	}
	tg, err := createTG(80)
	if err != nil {
		t.Fatal(err)
	}
	tgARN := tg.TargetGroups[0].TargetGroupArn
	t.Cleanup(func() { _, _ = elb.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: tgARN}) })
	if again, err := createTG(80); err != nil || *again.TargetGroups[0].TargetGroupArn != *tgARN {
		t.Errorf("CreateTargetGroup again: %v, %v; want the first one, %s", again, err, *tgARN)
	}
	if _, err := createTG(81); code(err) != "DuplicateTargetGroupName" {
		t.Errorf("CreateTargetGroup with another port: %v, want DuplicateTargetGroupName", err)
	}

	createListener := func(proto types.ProtocolEnum) (*elbv2.CreateListenerOutput, error) {
		return elb.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lbARN, Port: aws.Int32(80), Protocol: proto,
			DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tgARN}}})
	}
	l, err := createListener(types.ProtocolEnumHttp)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := createListener(types.ProtocolEnumHttp); err != nil || *again.Listeners[0].ListenerArn != *l.Listeners[0].ListenerArn {
		t.Errorf("CreateListener again: %v, %v; want the first one, %s", again, err, *l.Listeners[0].ListenerArn)
	}
	if _, err := createListener(types.ProtocolEnumHttps); code(err) != "DuplicateListener" {
		t.Errorf("CreateListener on the same port with another protocol: %v, want DuplicateListener", err)
	}
	ls, err := elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: lbARN})
	if err != nil || len(ls.Listeners) != 1 {
		t.Errorf("listeners: %v, %v; want one", ls, err)
	}
}

// TestACMRefusesDeletingCertificatesInUse: ACM refuses to delete a
// certificate a listener serves, as default or SNI certificate, and
// deletes it once no listener does.
func TestACMRefusesDeletingCertificatesInUse(t *testing.T) {
	e := motoEnv(t)
	if !e.HasExtension(ExtACMDeleteInUse) {
		t.Fatalf("extensions %v lack %s", e.Extensions, ExtACMDeleteInUse)
	}
	ctx := context.Background()
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cm := acm.NewFromConfig(cfg)
	_, elb := clients(t, e)
	imp := func() *string {
		certPEM, keyPEM := selfSigned(t)
		out, err := cm.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: certPEM, PrivateKey: keyPEM})
		if err != nil {
			t.Fatal(err)
		}
		return out.CertificateArn
	}
	def, sni := imp(), imp()
	lbOut, err := elb.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("certs-in-use"),
		Type: types.LoadBalancerTypeEnumApplication, Subnets: e.PublicSubnetIDs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = elb.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: lbOut.LoadBalancers[0].LoadBalancerArn})
	})
	l, err := elb.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lbOut.LoadBalancers[0].LoadBalancerArn,
		Port: aws.Int32(443), Protocol: types.ProtocolEnumHttps, Certificates: []types.Certificate{{CertificateArn: def}},
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumFixedResponse,
			FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("404")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := elb.AddListenerCertificates(ctx, &elbv2.AddListenerCertificatesInput{ListenerArn: l.Listeners[0].ListenerArn,
		Certificates: []types.Certificate{{CertificateArn: sni}}}); err != nil {
		t.Fatal(err)
	}
	for _, arn := range []*string{def, sni} {
		_, err := cm.DeleteCertificate(ctx, &acm.DeleteCertificateInput{CertificateArn: arn})
		if code := apiCode(t, err); code != "ResourceInUseException" {
			t.Errorf("deleting %s, served by a listener: %v, want ResourceInUseException", *arn, err)
		}
	}
	if _, err := elb.DeleteListener(ctx, &elbv2.DeleteListenerInput{ListenerArn: l.Listeners[0].ListenerArn}); err != nil {
		t.Fatal(err)
	}
	for _, arn := range []*string{def, sni} {
		if _, err := cm.DeleteCertificate(ctx, &acm.DeleteCertificateInput{CertificateArn: arn}); err != nil {
			t.Errorf("deleting %s, served by no listener: %v", *arn, err)
		}
	}
}
