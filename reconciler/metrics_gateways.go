package reconciler

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

var gatewaysDesc = prometheus.NewDesc("cloudgate_gateways",
	"Gateways this controller manages (class of an enabled provider, or class missing and our finalizer still on), "+
		"by the status of their Programmed condition as written (Unknown when there is none).",
	[]string{"programmed"}, nil)

// gatewayCollector computes cloudgate_gateways from the cache at each
// scrape, instead of keeping a gauge up to date: counting what is there
// stays right across creates, deletes, class changes and restarts, where a
// gauge moved by reconciles would drift the first time one is missed.
type gatewayCollector struct {
	reader client.Reader
	ours   map[gwv1.GatewayController]bool
	// timeout bounds one scrape's cache reads (which wait for the cache
	// to sync after a start).
	timeout time.Duration
}

func (c gatewayCollector) Describe(ch chan<- *prometheus.Desc) { ch <- gatewaysDesc }

func (c gatewayCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	counts, err := c.count(ctx)
	if err != nil {
		// Nothing rather than a wrong figure, and the rest of the
		// scrape still answers.
		log.Log.Error(err, "Counting Gateways for metrics")
		return
	}
	for _, s := range []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown} {
		ch <- prometheus.MustNewConstMetric(gatewaysDesc, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
}

func (c gatewayCollector) count(ctx context.Context) (map[metav1.ConditionStatus]int, error) {
	var classes gwv1.GatewayClassList
	if err := c.reader.List(ctx, &classes); err != nil {
		return nil, err
	}
	var gateways gwv1.GatewayList
	if err := c.reader.List(ctx, &gateways); err != nil {
		return nil, err
	}
	controllerOf := make(map[string]gwv1.GatewayController, len(classes.Items))
	for _, gc := range classes.Items {
		controllerOf[gc.Name] = gc.Spec.ControllerName
	}
	counts := map[metav1.ConditionStatus]int{}
	for i := range gateways.Items {
		gw := &gateways.Items[i]
		ctl, exists := controllerOf[string(gw.Spec.GatewayClassName)]
		if exists && !c.ours[ctl] || !exists && !controllerutil.ContainsFinalizer(gw, Finalizer) {
			continue
		}
		status := metav1.ConditionUnknown
		if p := findCondition(gw.Status.Conditions, string(gwv1.GatewayConditionProgrammed)); p != nil {
			status = p.Status
		}
		counts[status]++
	}
	return counts, nil
}
