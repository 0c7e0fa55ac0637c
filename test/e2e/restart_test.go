package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// A restarted controller finds what the cloud holds with one paged list for
// the whole cluster, not a read per Gateway, and writes nothing when nothing
// changed. CLOUDGATE_RESTART_GATEWAYS sets the number of Gateways (default
// 200).
func TestRestartReadsTheCloudInBulk(t *testing.T) {
	n := 200
	if v, err := strconv.Atoi(os.Getenv("CLOUDGATE_RESTART_GATEWAYS")); err == nil && v > 0 {
		n = v
	}
	ns := namespace(t)
	backend(t, ns, "app")
	for i := range n {
		name := fmt.Sprintf("gw-%03d", i)
		create(t, gateway(ns, name, httpListener("http", 80)),
			route(ns, name, name, nil, rule(pathMatch(gwv1.PathMatchPathPrefix, "/"), backendRef("app", 1))))
	}
	eventually(t, 3*time.Minute, func() error {
		var list gwv1.GatewayList
		must(t, suite.c.List(ctxFor(t), &list, client.InNamespace(ns)))
		programmed := 0
		for _, gw := range list.Items {
			if c := meta.FindStatusCondition(gw.Status.Conditions, "Programmed"); c != nil && c.Status == metav1.ConditionTrue {
				programmed++
			}
		}
		if programmed != n {
			return fmt.Errorf("%d of %d Gateways programmed", programmed, n)
		}
		return nil
	})

	// A long resync, so that only the restart itself reads the cloud.
	measured := suite.harness
	measured.ResyncPeriod = time.Hour
	c := suite.cloud.Cloud()
	before, ensures := c.Stats(), suite.ctl.Ensures()
	start := time.Now()
	must(t, suite.ctl.Restart(context.Background(), measured))
	defer func() { must(t, suite.ctl.Restart(context.Background(), suite.harness)) }()
	eventually(t, time.Minute, func() error {
		if got := suite.ctl.Ensures() - ensures; got < int64(n) {
			return fmt.Errorf("%d of %d Gateways reconciled after the restart", got, n)
		}
		return nil
	})
	took := time.Since(start)
	time.Sleep(time.Second) // anything still in flight lands in the counts
	after := c.Stats()
	reads, writes := after.Reads()-before.Reads(), after.Writes()-before.Writes()
	t.Logf("restart with %d Gateways: every Gateway reconciled in %s, %d cloud reads, %d cloud writes", n, took.Round(time.Millisecond), reads, writes)
	if writes != 0 {
		t.Errorf("the restart wrote to the cloud %d times; nothing had changed", writes)
	}
	if limit := int64((n+99)/100 + 1); reads > limit {
		t.Errorf("the restart read the cloud %d times; want at most %d (one paged list)", reads, limit)
	}
	expectBackend(t, "GET", "http://"+programmedAddress(t, ns, "gw-000")+"/", "", nil, "app")
}
