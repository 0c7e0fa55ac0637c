package gcp

import (
	"regexp"
	"strings"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

var validName = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

func TestNamesFitGCPRules(t *testing.T) {
	long := strings.Repeat("a-very-long-gateway-name.", 11)[:253]
	owners := []lb.Owner{
		{Cluster: "c1", Namespace: "default", Name: "web", UID: "u1"},
		{Cluster: "c1", Namespace: "default", Name: long, UID: "u2"},
		{Cluster: "c1", Namespace: "ns", Name: "---", UID: "u3"},
		{Cluster: "c1", Namespace: "ns", Name: "9lives", UID: "u4"},
		{Cluster: "c1", Namespace: "ns", Name: "UPPER.Case_name", UID: "u5"},
	}
	seen := map[string]string{}
	for _, o := range owners {
		for _, kind := range []string{tagAddress, tagForwarding, tagHTTPProxy, tagHTTPSProxy, tagURLMap, tagBackend, tagHealthCheck, tagNEG, tagCertificate} {
			for _, logical := range []string{"http-80", "default/svc:80", long} {
				n := name(o, kind, logical)
				if len(n) > maxName || !validName.MatchString(n) {
					t.Errorf("name(%q, %s, %q) = %q: not a GCP name", o.Name, kind, logical, n)
				}
				if n != name(o, kind, logical) {
					t.Errorf("name(%q, %s, %q) is not deterministic", o.Name, kind, logical)
				}
				id := o.UID + "/" + kind + "/" + logical
				if prev, ok := seen[n]; ok && prev != id {
					t.Errorf("%s and %s share the name %q", prev, id, n)
				}
				seen[n] = id
			}
		}
	}
	if got := name(owners[0], tagURLMap, "http-80"); !strings.HasPrefix(got, "cg1-um-web-") {
		t.Errorf("name = %q, want the scheme, kind and Gateway name first", got)
	}
	// Another cluster's Gateway of the same UID gets other names.
	other := owners[0]
	other.Cluster = "c2"
	if name(other, tagURLMap, "http-80") == name(owners[0], tagURLMap, "http-80") {
		t.Error("two clusters share a name")
	}
}

func TestDescriptionCarriesOwnership(t *testing.T) {
	o := lb.Owner{Cluster: "c1", Namespace: "default", Name: "web", UID: "u1"}
	d := description(o, "default/svc:80")
	if len(d) > maxDescription {
		t.Fatalf("description of %d characters", len(d))
	}
	rec, ok := ownedBy(d, o)
	if !ok || rec.Resource != "default/svc:80" {
		t.Fatalf("ownedBy(%s) = %+v, %v", d, rec, ok)
	}
	for _, other := range []lb.Owner{
		{Cluster: "c2", Namespace: "default", Name: "web", UID: "u1"},
		{Cluster: "c1", Namespace: "default", Name: "web", UID: "u2"}, // re-created Gateway
		{Cluster: "c1", Namespace: "other", Name: "web", UID: "u1"},
	} {
		if _, ok := ownedBy(d, other); ok {
			t.Errorf("%+v owns a resource of %+v", other, o)
		}
	}
	for _, foreign := range []string{"", "made by hand", `{"cloudgate.dev/cluster":"c1"}`} {
		if _, ok := ownedBy(foreign, o); ok {
			t.Errorf("description %q taken as ours", foreign)
		}
	}
	long := description(o, strings.Repeat("x", 3000))
	if len(long) > maxDescription {
		t.Errorf("description of a long logical id has %d characters, GCP allows %d", len(long), maxDescription)
	}
	if _, ok := ownedBy(long, o); !ok {
		t.Error("a long logical id's description is not ours")
	}
}
