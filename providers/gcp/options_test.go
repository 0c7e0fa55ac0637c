package gcp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

func TestCheckOptions(t *testing.T) {
	loc := location{Project: "p", Region: "europe-west1"}
	for _, c := range []struct {
		name string
		opts lb.Options
		want string // "" for accepted
	}{
		{"defaults", lb.Options{}, ""},
		{"the controller's region", lb.Options{GCP: &lb.GCPOptions{Region: "europe-west1"}}, ""},
		{"another region", lb.Options{GCP: &lb.GCPOptions{Region: "us-east1"}}, `gcp.region "us-east1"`},
		{"dualstack", lb.Options{IPAddressType: "dualstack"}, "ipAddressType"},
		{"idle timeout", lb.Options{IdleTimeout: time.Minute}, "idleTimeout"},
		{"deletion protection", lb.Options{DeletionProtection: true}, "deletionProtection"},
		{"access logs", lb.Options{AccessLogs: &lb.AccessLogs{Bucket: "b"}}, "accessLogs"},
		{"internal without a subnet", lb.Options{Scheme: lb.SchemeInternal}, "subnetwork"},
	} {
		err := checkOptions(c.opts, loc)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (!errors.Is(err, providers.ErrInvalid) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want a refusal naming %s", c.name, err, c.want)
		}
	}
}
