package aws

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// TestCheckTags covers each of AWS's tag rules: the refusal names the
// tag, and a tag just within a rule passes.
func TestCheckTags(t *testing.T) {
	many := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("k%02d", i)] = "v"
		}
		return m
	}
	for _, c := range []struct {
		name string
		tags map[string]string
		says string // "" for accepted
	}{
		{"empty key", map[string]string{"": "v"}, "empty tag key"},
		{"key of 128 characters", map[string]string{strings.Repeat("k", 128): "v"}, ""},
		{"key of 129 characters", map[string]string{strings.Repeat("k", 129): "v"}, `"kkkkkkkkkkkkkkkkkkkk"… longer than 128 characters`},
		{"key of 128 characters in 256 bytes", map[string]string{strings.Repeat("é", 128): "v"}, ""},
		{"aws: prefix", map[string]string{"aws:owner": "x"}, `tag key "aws:owner" uses the reserved prefix "aws:"`},
		{"AWS: prefix in any case", map[string]string{"AWS:Owner": "x"}, `tag key "AWS:Owner" uses the reserved prefix`},
		{"a key with #", map[string]string{"team#1": "x"}, `tag key "team#1": AWS allows letters, digits, spaces and _ . : / = + - @ only`},
		{"a key with a comma", map[string]string{"a,b": "x"}, `tag key "a,b": AWS allows`},
		{"every allowed character", map[string]string{"Équipe 1_.:/=+-@": "Données Team 2_.:/=+-@"}, ""},
		{"empty value", map[string]string{"k": ""}, ""},
		{"value of 256 characters", map[string]string{"k": strings.Repeat("v", 256)}, ""},
		{"value of 257 characters", map[string]string{"k": strings.Repeat("v", 257)}, `tag "k": value longer than 256 characters`},
		{"a value with !", map[string]string{"k": "hi!"}, `tag "k": value "hi!": AWS allows`},
		{"a value with a newline", map[string]string{"k": "a\nb"}, `tag "k": value "a\nb": AWS allows`},
		// Cloudgate writes 4 ownership tags next to the user's: 46 fit.
		{"46 user tags", many(46), ""},
		{"47 user tags", many(47), "51 tags with Cloudgate's own, AWS allows 50"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := &lb.LoadBalancer{Owner: lb.Owner{Cluster: "c", Namespace: "ns", Name: "gw", UID: "u"}, Tags: c.tags}
			err := checkTags(m)
			if c.says == "" {
				if err != nil {
					t.Errorf("checkTags = %v, want the tags accepted", err)
				}
				return
			}
			var ie *providers.InvalidError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("checkTags = %v, want an InvalidError saying %s", err, c.says)
			}
		})
	}
	// Several problems come in key order, the same message every time.
	m := &lb.LoadBalancer{Tags: map[string]string{"z!": "1", "a!": "2", "m!": "3"}}
	first := checkTags(m).Error()
	for range 20 {
		if got := checkTags(m).Error(); got != first || strings.Index(got, `"a!"`) > strings.Index(got, `"m!"`) {
			t.Fatalf("messages %q and %q: want one, in key order", first, got)
		}
	}
}
