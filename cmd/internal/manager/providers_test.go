package manager

import (
	"testing"

	"github.com/cloudgate-dev/cloudgate/providers/aws"
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
	if _, _, err := startProviders(t.Context(), Options{Providers: "gcp"}); err == nil {
		t.Error("--providers=gcp started, want an error")
	}
}
