"""Creates the network the AWS provider's tests expect, through the EC2 API.

A VPC (10.0.0.0/16) with DNS support, an internet gateway, and, in each of
the region's first two availability zones, a public subnet (routed to the
internet gateway, tagged kubernetes.io/role/elb=1) and a private subnet
(tagged kubernetes.io/role/internal-elb=1). The VPC and every subnet carry
kubernetes.io/cluster/<cluster>=shared: these are the tags that EKS and the
AWS Load Balancer Controller use for subnet discovery.

Usage: python3 bootstrap.py --endpoint URL --region REGION --cluster NAME
Prints the ids as environment lines (KEY=VALUE): CLOUDGATE_AWS_VPC_ID,
CLOUDGATE_AWS_PUBLIC_SUBNET_IDS, CLOUDGATE_AWS_PRIVATE_SUBNET_IDS (comma
separated, in zone order) and CLOUDGATE_AWS_AVAILABILITY_ZONES.
Waits (up to --timeout seconds) until the endpoint answers EC2 calls.
"""

from __future__ import annotations

import argparse
import sys
import time


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--region", required=True)
    p.add_argument("--cluster", required=True)
    p.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()

    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        sys.stderr.write(
            "bootstrap: boto3 is missing for "
            f"{sys.executable}; install it with: {sys.executable} -m pip install boto3\n"
        )
        return 2

    ec2 = boto3.client(
        "ec2",
        endpoint_url=args.endpoint,
        region_name=args.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=30),
    )

    # Wait until the API answers (LocalStack takes a while to start EC2).
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            zones = ec2.describe_availability_zones(
                Filters=[{"Name": "state", "Values": ["available"]}]
            )["AvailabilityZones"]
            break
        except (BotoCoreError, ClientError) as e:
            if time.monotonic() > deadline:
                sys.stderr.write(f"bootstrap: {args.endpoint} does not answer EC2 calls: {e}\n")
                return 1
            time.sleep(0.2)

    names = sorted(z["ZoneName"] for z in zones)[:2]
    if len(names) < 2:
        sys.stderr.write(f"bootstrap: region {args.region} has fewer than two zones: {names}\n")
        return 1

    cluster_tag = {"Key": f"kubernetes.io/cluster/{args.cluster}", "Value": "shared"}

    def tags(kind: str, name: str, *extra: dict) -> list:
        return [
            {
                "ResourceType": kind,
                "Tags": [{"Key": "Name", "Value": name}, cluster_tag, *extra],
            }
        ]

    vpc = ec2.create_vpc(
        CidrBlock="10.0.0.0/16",
        TagSpecifications=tags("vpc", f"cloudgate-{args.cluster}"),
    )["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})

    igw = ec2.create_internet_gateway(
        TagSpecifications=tags("internet-gateway", f"cloudgate-{args.cluster}")
    )["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public_rt = ec2.create_route_table(
        VpcId=vpc,
        TagSpecifications=tags("route-table", f"cloudgate-{args.cluster}-public"),
    )["RouteTable"]["RouteTableId"]
    ec2.create_route(
        RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw
    )

    public, private = [], []
    for i, zone in enumerate(names):
        sid = ec2.create_subnet(
            VpcId=vpc,
            AvailabilityZone=zone,
            CidrBlock=f"10.0.{32 * i}.0/19",
            TagSpecifications=tags(
                "subnet",
                f"cloudgate-{args.cluster}-public-{zone}",
                {"Key": "kubernetes.io/role/elb", "Value": "1"},
            ),
        )["Subnet"]["SubnetId"]
        ec2.modify_subnet_attribute(SubnetId=sid, MapPublicIpOnLaunch={"Value": True})
        ec2.associate_route_table(RouteTableId=public_rt, SubnetId=sid)
        public.append(sid)
    for i, zone in enumerate(names):
        sid = ec2.create_subnet(
            VpcId=vpc,
            AvailabilityZone=zone,
            CidrBlock=f"10.0.{128 + 32 * i}.0/19",
            TagSpecifications=tags(
                "subnet",
                f"cloudgate-{args.cluster}-private-{zone}",
                {"Key": "kubernetes.io/role/internal-elb", "Value": "1"},
            ),
        )["Subnet"]["SubnetId"]
        private.append(sid)

    sys.stdout.write(
        f"CLOUDGATE_AWS_VPC_ID={vpc}\n"
        f"CLOUDGATE_AWS_PUBLIC_SUBNET_IDS={','.join(public)}\n"
        f"CLOUDGATE_AWS_PRIVATE_SUBNET_IDS={','.join(private)}\n"
        f"CLOUDGATE_AWS_AVAILABILITY_ZONES={','.join(names)}\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
