package manager

import (
	"flag"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, args ...string) Options {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var o Options
	o.Bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestDeploymentFlags checks the flags the Helm chart passes, and the
// defaults it relies on when it passes none.
func TestDeploymentFlags(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "cloudgate-system")
	o := parse(t)
	if o.LeaderElectionNamespace != "cloudgate-system" {
		t.Errorf("leader election namespace = %q, want POD_NAMESPACE's cloudgate-system", o.LeaderElectionNamespace)
	}
	if o.LeaseDuration != 15*time.Second || o.RenewDeadline != 10*time.Second || o.RetryPeriod != 2*time.Second {
		t.Errorf("leader election timings = %s/%s/%s, want 15s/10s/2s", o.LeaseDuration, o.RenewDeadline, o.RetryPeriod)
	}
	if err := o.validate(); err != nil {
		t.Errorf("defaults refused: %v", err)
	}

	o = parse(t, "--gcp-project=p", "--gcp-region=europe-west1", "--leader-elect",
		"--leader-election-namespace=other", "--leader-elect-lease-duration=30s",
		"--leader-elect-renew-deadline=20s", "--leader-elect-retry-period=5s")
	if o.GCPProject != "p" || o.GCPRegion != "europe-west1" || o.LeaderElectionNamespace != "other" ||
		o.LeaseDuration != 30*time.Second || o.RenewDeadline != 20*time.Second || o.RetryPeriod != 5*time.Second {
		t.Errorf("flags parsed into %+v", o)
	}
	if err := o.validate(); err != nil {
		t.Errorf("valid timings refused: %v", err)
	}

	t.Setenv("POD_NAMESPACE", "")
	if o := parse(t); o.LeaderElectionNamespace != "" {
		t.Errorf("out of cluster the namespace is %q, want empty (controller-runtime's choice)", o.LeaderElectionNamespace)
	}
}

func TestLeaderElectionTimingsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"--leader-elect-lease-duration=10s"},
		{"--leader-elect-renew-deadline=2s"},
		{"--leader-elect-retry-period=0s"},
	} {
		o := parse(t, append([]string{"--leader-elect"}, args...)...)
		err := o.validate()
		if err == nil || !strings.Contains(err.Error(), "--leader-elect-") {
			t.Errorf("%v: error %v, want one that names the flags", args, err)
		}
		// Without leader election the timings are unused and never refused.
		o.LeaderElect = false
		if err := o.validate(); err != nil {
			t.Errorf("%v without --leader-elect: %v", args, err)
		}
	}
}
