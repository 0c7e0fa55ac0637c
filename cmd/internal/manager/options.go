package manager

import (
	"flag"
	"os"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cloudgate-dev/cloudgate/reconciler"
)

// Options are the controller's settings. Bind registers them as flags; the
// zero value is not useful on its own.
type Options struct {
	ClusterName      string
	Providers        string
	EmulatedEndpoint string
	AddressRange     string
	AWSRegion        string
	AWSVPCID         string
	AWSSubnets       string
	// AWSConfig, when not nil, is the aws provider's SDK configuration in
	// place of the default chain's (which --aws-region and the AWS_*
	// environment steer), for a program that runs the controller with a
	// configuration of its own (cloudgate-dev's, for its local AWS
	// double). No flag sets it. Adaptive retries and the call counter are
	// added to a copy of it as to the default chain's.
	AWSConfig *awssdk.Config
	// The gcp provider's location and endpoint (Config of providers/gcp).
	GCPProject               string
	GCPRegion                string
	GCPZone                  string
	GCPNetwork               string
	GCPSubnetwork            string
	GCPEndpoint              string
	GCPWithoutAuthentication bool
	MetricsAddr              string
	ProbeAddr                string
	// PprofAddr serves net/http/pprof (heap profiles of a controller
	// under load); empty, the default, serves nothing.
	PprofAddr    string
	ResyncPeriod time.Duration
	Concurrency  int

	LeaderElect bool
	// LeaderElectionNamespace empty lets controller-runtime pick the
	// namespace (the service account's, in a cluster).
	LeaderElectionNamespace string
	LeaseDuration           time.Duration
	RenewDeadline           time.Duration
	RetryPeriod             time.Duration
}

// Bind registers the options as flags of fs, with their defaults.
func (o *Options) Bind(fs *flag.FlagSet) {
	fs.StringVar(&o.ClusterName, "cluster-name", "default", "name of this cluster in cloud ownership tags; must be unique per cloud account")
	fs.StringVar(&o.Providers, "providers", "emulated", "comma-separated providers to enable (emulated, aws, gcp)")
	fs.StringVar(&o.EmulatedEndpoint, "emulated-endpoint", "", "URL of a running emulated cloud API; empty starts one in this process")
	fs.StringVar(&o.AddressRange, "emulated-address-range", "127.100.0.0/16", "address range of the in-process emulated cloud")
	fs.StringVar(&o.AWSRegion, "aws-region", "", "AWS region of the aws provider; empty takes the SDK's default chain (AWS_REGION, shared config); the endpoint comes from AWS_ENDPOINT_URL")
	fs.StringVar(&o.AWSVPCID, "aws-vpc-id", "", "VPC of the aws provider's target groups; empty takes the subnets' VPC")
	fs.StringVar(&o.AWSSubnets, "aws-subnets", "", "comma-separated subnets of internet-facing ALBs; empty discovers them by the tag kubernetes.io/role/elb=1")
	fs.StringVar(&o.GCPProject, "gcp-project", "", "GCP project of the gcp provider (required with it)")
	fs.StringVar(&o.GCPRegion, "gcp-region", "", "GCP region of the gcp provider's regional load balancers (required with it)")
	fs.StringVar(&o.GCPZone, "gcp-zone", "", "zone of the network endpoint groups of endpoints whose EndpointSlice reports no zone; empty means <region>-b")
	fs.StringVar(&o.GCPNetwork, "gcp-network", "default", "VPC network of the gcp provider's load balancers and endpoints (a name or a projects/P/global/networks/N path)")
	fs.StringVar(&o.GCPSubnetwork, "gcp-subnetwork", "", "subnetwork of internal addresses and endpoints (a name in the region or a path); empty leaves it to GCP")
	fs.StringVar(&o.GCPEndpoint, "gcp-endpoint", "", "Compute Engine API root; empty is https://compute.googleapis.com (set it to a `cloudgate gcp-double` URL to try the provider without a project)")
	fs.BoolVar(&o.GCPWithoutAuthentication, "gcp-without-authentication", false, "send no credentials to the Compute Engine API (only for the GCP double); otherwise Application Default Credentials (GKE Workload Identity)")
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "metrics endpoint address; 0 disables it")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "health probe address; 0 disables it")
	fs.StringVar(&o.PprofAddr, "pprof-bind-address", "", "address of the net/http/pprof endpoint (go tool pprof http://ADDR/debug/pprof/heap); empty disables it")
	fs.DurationVar(&o.ResyncPeriod, "resync-period", 0, "how often each Gateway's cloud resources are read again to repair drift, jittered by ±25%; 0 means each provider's default (emulated: 10m; aws: 10m up to 92 Gateways, then 6.5s per Gateway, keeping resyncs at 2 ELBv2 Describe calls per second)")
	fs.IntVar(&o.Concurrency, "concurrency", reconciler.DefaultConcurrency, "how many Gateways reconcile at once")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false, "elect a leader so that only one replica reconciles")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", os.Getenv("POD_NAMESPACE"), "namespace of the leader election Lease; default POD_NAMESPACE, and when that is empty controller-runtime's choice (the service account's namespace in a cluster)")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long a standby waits after the last renewal before taking the lease")
	fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second, "how long the leader keeps retrying a renewal before it gives up leadership")
	fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", 2*time.Second, "how long candidates wait between attempts to take or renew the lease")
}
