package emulated_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/emulated"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
)

// planOf is p.Plan(m), which must neither fail nor write to the cloud.
func planOf(t *testing.T, srv *cloud.Server, p *emulated.Provider, m *lb.LoadBalancer) providers.Plan {
	t.Helper()
	srv.Cloud().ResetStats()
	pl, err := p.Plan(context.Background(), m)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if st := srv.Cloud().Stats(); st.Writes() != 0 || st.Reads() != 1 {
		t.Errorf("Plan cost %d reads and %d writes (%v), want one read and no write", st.Reads(), st.Writes(), st.Requests)
	}
	return pl
}

func TestPlanIsADryRun(t *testing.T) {
	srv := startCloud(t)
	p := newProvider(t, srv)
	m := simple(owner("plan"), 8080, deadTarget(t))

	pl := planOf(t, srv, p, m)
	if got, want := pl.Summary(), "created 1 load balancer, 1 listener, 1 rule, 1 target group"; got != want {
		t.Errorf("plan before create: %q, want %q\n%s", got, want, pl)
	}
	if !strings.Contains(pl.String(), "Create load balancer \"loadbalancer\": the Gateway has no load balancer (cg-default-plan-") {
		t.Errorf("the plan does not name the load balancer it creates:\n%s", pl)
	}
	if len(srv.Cloud().List(cloud.ListOptions{})) != 0 {
		t.Fatal("Plan created a load balancer")
	}

	res, err := p.Ensure(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied.Summary() != pl.Summary() {
		t.Errorf("Ensure applied %q, the plan said %q", res.Applied.Summary(), pl.Summary())
	}
	lbs := srv.Cloud().List(cloud.ListOptions{})
	if len(lbs) != 1 {
		t.Fatalf("the cloud has %d load balancers", len(lbs))
	}
	for _, s := range res.Applied.Steps {
		if s.CloudID != lbs[0].ID {
			t.Errorf("applied step %s lacks the id %s of the load balancer it created", s, lbs[0].ID)
		}
	}

	// Several changes at once: each part that changes has its step.
	m.Tags = map[string]string{"team": "a"}
	m.Listeners[0].VirtualHosts[0].Rules[0].Match.Path = prefix("/api")
	m.Listeners[0].VirtualHosts[0].Rules = append(m.Listeners[0].VirtualHosts[0].Rules, forward("h", lb.Match{}, to("h", 1)))
	m.TargetGroups = append(m.TargetGroups, group("h", deadTarget(t)))
	pl = planOf(t, srv, p, m)
	if got, want := pl.Summary(), "created 1 rule, 1 target group; updated 1 load balancer, 1 listener, 1 rule"; got != want {
		t.Errorf("plan of several changes: %q, want %q\n%s", got, want, pl)
	}
	for _, want := range []string{
		`tags[team]: none → "a"`,
		`virtualHosts[""].rules: ["all"] → ["all", "h"]`,
		`match.path: none → {type: "Prefix", value: "/api"}`,
		`Create rule "http/h" (` + lbs[0].ID + `): in the model, not in the cloud`,
	} {
		if !strings.Contains(pl.String(), want) {
			t.Errorf("the plan lacks %q:\n%s", want, pl)
		}
	}
	if res = ensureApplied(t, p, m); res.Applied.Summary() != pl.Summary() {
		t.Errorf("Ensure applied %q, the plan said %q", res.Applied.Summary(), pl.Summary())
	}

	// Steady state: one read, no write, nothing applied.
	srv.Cloud().ResetStats()
	if res = ensureApplied(t, p, m); res.Applied.Changes() {
		t.Errorf("a no-op Ensure applied:\n%s", res.Applied)
	}
	if st := srv.Cloud().Stats(); st.Reads() != 1 || st.Writes() != 0 {
		t.Errorf("a no-op Ensure cost %d reads and %d writes", st.Reads(), st.Writes())
	}
	if pl = planOf(t, srv, p, m); pl.Changes() {
		t.Errorf("plan after Ensure:\n%s", pl)
	}

	m.Listeners[0].VirtualHosts[0].Rules = m.Listeners[0].VirtualHosts[0].Rules[:1]
	m.TargetGroups = m.TargetGroups[:1]
	if got, want := planOf(t, srv, p, m).Summary(), "updated 1 listener; deleted 1 rule, 1 target group"; got != want {
		t.Errorf("plan of a removed rule: %q, want %q", got, want)
	}
}

func TestPlanRedactsCertificateKeys(t *testing.T) {
	srv := startCloud(t)
	p := newProvider(t, srv)
	old := selfSigned(t, "old", "a.example.com")
	m := &lb.LoadBalancer{
		Owner: owner("plan-tls"),
		Listeners: []lb.Listener{{Name: "https", Port: 8443, Protocol: lb.ProtocolHTTPS, VirtualHosts: []lb.VirtualHost{{
			Hostname: "a.example.com", Certificates: []lb.Certificate{old},
			Rules: []lb.Rule{forward("all", lb.Match{}, to("g", 1))},
		}}}},
		TargetGroups: []lb.TargetGroup{group("g", deadTarget(t))},
	}
	pl := planOf(t, srv, p, m)
	if got, want := pl.Summary(), "created 1 load balancer, 1 listener, 1 rule, 1 target group, 1 certificate"; got != want {
		t.Errorf("plan: %q, want %q", got, want)
	}
	ensure(t, p, m)

	renewed := selfSigned(t, "renewed", "a.example.com")
	renewed.Name = old.Name // the same Secret, renewed
	m.Listeners[0].VirtualHosts[0].Certificates = []lb.Certificate{renewed}
	pl = planOf(t, srv, p, m)
	if got, want := pl.Summary(), "updated 1 certificate"; got != want {
		t.Errorf("plan of a renewed certificate: %q, want %q\n%s", got, want, pl)
	}
	text := pl.String()
	if !strings.Contains(text, "keyPEM: "+providers.Redacted+" → "+providers.Redacted) || !strings.Contains(text, "certPEM: sha256:") {
		t.Errorf("the plan does not show the changed certificate and key as it should:\n%s", text)
	}
	for _, key := range [][]byte{old.KeyPEM, renewed.KeyPEM} {
		body := strings.Split(string(key), "\n")[1] // the first line of base64
		if strings.Contains(text, "PRIVATE KEY") || strings.Contains(text, body) {
			t.Fatalf("the plan prints a private key:\n%s", text)
		}
	}
}

// TestPlanShowsClientValidation: turning client certificate validation on,
// or changing its mode, updates the listener, and the plan names the CA
// bundles by digest, not by their PEM.
func TestPlanShowsClientValidation(t *testing.T) {
	srv := startCloud(t)
	p := newProvider(t, srv)
	server := selfSigned(t, "server", "a.example.com")
	ca := selfSigned(t, "ca", "ca.example.com")
	m := &lb.LoadBalancer{
		Owner: owner("plan-mtls"),
		Listeners: []lb.Listener{{Name: "https", Port: 8443, Protocol: lb.ProtocolHTTPS, VirtualHosts: []lb.VirtualHost{{
			Hostname: "a.example.com", Certificates: []lb.Certificate{server},
			Rules: []lb.Rule{forward("all", lb.Match{}, to("g", 1))},
		}}}},
		TargetGroups: []lb.TargetGroup{group("g", deadTarget(t))},
	}
	ensure(t, p, m)

	m.Listeners[0].ClientValidation = &lb.ClientValidation{Mode: lb.ClientValidationAllowValidOnly,
		CABundles: []lb.CABundle{{Name: "apps/ca", PEM: ca.CertPEM}}}
	pl := planOf(t, srv, p, m)
	if got, want := pl.Summary(), "updated 1 listener"; got != want {
		t.Errorf("plan of client validation: %q, want %q\n%s", got, want, pl)
	}
	text := pl.String()
	if !strings.Contains(text, "clientValidation: none → ") || !strings.Contains(text, `"apps/ca"`) || !strings.Contains(text, `"AllowValidOnly"`) {
		t.Errorf("the plan does not show the client validation it adds:\n%s", text)
	}
	if strings.Contains(text, "CERTIFICATE") {
		t.Errorf("the plan prints the CA bundle's PEM:\n%s", text)
	}
	ensure(t, p, m)
	if pl := planOf(t, srv, p, m); pl.Summary() != "no changes" {
		t.Errorf("plan after applying it: %q, want nothing\n%s", pl.Summary(), pl)
	}

	m.Listeners[0].ClientValidation.Mode = lb.ClientValidationAllowInsecureFallback
	pl = planOf(t, srv, p, m)
	if got, want := pl.Summary(), "updated 1 listener"; got != want || !strings.Contains(pl.String(), `"AllowInsecureFallback"`) {
		t.Errorf("plan of a mode change: %q, want %q naming the mode\n%s", got, want, pl)
	}
}

// TestDeleteIsThePlanAgainstTheEmptyModel reads the Delete's plan in the
// provider's log.
func TestDeleteIsThePlanAgainstTheEmptyModel(t *testing.T) {
	srv := startCloud(t)
	var logs bytes.Buffer
	p, err := emulated.New(emulated.Config{Endpoint: srv.URL(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	m := simple(owner("plan-delete"), 8080, deadTarget(t))
	ensure(t, p, m)
	logs.Reset()
	if err := p.Delete(context.Background(), m.Owner); err != nil {
		t.Fatal(err)
	}
	if want := "deleted 1 load balancer, 1 listener, 1 rule, 1 target group"; !strings.Contains(logs.String(), want) {
		t.Errorf("the Delete's log lacks %q:\n%s", want, logs.String())
	}
	if pl := planOf(t, srv, p, m); pl.Count(providers.ActionCreate, providers.KindLoadBalancer) != 1 {
		t.Errorf("plan after Delete:\n%s", pl)
	}
}

func ensureApplied(t *testing.T, p *emulated.Provider, m *lb.LoadBalancer) providers.Result {
	t.Helper()
	res, err := p.Ensure(context.Background(), m)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return res
}

// The emulated cloud has no zones: a target's zone is not sent, a change
// of zone alone plans and writes nothing, and the caller's model keeps
// its zones.
func TestZonesStayOutOfTheCloud(t *testing.T) {
	srv := startCloud(t)
	p := newProvider(t, srv)
	target := deadTarget(t)
	target.Zone = "zone-a"
	m := simple(owner("zones"), 8080, target)
	ensure(t, p, m)
	lbs := srv.Cloud().List(cloud.ListOptions{})
	if len(lbs) != 1 || len(lbs[0].Spec.TargetGroups) != 1 {
		t.Fatalf("the cloud holds %+v, want one load balancer with one target group", lbs)
	}
	if got := lbs[0].Spec.TargetGroups[0].Targets; len(got) != 1 || got[0] != (lb.Target{IP: target.IP, Port: target.Port}) {
		t.Errorf("the cloud holds the targets %+v, want %s:%d without a zone", got, target.IP, target.Port)
	}
	if got := m.TargetGroups[0].Targets[0].Zone; got != "zone-a" {
		t.Errorf("Ensure changed the model's zone to %q", got)
	}

	m.TargetGroups[0].Targets[0].Zone = "zone-b"
	if pl := planOf(t, srv, p, m); pl.Changes() {
		t.Errorf("a change of zone alone plans:\n%s", pl)
	}
	srv.Cloud().ResetStats()
	if res := ensureApplied(t, p, m); res.Applied.Changes() {
		t.Errorf("a change of zone alone applied:\n%s", res.Applied)
	}
	if st := srv.Cloud().Stats(); st.Writes() != 0 {
		t.Errorf("a change of zone alone cost %d writes", st.Writes())
	}
}
