package mapping

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// emulatedCaps are the emulated provider's capabilities (with the HTTP
// filters its data plane realizes); a case may replace them with a
// "kind: Capabilities" document, or change some of them with one that
// says "base: emulated" (its fields are laid over these; maps merge, and
// mapping reads an entry set to false as absent).
func emulatedCaps() lb.Capabilities {
	all := map[lb.MatchType]bool{lb.MatchExact: true, lb.MatchPrefix: true, lb.MatchRegex: true}
	values := map[lb.MatchType]bool{lb.MatchExact: true, lb.MatchRegex: true}
	return lb.Capabilities{
		Provider: "emulated",
		Protocols: map[lb.Protocol]bool{lb.ProtocolHTTP: true, lb.ProtocolHTTPS: true,
			lb.ProtocolTLS: true, lb.ProtocolTCP: true, lb.ProtocolUDP: true},
		PathMatch:           all,
		HeaderMatch:         values,
		QueryMatch:          values,
		MethodMatch:         true,
		InvalidBackendShare: true,
		FixedResponse:       true,

		RequestHeaderModifier:     true,
		ResponseHeaderModifier:    true,
		BackendHeaderModifier:     true,
		BackendURLRewrite:         true,
		Redirect:                  true,
		RedirectStatusCodes:       map[int]bool{301: true, 302: true, 303: true, 307: true, 308: true},
		PrefixRedirect:            true,
		RedirectPort:              true,
		Rewrite:                   true,
		PrefixRewrite:             true,
		FullPathRewriteOnAnyMatch: true,
		HealthCheckSuccessCodes:   true,
		Mirror:                    true,
		MirrorPercent:             true,
		RequestTimeout:            true,
		BackendTimeout:            true,
		Retry:                     true,
		RetryBackoff:              true,
		MisdirectedRequests:       true,
		CORS:                      true,
		SessionPersistence: lb.SessionPersistenceCapabilities{Cookie: true, CookieName: true, CookiePath: true,
			PermanentCookie: true, TrackedTimeout: true, Header: true, WeightedBackends: true},
		StaticAddresses:                  true,
		TLSTerminate:                     true,
		ClientValidation:                 true,
		ClientValidationInsecureFallback: true,
		BackendTLS:                       true,
		BackendTLSVerify:                 true,
		BackendClientCertificate:         true,
		BackendProtocols: map[lb.Protocol]bool{lb.ProtocolHTTP: true, lb.ProtocolHTTPS: true, lb.ProtocolH2C: true,
			lb.ProtocolTCP: true, lb.ProtocolUDP: true},
		GRPC: map[lb.Protocol]bool{lb.ProtocolHTTP: true, lb.ProtocolHTTPS: true},
	}
}

