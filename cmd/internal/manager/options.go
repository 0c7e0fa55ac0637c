package manager

import (
	"flag"
	"os"
	"time"

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
	// GCPProject and GCPRegion parse so that deployments can already carry
	// them; the gcp provider itself is not implemented yet.
	GCPProject   string
	GCPRegion    string
	MetricsAddr  string
	ProbeAddr    string
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
	fs.StringVar(&o.Providers, "providers", "emulated", "comma-separated providers to enable (emulated, aws)")
	fs.StringVar(&o.EmulatedEndpoint, "emulated-endpoint", "", "URL of a running emulated cloud API; empty starts one in this process")
	fs.StringVar(&o.AddressRange, "emulated-address-range", "127.100.0.0/16", "address range of the in-process emulated cloud")
	fs.StringVar(&o.AWSRegion, "aws-region", "", "AWS region of the aws provider; empty takes the SDK's default chain (AWS_REGION, shared config); the endpoint comes from AWS_ENDPOINT_URL")
	fs.StringVar(&o.AWSVPCID, "aws-vpc-id", "", "VPC of the aws provider's target groups; empty takes the subnets' VPC")
	fs.StringVar(&o.AWSSubnets, "aws-subnets", "", "comma-separated subnets of internet-facing ALBs; empty discovers them by the tag kubernetes.io/role/elb=1")
	fs.StringVar(&o.GCPProject, "gcp-project", "", "GCP project of the gcp provider (the gcp provider is not implemented yet)")
	fs.StringVar(&o.GCPRegion, "gcp-region", "", "GCP region of the gcp provider's regional resources (the gcp provider is not implemented yet)")
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "metrics endpoint address; 0 disables it")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "health probe address; 0 disables it")
	fs.DurationVar(&o.ResyncPeriod, "resync-period", 0, "how often each Gateway's cloud resources are read again to repair drift, jittered by ±25%; 0 means each provider's default (emulated: 10m; aws: 10m up to 92 Gateways, then 6.5s per Gateway, keeping resyncs at 2 ELBv2 Describe calls per second)")
	fs.IntVar(&o.Concurrency, "concurrency", reconciler.DefaultConcurrency, "how many Gateways reconcile at once")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false, "elect a leader so that only one replica reconciles")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", os.Getenv("POD_NAMESPACE"), "namespace of the leader election Lease; default POD_NAMESPACE, and when that is empty controller-runtime's choice (the service account's namespace in a cluster)")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long a standby waits after the last renewal before taking the lease")
	fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second, "how long the leader keeps retrying a renewal before it gives up leadership")
	fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", 2*time.Second, "how long candidates wait between attempts to take or renew the lease")
}
