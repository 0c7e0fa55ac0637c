package gcpe2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func tcpRoute(ns, name, gw, svc string, port int32) *gwv1.TCPRoute {
	p := gwv1.PortNumber(port)
	r := &gwv1.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	r.Spec.ParentRefs = []gwv1.ParentReference{{Name: gwv1.ObjectName(gw)}}
	r.Spec.Rules = []gwv1.TCPRouteRule{{BackendRefs: []gwv1.BackendRef{{BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(svc), Port: &p}}}}}
	return r
}

// A TCP listener is a forwarding rule on its port to a target TCP proxy,
// whose backend service holds the Service's NEG.
func TestTCPListenerBecomesATCPProxy(t *testing.T) {
	ns := namespace(t)
	service(t, ns, "db", 5432, "10.0.6.10", "10.0.6.11")
	create(t, tcpRoute(ns, "db", "db", "db", 5432), gateway(ns, "db", listener("pg", gwv1.TCPProtocolType, 5432)))
	_, ip := programmed(t, ns, "db")
	uid := string(getGateway(t, ns, "db").UID)
	db := ns + "/db:5432/tcp" // the target group of a TCP backend
	var v *lbView
	eventually(t, 30*time.Second, func() error {
		v = viewOf(t, uid)
		if len(v.TCPProxies) != 1 || len(v.Rules) != 1 || !slices.Equal(v.Endpoints[db], []string{"10.0.6.10:5432", "10.0.6.11:5432"}) {
			return fmt.Errorf("want a TCP proxy, a forwarding rule and the NEG of %s with its 2 endpoints: %s, endpoints %v", db, v, v.Endpoints)
		}
		return nil
	})
	r, p := v.Rules[0], v.TCPProxies[0]
	if r.GetPortRange() != "5432-5432" || r.GetIPAddress() != ip || name(r.GetTarget()) != p.GetName() {
		t.Errorf("forwarding rule on %s at %s to %s, want port 5432 at %s to the TCP proxy %s", r.GetPortRange(), r.GetIPAddress(), r.GetTarget(), ip, p.GetName())
	}
	if got := v.ref(p.GetService()); got != db {
		t.Errorf("the TCP proxy's backend service is %s, want %s's", got, db)
	}
	for _, b := range v.Backends {
		if v.logical[b.GetName()] == db && b.GetProtocol() != "TCP" {
			t.Errorf("backend service %s: protocol %s, want TCP", db, b.GetProtocol())
		}
	}
	if len(v.URLMaps)+len(v.HTTPProxies)+len(v.HTTPSProxies) != 0 {
		t.Errorf("a TCP listener needs no URL map nor HTTP proxy: %s", v)
	}
	deleteGateway(t, ns, "db")
	must(t, leftovers(t, uid))
}
