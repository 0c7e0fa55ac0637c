package lb

import "testing"

func TestWithQuotas(t *testing.T) {
	c := Capabilities{MaxRulesPerListener: 90, MaxCertificatesPerListener: 26, MaxTargetGroupsPerAction: 5,
		Quotas: Quotas{RulesPerLoadBalancer: 100, CertificatesPerLoadBalancer: 25}}
	got := c.WithQuotas(Quotas{RulesPerLoadBalancer: 250, CertificatesPerLoadBalancer: 50, ListenersPerLoadBalancer: 80})
	if got.MaxRulesPerListener != 240 || got.MaxCertificatesPerListener != 51 || got.MaxTargetGroupsPerAction != 5 {
		t.Errorf("raised limits = rules %d, certificates %d, groups per action %d; want 240, 51, 5",
			got.MaxRulesPerListener, got.MaxCertificatesPerListener, got.MaxTargetGroupsPerAction)
	}
	if got.Quotas.RulesPerLoadBalancer != 250 || got.Quotas.CertificatesPerLoadBalancer != 50 || got.Quotas.ListenersPerLoadBalancer != 0 {
		t.Errorf("quotas = %+v: the raised ones the provider declares, no others", got.Quotas)
	}
	if c.MaxRulesPerListener != 90 || c.Quotas.RulesPerLoadBalancer != 100 {
		t.Errorf("WithQuotas changed its receiver: %+v", c)
	}
	if low := c.WithQuotas(Quotas{RulesPerLoadBalancer: 10}); low.MaxRulesPerListener != 90 {
		t.Errorf("a quota below the default gives %d rules, want the default's 90", low.MaxRulesPerListener)
	}
	if none := (Capabilities{MaxRulesPerListener: 3}).WithQuotas(Quotas{RulesPerLoadBalancer: 500}); none.MaxRulesPerListener != 3 {
		t.Errorf("a provider that declares no quota got %d rules, want its 3", none.MaxRulesPerListener)
	}
}