// loadSnapshot decodes a multi-document YAML file of Kubernetes objects by
// kind. Secrets' stringData is folded into data as the API server does. A
// "kind: Refused" document fills Snapshot.Refused (routes: a list of
// kind, namespace, name and message).
func loadSnapshot(t testing.TB, path string) *Snapshot {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := &Snapshot{ClusterName: "test", Capabilities: emulatedCaps()}
	for i, doc := range strings.Split(string(raw), "\n---") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("%s: document %d: %v", path, i, err)
		}
		into := func(obj any) {
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s: document %d (%s): %v", path, i, tm.Kind, err)
			}
		}
		switch tm.Kind {
		case "Capabilities":
			var c struct {
				Kind         string          `json:"kind"`
				Base         string          `json:"base"`
				Capabilities json.RawMessage `json:"capabilities"`
			}
			into(&c)
			var caps lb.Capabilities
			switch c.Base {
			case "":
			case "emulated":
				caps = emulatedCaps()
			default:
				t.Fatalf("%s: document %d: unknown capabilities base %q", path, i, c.Base)
			}
			dec := json.NewDecoder(bytes.NewReader(c.Capabilities))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&caps); err != nil {
				t.Fatalf("%s: document %d (Capabilities): %v", path, i, err)
			}
			s.Capabilities = caps
		case "Refused":
			var r struct {
				Kind   string `json:"kind"`
				Routes []struct {
					RouteRef `json:",inline"`
					Message  string `json:"message"`
				} `json:"routes"`
			}
			into(&r)
			s.Refused = map[RouteRef]string{}
			for _, x := range r.Routes {
				s.Refused[x.RouteRef] = x.Message
			}
		case "GatewayClass":
			o := &gwv1.GatewayClass{}
			into(o)
			s.GatewayClass = o
		case "Gateway":
			o := &gwv1.Gateway{}
			into(o)
			s.Gateway = o
		case "HTTPRoute":
			o := &gwv1.HTTPRoute{}
			into(o)
			s.HTTPRoutes = append(s.HTTPRoutes, o)
		case "GRPCRoute":
			o := &gwv1.GRPCRoute{}
			into(o)
			s.GRPCRoutes = append(s.GRPCRoutes, o)
		case "TCPRoute":
			o := &gwv1.TCPRoute{}
			into(o)
			s.TCPRoutes = append(s.TCPRoutes, o)
		case "UDPRoute":
			o := &gwv1.UDPRoute{}
			into(o)
			s.UDPRoutes = append(s.UDPRoutes, o)
		case "TLSRoute":
			o := &gwv1.TLSRoute{}
			into(o)
			s.TLSRoutes = append(s.TLSRoutes, o)
		case "ListenerSet":
			o := &gwv1.ListenerSet{}
			into(o)
			s.ListenerSets = append(s.ListenerSets, o)
		case "Namespace":
			o := &corev1.Namespace{}
			into(o)
			s.Namespaces = append(s.Namespaces, o)
		case "Service":
			o := &corev1.Service{}
			into(o)
			s.Services = append(s.Services, o)
		case "EndpointSlice":
			o := &discoveryv1.EndpointSlice{}
			into(o)
			s.EndpointSlices = append(s.EndpointSlices, o)
		case "Secret":
			o := &corev1.Secret{}
			into(o)
			for k, v := range o.StringData {
				if o.Data == nil {
					o.Data = map[string][]byte{}
				}
				o.Data[k] = []byte(v)
			}
			o.StringData = nil
			s.Secrets = append(s.Secrets, o)
		case "ConfigMap":
			o := &corev1.ConfigMap{}
			into(o)
			s.ConfigMaps = append(s.ConfigMaps, o)
		case "BackendTLSPolicy":
			o := &gwv1.BackendTLSPolicy{}
			into(o)
			s.BackendTLSPolicies = append(s.BackendTLSPolicies, o)
		case "ReferenceGrant":
			o := &gwv1beta1.ReferenceGrant{}
			into(o)
			s.ReferenceGrants = append(s.ReferenceGrants, o)
		case "LoadBalancerParameters":
			o := &v1alpha1.LoadBalancerParameters{}
			into(o)
			s.Parameters = append(s.Parameters, o)
		default:
			t.Fatalf("%s: document %d: unknown kind %q", path, i, tm.Kind)
		}
	}
	return s
}

// policyOut is one BackendTLSPolicy's ancestor entry, for a sorted golden.
type policyOut struct {
	Policy   string                    `json:"policy"`
	Ancestor gwv1.PolicyAncestorStatus `json:"ancestor"`
}

// routeOut is one route's statuses, for a sorted golden.
type routeOut struct {
	Route   string                   `json:"route"`
	Parents []gwv1.RouteParentStatus `json:"parents"`
}

// listenerSetOut is one ListenerSet's status, for a sorted golden.
type listenerSetOut struct {
	ListenerSet string                 `json:"listenerSet"`
	Status      gwv1.ListenerSetStatus `json:"status"`
}

type goldenOut struct {
	Class        *ClassResult       `json:"class,omitempty"`
	LoadBalancer *lb.LoadBalancer   `json:"loadBalancer"`
	Gateway      gwv1.GatewayStatus `json:"gateway"`
	Routes       []routeOut         `json:"routes,omitempty"`
	GRPCRoutes   []routeOut         `json:"grpcRoutes,omitempty"`
	TCPRoutes    []routeOut         `json:"tcpRoutes,omitempty"`
	UDPRoutes    []routeOut         `json:"udpRoutes,omitempty"`
	TLSRoutes    []routeOut         `json:"tlsRoutes,omitempty"`
	ListenerSets []listenerSetOut   `json:"listenerSets,omitempty"`
	// BackendTLSPolicies are the policies' ancestor entries for the
	// Gateway, by "namespace/name".
	BackendTLSPolicies []policyOut `json:"backendTLSPolicies,omitempty"`
	// Sources is rendered for cases with a Refused document, the ones
	// about the backstop; TestSources checks it on every case.
	Sources map[string][]RouteRef `json:"sources,omitempty"`
}

