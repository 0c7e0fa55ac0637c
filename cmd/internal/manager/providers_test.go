package manager

import (
	"strings"
	"testing"

	"github.com/cloudgate-dev/cloudgate/providers/aws"
	"github.com/cloudgate-dev/cloudgate/providers/gcp"
)

// TestStartAWSProvider checks the --providers=aws wiring; it makes no AWS
// call (the provider reads nothing until a Gateway needs it).
func TestStartAWSProvider(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	provs, closeAll, err := startProviders(t.Context(), Options{Providers: "aws", ClusterName: "c", AWSSubnets: "subnet-a, subnet-b"})
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	if len(provs) != 1 || provs[0].ControllerName() != aws.ControllerName {
		t.Fatalf("providers = %v, want the aws provider", provs)
	}
}

// TestStartGCPProvider checks the --providers=gcp wiring: the project and
// region are required, and it makes no call when it starts.
func TestStartGCPProvider(t *testing.T) {
	if _, _, err := startProviders(t.Context(), Options{Providers: "gcp"}); err == nil || !strings.Contains(err.Error(), "--gcp-project") {
		t.Errorf("--providers=gcp without a project: error %v, want one naming --gcp-project", err)
	}
	provs, closeAll, err := startProviders(t.Context(), Options{Providers: "gcp", GCPProject: "p", GCPRegion: "europe-west1",
		GCPEndpoint: "http://127.0.0.1:9", GCPWithoutAuthentication: true})
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	if len(provs) != 1 || provs[0].ControllerName() != gcp.ControllerName {
		t.Fatalf("providers = %v, want the gcp provider", provs)
	}
}
