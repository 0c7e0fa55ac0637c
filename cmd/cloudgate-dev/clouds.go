package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudgate-dev/cloudgate/cmd/internal/manager"
	"github.com/cloudgate-dev/cloudgate/localstack"
	"github.com/cloudgate-dev/cloudgate/localstack/albplane"
	"github.com/cloudgate-dev/cloudgate/providers/aws"
	"github.com/cloudgate-dev/cloudgate/providers/emulated"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
	"github.com/cloudgate-dev/cloudgate/providers/gcp"
	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest/urlmapplane"
)

// localCloud is what a dev run starts for its provider before the
// controller: the cloud's API (or its double) and, for aws and gcp, the
// data plane that serves what the provider writes there.
type localCloud struct {
	// controllerName is what the sample's GatewayClasses are given.
	controllerName string
	// connect maps a load balancer's address ("host:port", as the
	// Gateway reports it) to the local address that serves it; nil, or
	// ok false, means the address is dialled as it is.
	connect func(hostport string) (local string, ok bool)
	// describeEnv and describeFlags make `kubectl cloudgate describe`
	// read this cloud.
	describeEnv, describeFlags string
	// close stops what was started, in reverse order.
	closers []func()
}

func (c *localCloud) close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
}

// dial reaches the cloud's load balancers as a client on this machine
// would with the printed curl: through connect's mapping.
func (c *localCloud) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if c.connect != nil {
		if local, ok := c.connect(addr); ok {
			addr = local
		}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// curlArgs are the curl options that reach hostport the way dial does.
func (c *localCloud) curlArgs(hostport string) []string {
	if c.connect == nil {
		return nil
	}
	local, ok := c.connect(hostport)
	if !ok || local == hostport {
		return nil
	}
	// --connect-to keeps the URL, and so the Host header and the rules
	// that match it, while the connection goes to the plane.
	return []string{"--connect-to", hostport + ":" + local}
}

// cloudFlags are the dev binary's own settings of the local clouds.
type cloudFlags struct {
	gcpAddressRange string
	verbose         bool
}

// startCloud starts the local cloud of provider and points o at it. The
// cloud outlives ctx (the interrupt), as the controller does, so that the
// controller can still delete the sample's load balancer on the way out;
// the caller closes it after the controller has stopped.
func startCloud(ctx context.Context, provider string, o *manager.Options, f cloudFlags) (*localCloud, error) {
	o.Providers = provider
	keep := context.WithoutCancel(ctx)
	switch provider {
	case "emulated":
		return startEmulated(keep, o)
	case "aws":
		return startAWS(ctx, keep, o, f)
	case "gcp":
		return startGCP(keep, o, f)
	}
	return nil, fmt.Errorf("--provider %q: want emulated, aws or gcp", provider)
}

func startEmulated(ctx context.Context, o *manager.Options) (*localCloud, error) {
	c := &localCloud{controllerName: emulated.ControllerName}
	if o.EmulatedEndpoint == "" {
		// The emulated cloud runs here, but at an address of its own
		// that `cloudgate describe` can be pointed at, as it would be at
		// the cloud of a deployed controller.
		prefix, err := netip.ParsePrefix(o.AddressRange)
		if err != nil {
			return nil, fmt.Errorf("--emulated-address-range: %w", err)
		}
		srv, err := cloud.Start(ctx, cloud.Config{AddressRange: prefix}, "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("starting the emulated cloud: %w", err)
		}
		c.closers = append(c.closers, func() { _ = srv.Close() })
		o.EmulatedEndpoint = srv.URL()
	}
	c.describeFlags = fmt.Sprintf("--emulated-endpoint %s --cluster-name %s", o.EmulatedEndpoint, o.ClusterName)
	return c, nil
}

// startAWS starts moto (with Cloudgate's ELBv2 extensions and a VPC whose
// subnets carry EKS's role tags) and albplane, which serves the ALBs the
// provider writes there with ALB's semantics. start is the interrupt's
// context: moto's start is the slow part, and Ctrl-C may end it.
func startAWS(start, keep context.Context, o *manager.Options, f cloudFlags) (*localCloud, error) {
	step("Starting moto (the AWS API double) and the ALB data plane (albplane)")
	env, err := localstack.StartContext(start, localstack.Options{Engine: localstack.EngineMoto, Cluster: o.ClusterName, Region: o.AWSRegion})
	if err != nil {
		return nil, fmt.Errorf("starting moto: %w", err)
	}
	c := &localCloud{controllerName: aws.ControllerName}
	c.closers = append(c.closers, func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "cloudgate-dev: stopping moto:", err)
		}
	})
	cfg, err := env.AWSConfig(keep)
	if err != nil {
		c.close()
		return nil, err
	}
	logf := func(string, ...any) {}
	if f.verbose {
		logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	}
	plane, err := albplane.New(albplane.Config{AWS: cfg, PollInterval: 200 * time.Millisecond, Logf: logf})
	if err != nil {
		c.close()
		return nil, err
	}
	c.closers = append(c.closers, func() { _ = plane.Close() })
	if err := plane.Start(keep); err != nil {
		c.close()
		return nil, fmt.Errorf("starting the ALB data plane: %w", err)
	}
	// The ALB's DNS name resolves nowhere: the plane serves it on a
	// loopback address of its own.
	c.connect = connectVia(plane.Addr)
	// ACM never hands back an imported key: the plane learns the keys of
	// HTTPS listeners from the provider's own import calls.
	provCfg := cfg.Copy()
	provCfg.APIOptions = append(provCfg.APIOptions, plane.RecordImports)
	o.AWSConfig = &provCfg
	if o.AWSVPCID == "" {
		o.AWSVPCID = env.VPCID
	}
	c.describeEnv = fmt.Sprintf("AWS_ENDPOINT_URL=%s AWS_REGION=%s AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s",
		env.Endpoint, env.Region, env.AccessKeyID, env.SecretAccessKey)
	c.describeFlags = fmt.Sprintf("--providers aws --cluster-name %s --aws-vpc-id %s", o.ClusterName, o.AWSVPCID)
	return c, nil
}

