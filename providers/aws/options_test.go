package aws

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

func TestOptionsNotAppliedAreRefused(t *testing.T) {
	for _, c := range []struct {
		o    lb.Options
		name string
	}{
		{lb.Options{Addresses: []string{"10.0.0.1"}}, "static addresses"},
		{lb.Options{AWS: &lb.AWSOptions{TargetType: "instance"}}, "aws.targetType instance"},
	} {
		var inv *providers.InvalidError
		if err := unappliedOptions(c.o); !errors.As(err, &inv) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("options %+v: got %v, want an InvalidError naming %s", c.o, err, c.name)
		}
	}
	applied := lb.Options{Scheme: lb.SchemeInternal, IPAddressType: "dualstack", IdleTimeout: time.Minute, DeletionProtection: true,
		AccessLogs: &lb.AccessLogs{Bucket: "b"}, AWS: &lb.AWSOptions{TargetType: "ip", SSLPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
			Attributes: map[string]string{"routing.http2.enabled": "false"}}}
	if err := unappliedOptions(applied); err != nil {
		t.Errorf("applied options are refused: %v", err)
	}
}
