package mapping

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers/emulated"
)

// FuzzBuild edits golden inputs, with bytes from the fuzzer choosing the
// edits (tricky header names and values, regular expressions, paths,
// hostnames, ports, weights, filter and match types, added and dropped
// list items), and checks the contract between mapping and providers: Build
// never panics, is deterministic, and every model it returns passes
// lb.Validate and the emulated data plane's compile step, so no user value
// can make the cloud refuse a whole Gateway.
//
// A test of package mapping may import the data plane: it imports
// mapping/lb only, so there is no cycle, and non-test code of mapping still
// imports no provider.
//
//	go test ./mapping -run '^$' -fuzz FuzzBuild -fuzztime 60s
func FuzzBuild(f *testing.F) {
	ins, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(ins) == 0 {
		f.Fatalf("no golden inputs: %v", err)
	}
	bases := make([]*Snapshot, len(ins))
	rng := rand.New(rand.NewPCG(3, 4))
	for i, in := range ins {
		bases[i] = loadSnapshot(f, in)
		f.Add(uint8(i), []byte{})
		for range 3 {
			edits := make([]byte, 24)
			for j := range edits {
				edits[j] = byte(rng.UintN(256))
			}
			f.Add(uint8(i), edits)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, edits []byte) {
		s := cloneSnapshot(bases[int(which)%len(bases)])
		applyEdits(s, edits)
		stampByContent(s)
		res := Build(s)
		checkResult(t, s, res)
		if again := Build(s); !reflect.DeepEqual(res, again) {
			t.Fatal("Build is not deterministic")
		}
		// One Cache for every input this process tries: each is a change
		// of the inputs the previous ones left in it.
		if cached := fuzzCache.Build(s); !reflect.DeepEqual(res, cached) {
			t.Fatalf("the cached Build differs from Build:\ncached:   %+v\nuncached: %+v", cached, res)
		}
	})
}

var fuzzCache Cache

// stampByContent gives the objects a Cache looks at a UID by name and a
// resourceVersion by content, as the API server would: an edit is a new
// version.
func stampByContent(s *Snapshot) {
	for _, o := range snapshotObjects(s) {
		o.SetUID(types.UID(fmt.Sprintf("%T/%s/%s", o, o.GetNamespace(), o.GetName())))
		o.SetResourceVersion("")
		raw, err := json.Marshal(o)
		if err != nil || hasInvalidUTF8(reflect.ValueOf(o)) {
			// Some edits make values JSON cannot hold (an IntOrString
			// of no type), or strings it would coerce (invalid UTF-8
			// becomes U+FFFD, so two contents would share a version;
			// the API server stores only what JSON holds): a version
			// of its own, never seen again.
			fuzzVersions++
			raw = fmt.Appendf(nil, "unencodable %d", fuzzVersions)
		}
		o.SetResourceVersion(fmt.Sprintf("%x", sha256.Sum256(raw)))
	}
}

var fuzzVersions int