// render turns a Result into stable YAML. Certificates, keys and CA
// bundles become digests (a golden should not hold key material twice), and empty
// lastTransitionTimes are dropped.
func render(t *testing.T, s *Snapshot, res Result) []byte {
	t.Helper()
	out := goldenOut{LoadBalancer: res.LoadBalancer, Gateway: res.Gateway}
	if s.GatewayClass != nil {
		c := BuildClass(s.GatewayClass, s.Parameters, s.Capabilities)
		out.Class = &c
	}
	byName := func(a, b routeOut) int { return strings.Compare(a.Route, b.Route) }
	sorted := func(m map[types.NamespacedName][]gwv1.RouteParentStatus) []routeOut {
		var out []routeOut
		for k, p := range m {
			out = append(out, routeOut{Route: k.String(), Parents: p})
		}
		slices.SortFunc(out, byName)
		return out
	}
	out.Routes = sorted(res.Routes)
	out.GRPCRoutes = sorted(res.GRPCRoutes)
	out.TCPRoutes = sorted(res.TCPRoutes)
	out.UDPRoutes = sorted(res.UDPRoutes)
	out.TLSRoutes = sorted(res.TLSRoutes)
	for k, st := range res.ListenerSets {
		out.ListenerSets = append(out.ListenerSets, listenerSetOut{ListenerSet: k.String(), Status: st})
	}
	slices.SortFunc(out.ListenerSets, func(a, b listenerSetOut) int { return strings.Compare(a.ListenerSet, b.ListenerSet) })
	for k, a := range res.BackendTLSPolicies {
		out.BackendTLSPolicies = append(out.BackendTLSPolicies, policyOut{Policy: k.String(), Ancestor: a})
	}
	slices.SortFunc(out.BackendTLSPolicies, func(a, b policyOut) int { return strings.Compare(a.Policy, b.Policy) })
	if s.Refused != nil {
		out.Sources = res.Sources
	}
	j, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := json.Unmarshal(j, &generic); err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(scrub(generic))
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func scrub(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			switch {
			case k == "lastTransitionTime" && x == nil:
				delete(v, k)
			case k == "certPEM" || k == "keyPEM" || k == "pem":
				sum := sha256.Sum256([]byte(fmt.Sprint(x)))
				v[k] = "sha256:" + hex.EncodeToString(sum[:8])
			default:
				v[k] = scrub(x)
			}
		}
	case []any:
		for i := range v {
			v[i] = scrub(v[i])
		}
	}
	return v
}

func TestGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			s := loadSnapshot(t, in)
			res := Build(s)
			if res.LoadBalancer != nil {
				if err := res.LoadBalancer.Validate(); err != nil {
					t.Errorf("model fails lb.Validate: %v", err)
				}
			}
			// Build must not depend on input order.
			rev := *s
			rev.HTTPRoutes = slices.Clone(s.HTTPRoutes)
			slices.Reverse(rev.HTTPRoutes)
			rev.GRPCRoutes = slices.Clone(s.GRPCRoutes)
			slices.Reverse(rev.GRPCRoutes)
			rev.TCPRoutes = slices.Clone(s.TCPRoutes)
			slices.Reverse(rev.TCPRoutes)
			rev.UDPRoutes = slices.Clone(s.UDPRoutes)
			slices.Reverse(rev.UDPRoutes)
			rev.TLSRoutes = slices.Clone(s.TLSRoutes)
			slices.Reverse(rev.TLSRoutes)
			rev.ListenerSets = slices.Clone(s.ListenerSets)
			slices.Reverse(rev.ListenerSets)
			rev.EndpointSlices = slices.Clone(s.EndpointSlices)
			slices.Reverse(rev.EndpointSlices)
			rev.BackendTLSPolicies = slices.Clone(s.BackendTLSPolicies)
			slices.Reverse(rev.BackendTLSPolicies)
			got := render(t, s, res)
			if again := render(t, &rev, Build(&rev)); !bytes.Equal(got, again) {
				t.Errorf("result depends on input order")
			}

			outPath := filepath.Join("testdata", name+".out.yaml")
			if *update {
				if err := os.WriteFile(outPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(outPath)
			if err != nil {
				t.Fatalf("%v (run go test ./mapping -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from Build's result (run go test ./mapping -update and review the diff):\n%s",
					outPath, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff shows where two texts part: the first differing line of each
// with a little context, enough to see what changed without printing
// the whole golden.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	// Common tail, so that an insertion shows only the inserted lines.
	j := 0
	for j < len(w)-i && j < len(g)-i && w[len(w)-1-j] == g[len(g)-1-j] {
		j++
	}
	var b strings.Builder
	from := max(i-3, 0)
	fmt.Fprintf(&b, "@@ line %d\n", from+1)
	for _, l := range w[from:i] {
		b.WriteString("  " + l + "\n")
	}
	for _, l := range w[i : len(w)-j] {
		b.WriteString("- " + l + "\n")
	}
	for _, l := range g[i : len(g)-j] {
		b.WriteString("+ " + l + "\n")
	}
	for _, l := range w[len(w)-j : min(len(w)-j+3, len(w))] {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}
