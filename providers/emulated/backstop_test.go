package emulated_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/emulated"
)

// TestRefusedRuleIsNamed sends models with one element that lb.Validate
// accepts but the data plane refuses, among good ones, to the real cloud API:
// the refusal names exactly that element, with the cloud's message, and
// leaves the cloud as it was; the model without it applies. (mapping never
// builds these values; the cloud's refusal is the backstop.)
func TestRefusedRuleIsNamed(t *testing.T) {
	srv := startCloud(t)
	p := newProvider(t, srv)
	good := backend(t, "good")
	o := owner("refused")
	model := func(extra ...lb.Rule) *lb.LoadBalancer {
		rules := []lb.Rule{forward("ns/first/rule-0/match-0", lb.Match{Path: prefix("/first")}, to("ns/good:80", 1))}
		rules = append(rules, extra...)
		rules = append(rules, forward("ns/last/rule-0/match-0", lb.Match{Path: prefix("/")}, to("ns/good:80", 1)))
		return &lb.LoadBalancer{Owner: o, TargetGroups: []lb.TargetGroup{group("ns/good:80", good)},
			Listeners: []lb.Listener{{Name: "http-8080", Port: 8080, Protocol: lb.ProtocolHTTP,
				VirtualHosts: []lb.VirtualHost{{Rules: rules}}}}}
	}
	badRedirect := lb.Rule{Name: "ns/tenant-b/rule-0/match-0", Match: lb.Match{Path: prefix("/b")},
		Action: lb.Action{Redirect: &lb.Redirect{Scheme: "ftp"}}}
	badRewrite := forward("ns/tenant-c/rule-0/match-0", lb.Match{Path: prefix("/c")}, to("ns/good:80", 1))
	badRewrite.Action.Rewrite = &lb.Rewrite{Hostname: "no/slashes"}

	check := func(m *lb.LoadBalancer, element, text, what string) {
		t.Helper()
		if err := m.Validate(); err != nil {
			t.Fatalf("%s: lb.Validate refuses the model now (%v): pick a value only the data plane refuses", what, err)
		}
		_, err := p.Ensure(context.Background(), m)
		var refusal *providers.InvalidError
		if !errors.As(err, &refusal) || !errors.Is(err, providers.ErrInvalid) {
			t.Fatalf("%s: Ensure = %v, want a *providers.InvalidError", what, err)
		}
		if !slices.Equal(refusal.Elements, []string{element}) {
			t.Errorf("%s: refusal names %q, want exactly %q", what, refusal.Elements, element)
		}
		if !strings.Contains(refusal.Message, text) || !strings.Contains(refusal.Message, element) {
			t.Errorf("%s: message %q is not the cloud's explanation", what, refusal.Message)
		}
		var apiErr *emulated.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %v does not carry the cloud's 400", what, err)
		}
	}

	// A first Ensure: nothing is created.
	check(model(badRedirect), badRedirect.Name, `unsupported redirect scheme "ftp"`, "create")
	if got := ownedBy(srv.Cloud(), o); len(got) != 0 {
		t.Fatalf("a refused create left %+v", got)
	}
	// Without the refused rule the rest applies and serves.
	st := ensure(t, p, model())
	before := ownedBy(srv.Cloud(), o)[0]
	// An update: the load balancer stays as it was.
	check(model(badRewrite), badRewrite.Name, `invalid rewrite hostname "no/slashes"`, "update")
	// A target group the cloud refuses is named itself, not the rules
	// that use it.
	broken := model(forward("ns/tenant-d/rule-0/match-0", lb.Match{Path: prefix("/d")}, to("ns/broken:80", 1)))
	broken.TargetGroups = append(broken.TargetGroups, group("ns/broken:80", lb.Target{IP: "not-an-ip", Port: 80}))
	check(broken, "ns/broken:80", "invalid target not-an-ip:80", "target group")
	if after := ownedBy(srv.Cloud(), o)[0]; after.Version != before.Version {
		t.Errorf("refused updates changed the load balancer: version %d → %d", before.Version, after.Version)
	}
	r := do(t, httpClient(), "GET", "http://"+st.Addresses[0].Value+":8080/first", "h", nil)
	if r.status != http.StatusOK || r.backend() != "good" {
		t.Errorf("after refused updates: %d %s", r.status, r.body)
	}
}

// TestOwnerFaultIsolation fails one Gateway's API requests: its Ensure gives
// up fast with a transient error, after a bounded number of requests, while
// another Gateway's Ensure, at the same time, is not held up.
func TestOwnerFaultIsolation(t *testing.T) {
	srv := startCloud(t)
	p := newProvider(t, srv)
	target := deadTarget(t)
	a, b := simple(owner("failing"), 8080, target), simple(owner("healthy"), 8080, target)
	ensure(t, p, a)
	ensure(t, p, b)

	srv.Cloud().InjectOwnerFault(a.Owner.UID, http.StatusServiceUnavailable, 0)
	srv.Cloud().ResetStats()
	var errA error
	var tookA, tookB time.Duration
	var wg sync.WaitGroup
	wg.Go(func() {
		start := time.Now()
		_, errA = p.Ensure(context.Background(), a)
		tookA = time.Since(start)
	})
	wg.Go(func() {
		start := time.Now()
		ensure(t, p, b)
		tookB = time.Since(start)
	})
	wg.Wait()
	var apiErr *emulated.APIError
	if !errors.As(errA, &apiErr) || !apiErr.Transient() || errors.Is(errA, providers.ErrInvalid) {
		t.Errorf("Ensure of the failing Gateway = %v, want a transient error, not ErrInvalid", errA)
	}
	if tookA > 500*time.Millisecond {
		t.Errorf("the failing Gateway's Ensure took %v to give up", tookA)
	}
	st := srv.Cloud().Stats()
	if want := int64(emulated.DefaultRetryMax + 1); st.Owners[a.Owner.UID] != want {
		t.Errorf("one failing Ensure sent %d requests, want %d (1 + %d retries)", st.Owners[a.Owner.UID], want, emulated.DefaultRetryMax)
	}
	if st.Owners[b.Owner.UID] != 1 {
		t.Errorf("the healthy Gateway's Ensure sent %d requests, want 1", st.Owners[b.Owner.UID])
	}
	t.Logf("failing Gateway: gave up after %v and %d requests; healthy Gateway meanwhile: %v",
		tookA, st.Owners[a.Owner.UID], tookB)

	srv.Cloud().ClearOwnerFault(a.Owner.UID)
	ensure(t, p, a)
}