// hasInvalidUTF8 says whether any string reachable from v is not valid
// UTF-8.
func hasInvalidUTF8(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return !utf8.ValidString(v.String())
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil() && hasInvalidUTF8(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if hasInvalidUTF8(v.Field(i)) {
				return true
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if hasInvalidUTF8(v.Index(i)) {
				return true
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if hasInvalidUTF8(it.Key()) || hasInvalidUTF8(it.Value()) {
				return true
			}
		}
	}
	return false
}

// checkResult applies the checks every Result must pass.
func checkResult(t *testing.T, s *Snapshot, res Result) {
	t.Helper()
	if m := res.LoadBalancer; m != nil {
		if err := m.Validate(); err != nil {
			t.Fatalf("model fails lb.Validate: %v", err)
		}
		// Every provider's convert step must accept it.
		if err := emulated.Check(m); err != nil && emulatedRealizes(s.Capabilities) {
			t.Fatalf("the emulated cloud refuses the model: %v", err)
		}
	}
	conds := res.Gateway.Conditions
	for _, l := range res.Gateway.Listeners {
		conds = append(conds, l.Conditions...)
	}
	for _, byRoute := range []map[types.NamespacedName][]gwv1.RouteParentStatus{
		res.Routes, res.GRPCRoutes, res.TCPRoutes, res.UDPRoutes, res.TLSRoutes} {
		for _, statuses := range byRoute {
			for _, st := range statuses {
				conds = append(conds, st.Conditions...)
			}
		}
	}
	for _, c := range conds {
		if !reasonPattern.MatchString(c.Reason) || len(c.Reason) > 1024 {
			t.Fatalf("condition %s: reason %q is not valid for the API", c.Type, c.Reason)
		}
		if len(c.Message) > 32768 {
			t.Fatalf("condition %s: message of %d bytes", c.Type, len(c.Message))
		}
	}
}

// emulatedRealizes says whether the emulated cloud must accept every model
// built for caps: it must, unless caps allow what it lacks (certificate
// references, in the cases about other clouds' certificates; a TCP and a
// UDP listener on one port, in the case about AWS's TCP_UDP).
func emulatedRealizes(caps lb.Capabilities) bool {
	if caps.TCPUDPSharedPort {
		return false
	}
	for _, ok := range caps.CertificateRefs {
		if ok {
			return false
		}
	}
	return true
}

// reasonPattern is metav1.Condition's validation of Reason.
var reasonPattern = regexp.MustCompile(`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`)

// cloneSnapshot deep-copies every object, so that edits never reach the
// shared bases.
func cloneSnapshot(s *Snapshot) *Snapshot {
	c := *s
	c.GatewayClass = s.GatewayClass.DeepCopy()
	c.Gateway = s.Gateway.DeepCopy()
	c.Parameters = cloneAll(s.Parameters, (*v1alpha1.LoadBalancerParameters).DeepCopy)
	c.HTTPRoutes = cloneAll(s.HTTPRoutes, (*gwv1.HTTPRoute).DeepCopy)
	c.GRPCRoutes = cloneAll(s.GRPCRoutes, (*gwv1.GRPCRoute).DeepCopy)
	c.TCPRoutes = cloneAll(s.TCPRoutes, (*gwv1.TCPRoute).DeepCopy)
	c.UDPRoutes = cloneAll(s.UDPRoutes, (*gwv1.UDPRoute).DeepCopy)
	c.TLSRoutes = cloneAll(s.TLSRoutes, (*gwv1.TLSRoute).DeepCopy)
	c.Namespaces = cloneAll(s.Namespaces, (*corev1.Namespace).DeepCopy)
	c.Services = cloneAll(s.Services, (*corev1.Service).DeepCopy)
	c.EndpointSlices = cloneAll(s.EndpointSlices, (*discoveryv1.EndpointSlice).DeepCopy)
	c.Secrets = cloneAll(s.Secrets, (*corev1.Secret).DeepCopy)
	c.ConfigMaps = cloneAll(s.ConfigMaps, (*corev1.ConfigMap).DeepCopy)
	c.ReferenceGrants = cloneAll(s.ReferenceGrants, (*gwv1beta1.ReferenceGrant).DeepCopy)
	return &c
}

func cloneAll[T any](in []*T, deepCopy func(*T) *T) []*T {
	if in == nil {
		return nil
	}
	out := make([]*T, len(in))
	for i, o := range in {
		out[i] = deepCopy(o)
	}
	return out
}

// editReader hands out the fuzzer's bytes; past the end it gives zeros.
type editReader struct{ b []byte }

func (r *editReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *editReader) uint16() int {
	return int(binary.BigEndian.Uint16([]byte{r.byte(), r.byte()}))
}

// raw takes up to n bytes as a string: any byte sequence, valid UTF-8 or
// not, as a user (or an old CRD) could store.
func (r *editReader) raw(n int) string {
	n = min(n, len(r.b))
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// words are values that have broken, or could break, some data plane:
// each rule of validate.go's table from both sides, and the enum values
// that switch code paths.
var words = []string{
	"", "a", "x", "/", "/a", "/a/b", "a b", "bad header", "Host", "host", ":authority", "Content-Length",
	"Transfer-Encoding", "X-A", "x-a", "a\r\nb", "a\nInjected: 1", "\x00", "a\x01", "\x7f", "é", "\xff\xfe", "\t",
	"(", ")", "a)|(b", `\Q`, `\Qa`, `\E`, "a{1001}", "a{1000}", "((a{100}){100}){100}", "[z-a]", ".*", "(?i)a",
	"(?P<n>a)", `\C`, `\z`, "$", "^", "?", "#", "/a?b", "/a#b", "%", "%zz", "%2F", "//", "/./", "/../", "/a/..",
	"*", "*.", "*.example.com", "example.com", "foo.example.com", "EXAMPLE.com", "10.0.0.1", "::1", "[::1]",
	"a.com:8080", "a.com:0", "-a", "a-", "a..b", "RegularExpression", "Exact", "PathPrefix",
	"RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect", "URLRewrite", "RequestMirror",
	"ExtensionRef", "CORS", "ExternalAuth", "ReplaceFullPath", "ReplacePrefixMatch", "Service", "Secret",
	"HTTPS", "HTTP", "TLS", "TCP", "UDP", "Terminate", "Passthrough", "All", "Same", "Selector", "None",
	"GET", "BREW", "http", "https", "ftp", "kubernetes.io/h2c", "kubernetes.io/ws", "grpc", "1s", "0s",
	"10ms", "-1s", "1h30m", "pkg.Svc", "Get", "apps", "gw", "app", "foo-bar", "IPAddress", "Hostname",
	"Cluster", "gateway.networking.k8s.io", "HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute",
	"arn:aws:acm:us-east-1:123456789012:certificate/abc", "arn:aws:acm:x", "my-cert", "My_Cert", "200", "200-299",
	"499-200", "200,302", "600", "/healthz",
	strings.Repeat("a", 300), strings.Repeat("a.", 130), strings.Repeat("é", 200), strings.Repeat("(", 1001),
}

var numbers = []int64{0, 1, -1, 2, 80, 443, 8080, 65535, 65536, 99, 100, 101, 301, 302, 303, 200, 500,
	999_999, 1_000_000, 1_000_001, math.MaxInt32, math.MinInt32, math.MaxInt64}

// applyEdits makes up to 16 edits, each chosen by three bytes (which site,
// what to do) and taking more bytes for its value.
func applyEdits(s *Snapshot, edits []byte) {
	r := &editReader{b: edits}
	for n := 0; n < 16 && len(r.b) > 0; n++ {
		// Sites are collected anew: an edit may add or drop list items.
		sites := editSites(s)
		if len(sites) == 0 {
			return
		}
		edit(sites[r.uint16()%len(sites)], r)
	}
}

func editSites(s *Snapshot) []reflect.Value {
	var out []reflect.Value
	add := func(v any) { collect(reflect.ValueOf(v), &out, 0) }
	if s.Gateway != nil {
		add(&s.Gateway.Spec)
	}
	for _, r := range s.HTTPRoutes {
		add(&r.Spec)
	}
	for _, r := range s.GRPCRoutes {
		add(&r.Spec)
	}
	for _, r := range s.TCPRoutes {
		add(&r.Spec)
	}
	for _, r := range s.UDPRoutes {
		add(&r.Spec)
	}
	for _, r := range s.TLSRoutes {
		add(&r.Spec)
	}
	for _, o := range s.Services {
		add(&o.Spec.Ports)
	}
	for _, o := range s.EndpointSlices {
		add(&o.Ports)
		add(&o.Endpoints)
	}
	for _, o := range s.ReferenceGrants {
		add(&o.Spec)
	}
	for _, o := range s.Parameters {
		add(&o.Spec)
	}
	return out
}

// collect lists the settable strings, integers, pointers, slices and
// string maps (labels, annotations, tags, parameters' headers) under v.
func collect(v reflect.Value, out *[]reflect.Value, depth int) {
	if depth > 16 || !v.IsValid() {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.CanSet() {
			*out = append(*out, v)
		}
		if !v.IsNil() {
			collect(v.Elem(), out, depth+1)
		}
	case reflect.Slice:
		if v.CanSet() {
			*out = append(*out, v)
		}
		for i := range v.Len() {
			collect(v.Index(i), out, depth+1)
		}
	case reflect.Struct:
		if v.Type() == timeType {
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				collect(v.Field(i), out, depth+1)
			}
		}
	case reflect.Map:
		if v.CanSet() && v.Type().Key().Kind() == reflect.String && v.Type().Elem().Kind() == reflect.String {
			*out = append(*out, v)
		}
	case reflect.String, reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint16:
		if v.CanSet() {
			*out = append(*out, v)
		}
	}
}

func edit(v reflect.Value, r *editReader) {
	op := r.byte()
	switch v.Kind() {
	case reflect.String:
		switch op % 6 {
		case 0, 1:
			v.SetString(words[int(r.byte())%len(words)])
		case 2:
			v.SetString(r.raw(int(r.byte() % 32)))
		case 3:
			v.SetString(v.String() + words[int(r.byte())%len(words)])
		case 4:
			v.SetString(strings.ToUpper(v.String()))
		case 5:
			// A control character or a separator somewhere inside.
			s := v.String()
			i := int(r.byte()) % (len(s) + 1)
			const seps = "\r\n\x00\t /?#:;,"
			v.SetString(s[:i] + string(seps[int(r.byte())%len(seps)]) + s[i:])
		}
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint16:
		n := numbers[int(op)%len(numbers)]
		if v.Kind() == reflect.Uint16 {
			v.SetUint(uint64(uint16(n)))
		} else if !v.OverflowInt(n) {
			v.SetInt(n)
		}
	case reflect.Pointer:
		if !v.IsNil() && op%2 == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		// Give a new string or number a value at once.
		if e := v.Elem(); e.Kind() == reflect.String || e.Kind() == reflect.Int32 || e.Kind() == reflect.Int64 {
			edit(e, r)
		}
	case reflect.Map:
		if op%4 == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		k := reflect.ValueOf(words[int(r.byte())%len(words)]).Convert(v.Type().Key())
		val := reflect.ValueOf(words[int(r.byte())%len(words)]).Convert(v.Type().Elem())
		v.SetMapIndex(k, val)
	case reflect.Slice:
		switch n := v.Len(); {
		case op%4 == 0 && n > 0:
			// Drop one item.
			i := int(r.byte()) % n
			v.Set(reflect.AppendSlice(v.Slice(0, i), v.Slice(i+1, n)))
		case op%4 == 1 && n > 0 && n < 64:
			// Repeat one item (a shallow copy: enough for duplicate names,
			// filters and backendRefs).
			v.Set(reflect.Append(v, v.Index(int(r.byte())%n)))
		case op%4 == 2 && n < 64:
			v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
		default:
			v.Set(reflect.Zero(v.Type()))
		}
	}
}

// TestFuzzSeedsValid runs the model checks of FuzzBuild on the golden
// inputs themselves, so a plain go test shows a golden case that a
// provider would refuse as such, not as a fuzz failure.
func TestFuzzSeedsValid(t *testing.T) {
	ins, _ := filepath.Glob("testdata/*.in.yaml")
	for _, in := range ins {
		t.Run(strings.TrimSuffix(filepath.Base(in), ".in.yaml"), func(t *testing.T) {
			s := loadSnapshot(t, in)
			checkResult(t, s, Build(s))
		})
	}
}
