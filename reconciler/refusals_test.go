package reconciler

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestRefusalsAreToldOnceWhenTheyAppear(t *testing.T) {
	rec := events.NewFakeRecorder(10)
	r := &GatewayReconciler{Events: rec}
	cond := func(typ string, s metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: msg}
	}
	accepted := cond("Accepted", metav1.ConditionTrue, "Accepted", "ok")
	bad := cond("Accepted", metav1.ConditionFalse, "InvalidParameters", "no such parameters")
	gw := func(conds []metav1.Condition, listener ...metav1.Condition) *gwv1.Gateway {
		g := &gwv1.Gateway{}
		g.Status.Conditions = conds
		g.Status.Listeners = []gwv1.ListenerStatus{{Name: "http", Conditions: listener}}
		return g
	}
	take := func() []string {
		var out []string
		for len(rec.Events) > 0 {
			out = append(out, <-rec.Events)
		}
		return out
	}
	for _, c := range []struct {
		name      string
		old, next *gwv1.Gateway
		want      []string
	}{
		{"becomes refused", gw([]metav1.Condition{accepted}), gw([]metav1.Condition{bad}),
			[]string{"Warning InvalidParameters Gateway: Accepted=False: no such parameters"}},
		{"stays refused", gw([]metav1.Condition{bad}), gw([]metav1.Condition{bad}), nil},
		{"refused in other words", gw([]metav1.Condition{bad}),
			gw([]metav1.Condition{cond("Accepted", metav1.ConditionFalse, "InvalidParameters", "wrong kind")}),
			[]string{"Warning InvalidParameters Gateway: Accepted=False: wrong kind"}},
		{"accepted again", gw([]metav1.Condition{bad}), gw([]metav1.Condition{accepted}), nil},
		{"listener conflicts", gw(nil), gw(nil, cond("Conflicted", metav1.ConditionTrue, "HostnameConflict", "same host")),
			[]string{`Warning HostnameConflict Listener "http": Conflicted=True: same host`}},
		{"no conflict", gw(nil), gw(nil, cond("Conflicted", metav1.ConditionFalse, "NoConflicts", "")), nil},
		{"programmed false is the cloud's", gw(nil), gw([]metav1.Condition{cond("Programmed", metav1.ConditionFalse, "Invalid", "x")}), nil},
	} {
		r.reportGatewayRefusals(c.old, c.next)
		if got := take(); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s: events %q, want %q", c.name, got, c.want)
		}
	}

	long := cond("ResolvedRefs", metav1.ConditionFalse, strings.Repeat("R", 300), strings.Repeat("é", 2000))
	r.reportGatewayRefusals(gw(nil), gw([]metav1.Condition{long}))
	got := take()
	// "Warning " + reason + " " + note
	if len(got) != 1 || len(got[0]) > len("Warning ")+maxEventReason+1+maxEventNote || !strings.HasSuffix(got[0], "…") {
		t.Errorf("a long refusal's event is not cut to the API server's limits: %d bytes", len(got[0]))
	}
}