// startGCP starts Cloudgate's double of the Compute Engine API and
// urlmapplane, which serves the regional external Application Load
// Balancers the provider writes there with the URL map's semantics, each
// forwarding rule on its own address: the double hands out external
// addresses from a loopback range.
func startGCP(ctx context.Context, o *manager.Options, f cloudFlags) (*localCloud, error) {
	step("Starting the GCP compute API double and the URL-map data plane (urlmapplane)")
	external, err := netip.ParsePrefix(f.gcpAddressRange)
	if err != nil {
		return nil, fmt.Errorf("--gcp-address-range: %w", err)
	}
	if !external.Addr().Is4() || !external.Addr().IsLoopback() {
		return nil, fmt.Errorf("--gcp-address-range %s: want an IPv4 range in 127.0.0.0/8, where the data plane listens", external)
	}
	if o.GCPProject == "" {
		o.GCPProject = "cloudgate-dev"
	}
	if o.GCPRegion == "" {
		o.GCPRegion = "us-central1"
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	srv, err := gcptest.Start(ctx, gcptest.Config{Project: o.GCPProject, Region: o.GCPRegion,
		Subnetworks: []*computepb.Subnetwork{gcptest.ProxyOnlySubnet()}, ExternalAddresses: external, Logger: logger}, "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the GCP double: %w", err)
	}
	c := &localCloud{controllerName: gcp.ControllerName}
	c.closers = append(c.closers, func() { _ = srv.Close() })
	// The API never returns an SSL certificate's key: the plane learns
	// them from the uploads the double receives.
	keys := urlmapplane.NewKeyring()
	c.closers = append(c.closers, keys.Watch(srv.Double()))
	plane, err := urlmapplane.New(urlmapplane.Config{Endpoint: srv.URL(), Project: o.GCPProject, Region: o.GCPRegion,
		Keys: keys, Logger: logger})
	if err != nil {
		c.close()
		return nil, err
	}
	c.closers = append(c.closers, func() { _ = plane.Close() })
	if err := plane.Start(ctx); err != nil {
		c.close()
		return nil, fmt.Errorf("starting the URL-map data plane: %w", err)
	}
	// Forwarding rules in the loopback range are served on their own
	// address; Addr maps the others (none here) all the same.
	c.connect = connectVia(plane.Addr)
	o.GCPEndpoint = srv.URL()
	o.GCPWithoutAuthentication = true
	c.describeFlags = strings.Join([]string{"--providers gcp --cluster-name", o.ClusterName,
		"--gcp-project", o.GCPProject, "--gcp-region", o.GCPRegion, "--gcp-endpoint", o.GCPEndpoint, "--gcp-without-authentication"}, " ")
	return c, nil
}

// connectVia turns a plane's Addr (a cloud address and port to the local
// address serving it) into the host:port form curl's --connect-to takes.
func connectVia(addr func(host string, port int) (string, bool)) func(hostport string) (string, bool) {
	return func(hostport string) (string, bool) {
		host, port, err := net.SplitHostPort(hostport)
		if err != nil {
			return "", false
		}
		n, err := strconv.Atoi(port)
		if err != nil {
			return "", false
		}
		return addr(host, n)
	}
}
