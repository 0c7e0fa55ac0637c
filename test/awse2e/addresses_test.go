package awse2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// A TCP Gateway naming the account's Elastic IPs (one per subnet) gets an
// NLB on them, and reports them as its addresses; an HTTP Gateway naming
// addresses is an ALB, which cannot take them: AddressNotUsable.
func TestGatewayOnElasticIPs(t *testing.T) {
	ns := namespace(t)
	ctx := ctxFor(t)
	var ips []string
	var addrs []gwv1.GatewaySpecAddress
	for range suite.moto.PublicSubnetIDs {
		a, err := suite.ec2.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
		must(t, err)
		ips = append(ips, awssdk.ToString(a.PublicIp))
		addrs = append(addrs, gwv1.GatewaySpecAddress{Type: new(gwv1.IPAddressType), Value: awssdk.ToString(a.PublicIp)})
	}
	service(t, ns, "db", 5432, "10.0.8.20")
	gw := gateway(ns, "db", listener("pg", gwv1.TCPProtocolType, 5432))
	gw.Spec.Addresses = addrs
	web := gateway(ns, "web", listener("http", gwv1.HTTPProtocolType, 80))
	web.Spec.Addresses = addrs[:1]
	create(t, gw, tcpRoute(ns, "db", "db", "", "db", 5432), web)

	eventually(t, 60*time.Second, func() error {
		g := getGateway(t, ns, "db")
		c := meta.FindStatusCondition(g.Status.Conditions, string(gwv1.GatewayConditionProgrammed))
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != g.Generation {
			return fmt.Errorf("Programmed = %+v", c)
		}
		var got []string
		for _, a := range g.Status.Addresses {
			if a.Type == nil || *a.Type != gwv1.IPAddressType {
				return fmt.Errorf("address %+v is not an IPAddress", a)
			}
			got = append(got, a.Value)
		}
		if !slices.Equal(got, ips) {
			return fmt.Errorf("addresses %v, want %v", got, ips)
		}
		return nil
	})
	eventually(t, 60*time.Second, func() error {
		g := getGateway(t, ns, "web")
		c := meta.FindStatusCondition(g.Status.Conditions, string(gwv1.GatewayConditionProgrammed))
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != string(gwv1.GatewayReasonAddressNotUsable) {
			return fmt.Errorf("Programmed = %+v, want False/AddressNotUsable", c)
		}
		return nil
	})
}
