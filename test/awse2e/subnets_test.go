package awse2e

import (
	"fmt"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// A public subnet tagged for the cluster after the load balancer exists is
// taken (SetSubnets) once the controller discovers subnets again, at its
// next start. This test changes the shared VPC, so it runs last (its file
// name sorts last).
func TestNewSubnetsAreTaken(t *testing.T) {
	ns := namespace(t)
	service(t, ns, "app", 8080, "10.0.6.10")
	create(t, gateway(ns, "gw", listener("http", gwv1.HTTPProtocolType, 80)),
		route(ns, "r", "gw", nil, rule(prefix("/"), backendRef("app", 8080, 1))))
	programmed(t, ns, "gw")
	uid := string(getGateway(t, ns, "gw").UID)
	if n := len(cloudOf(t, uid).LBs[0].AvailabilityZones); n != 2 {
		t.Fatalf("load balancer in %d zones, want 2", n)
	}

	zones, err := suite.ec2.DescribeAvailabilityZones(ctxFor(t), &ec2.DescribeAvailabilityZonesInput{})
	must(t, err)
	var zone string
	for _, z := range zones.AvailabilityZones {
		if name := awssdk.ToString(z.ZoneName); name != suite.moto.Zones[0] && name != suite.moto.Zones[1] {
			zone = name
			break
		}
	}
	if zone == "" {
		t.Fatalf("moto's region has no third zone: %v", zones.AvailabilityZones)
	}
	sub, err := suite.ec2.CreateSubnet(ctxFor(t), &ec2.CreateSubnetInput{VpcId: awssdk.String(suite.moto.VPCID), AvailabilityZone: &zone,
		CidrBlock: awssdk.String("10.0.96.0/19"), TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSubnet,
			Tags: []ec2types.Tag{{Key: awssdk.String("kubernetes.io/role/elb"), Value: awssdk.String("1")},
				{Key: awssdk.String("kubernetes.io/cluster/" + clusterName), Value: awssdk.String("shared")}}}}})
	must(t, err)
	subnet := awssdk.ToString(sub.Subnet.SubnetId)

	must(t, suite.ctl.Restart(suite.ctx, suite.harness))
	eventually(t, 30*time.Second, func() error {
		lb := cloudOf(t, uid).LBs[0]
		for _, az := range lb.AvailabilityZones {
			if awssdk.ToString(az.SubnetId) == subnet {
				return nil
			}
		}
		return fmt.Errorf("load balancer in %d zones, without the new subnet %s", len(lb.AvailabilityZones), subnet)
	})
	must(t, suite.c.Delete(ctxFor(t), getGateway(t, ns, "gw")))
	eventually(t, 60*time.Second, func() error { return leftovers(t, uid) })
}
