package gcpe2e

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The Gateway's infrastructure labels and annotations become GCP labels on
// the resources that take labels (the address and the forwarding rules),
// rewritten where GCP's rules refuse them; the Programmed condition says
// which were rewritten and how. A change of them is one setLabels per
// resource.
func TestInfrastructureLabelsBecomeGCPLabels(t *testing.T) {
	ns := namespace(t)
	service(t, ns, "app", 8080, "10.0.3.10")
	gw := gateway(ns, "labelled", listener("http", gwv1.HTTPProtocolType, 80), listener("alt", gwv1.HTTPProtocolType, 8080))
	gw.Spec.Infrastructure = &gwv1.GatewayInfrastructure{
		Labels:      map[gwv1.LabelKey]gwv1.LabelValue{"team": "payments", "app.kubernetes.io/name": "shop"},
		Annotations: map[gwv1.AnnotationKey]gwv1.AnnotationValue{"cost-center": "CC-42"},
	}
	create(t, gw, route(ns, "r", "labelled", "", nil, rule(prefix("/"), backendRef("app", 8080, 1))))
	cond, _ := programmed(t, ns, "labelled")
	uid := string(getGateway(t, ns, "labelled").UID)

	want := map[string]string{"team": "payments", "app_kubernetes_io_name": "shop", "cost-center": "cc-42"}
	labelled := func(want map[string]string) error {
		v := viewOf(t, uid)
		if len(v.Addresses) != 1 || len(v.Rules) != 2 {
			return fmt.Errorf("want 1 address and 2 forwarding rules: %s", v)
		}
		if got := v.Addresses[0].GetLabels(); !maps.Equal(got, want) {
			return fmt.Errorf("address labels %v, want %v", got, want)
		}
		for _, r := range v.Rules {
			if got := r.GetLabels(); !maps.Equal(got, want) {
				return fmt.Errorf("forwarding rule %s labels %v, want %v", v.logical[r.GetName()], got, want)
			}
		}
		return nil
	}
	must(t, labelled(want))
	for _, note := range []string{
		`label "app.kubernetes.io/name" written as "app_kubernetes_io_name"`,
		`label "cost-center": value "CC-42" written as "cc-42"`,
	} {
		if !strings.Contains(cond.Message, note) {
			t.Errorf("Programmed message %q does not say %q", cond.Message, note)
		}
	}
	quiesce(t)

	update(t, &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "labelled"}}, func(g *gwv1.Gateway) {
		g.Spec.Infrastructure.Labels = map[gwv1.LabelKey]gwv1.LabelValue{"team": "web"}
		g.Spec.Infrastructure.Annotations = nil
	})
	eventually(t, 30*time.Second, func() error { return labelled(map[string]string{"team": "web"}) })
	calls := callsUntilQuiet(t, always)
	if w := writesOf(calls); !maps.Equal(w, map[string]int{"addresses.setLabels": 1, "forwardingRules.setLabels": 2}) {
		t.Errorf("a label change wrote %v, want one setLabels on the address and one on each forwarding rule", w)
	}
	t.Logf("label change: %s", formatCalls(calls))
	// No rewrite left to note.
	eventually(t, 30*time.Second, func() error {
		if cond, _ := programmed(t, ns, "labelled"); cond.Message != "The load balancer is programmed" {
			return fmt.Errorf("Programmed message %q, want no notes", cond.Message)
		}
		return nil
	})

	deleteGateway(t, ns, "labelled")
	must(t, leftovers(t, uid))
}
