package mapping

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudgate-dev/cloudgate/api/v1alpha1"
	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// The parameters' healthCheck becomes the lb.HealthCheck of every target
// group. Its fields merge one by one (the Gateway's over the class's), so
// the CRD's rules that relate two fields (timeout below interval, no path
// on a TCP probe) are checked again here, on the merged values, as are the
// others for objects stored under older CRDs. A bad value makes the
// Gateway Accepted=False/InvalidParameters, naming the field.

// mergeHealthCheck lays the fields spec sets over into, and tells set
// each field it sets, by its JSON name, with the value as written.
func mergeHealthCheck(into, spec *v1alpha1.HealthCheck, set func(field, value string)) {
	str := func(s string) string { return s }
	num := func(n int32) string { return strconv.Itoa(int(n)) }
	dur := func(d metav1.Duration) string { return seconds(d.Duration) }
	overlay(&into.Protocol, spec.Protocol, "protocol", str, set)
	overlay(&into.Path, spec.Path, "path", str, set)
	overlay(&into.Port, spec.Port, "port", num, set)
	overlay(&into.Interval, spec.Interval, "interval", dur, set)
	overlay(&into.Timeout, spec.Timeout, "timeout", dur, set)
	overlay(&into.HealthyThreshold, spec.HealthyThreshold, "healthyThreshold", num, set)
	overlay(&into.UnhealthyThreshold, spec.UnhealthyThreshold, "unhealthyThreshold", num, set)
	overlay(&into.SuccessCodes, spec.SuccessCodes, "successCodes", str, set)
}

// overlay sets *into to from when the more specific parameters set it.
func overlay[T any](into **T, from *T, field string, format func(T) string, set func(field, value string)) {
	if from != nil {
		*into = from
		set(field, format(*from))
	}
}

// healthCheckPath is the CRD's pattern for healthCheck.path: RFC 3986 path
// characters, %XX escapes and a query, no whitespace, control characters
// or fragment.
var healthCheckPath = regexp.MustCompile(`^/[A-Za-z0-9._~!$&'()*+,;=:@/%?-]*$`)

// healthCheck converts the merged healthCheck and lists its bad values.
func healthCheck(h v1alpha1.HealthCheck) (*lb.HealthCheck, []string) {
	var bad []string
	fail := func(field, format string, a ...any) {
		bad = append(bad, "healthCheck."+field+": "+fmt.Sprintf(format, a...))
	}
	out := &lb.HealthCheck{}
	if h.Protocol != nil {
		switch p := lb.Protocol(*h.Protocol); p {
		case lb.ProtocolHTTP, lb.ProtocolHTTPS, lb.ProtocolTCP:
			out.Protocol = p
		default:
			fail("protocol", "%s is not HTTP, HTTPS or TCP", quote(*h.Protocol))
		}
	}
	if h.Path != nil {
		if len(*h.Path) > maxPath || !healthCheckPath.MatchString(*h.Path) {
			fail("path", "%s is not a path of at most %d bytes (\"/\" first, RFC 3986 path and query characters)", quote(*h.Path), maxPath)
		} else {
			out.Path = *h.Path
		}
	}
	if h.Port != nil {
		if *h.Port < 1 || *h.Port > 65535 {
			fail("port", "%d is not between 1 and 65535", *h.Port)
		} else {
			out.Port = *h.Port
		}
	}
	duration := func(field string, d *time.Duration, from, to time.Duration) {
		if *d != 0 && (*d < from || *d > to) {
			fail(field, "%s is not between %s and %s", seconds(*d), seconds(from), seconds(to))
			*d = 0
		}
	}
	if h.Interval != nil {
		out.Interval = h.Interval.Duration
		if out.Interval == 0 {
			fail("interval", "must not be 0s")
		}
		duration("interval", &out.Interval, lb.MinHealthCheckInterval, lb.MaxHealthCheckInterval)
	}
	if h.Timeout != nil {
		out.Timeout = h.Timeout.Duration
		if out.Timeout == 0 {
			fail("timeout", "must not be 0s")
		}
		duration("timeout", &out.Timeout, lb.MinHealthCheckTimeout, lb.MaxHealthCheckTimeout)
	}
	if out.Interval != 0 && out.Timeout >= out.Interval {
		fail("timeout", "%s must be shorter than interval %s", seconds(out.Timeout), seconds(out.Interval))
	}
	threshold := func(field string, t *int32) int {
		if t == nil {
			return 0
		}
		if *t < lb.MinHealthCheckThreshold || *t > lb.MaxHealthCheckThreshold {
			fail(field, "%d is not between %d and %d", *t, lb.MinHealthCheckThreshold, lb.MaxHealthCheckThreshold)
			return 0
		}
		return int(*t)
	}
	out.HealthyThreshold = threshold("healthyThreshold", h.HealthyThreshold)
	out.UnhealthyThreshold = threshold("unhealthyThreshold", h.UnhealthyThreshold)
	if h.SuccessCodes != nil {
		codes, ok := successCodes(*h.SuccessCodes)
		if !ok {
			fail("successCodes", "%s is not a list of status codes and ranges between 200 and 499, such as \"200,300-399\"", quote(*h.SuccessCodes))
		}
		out.SuccessCodes = codes
	}
	if out.Protocol == lb.ProtocolTCP && (out.Path != "" || len(out.SuccessCodes) > 0) {
		bad = append(bad, "healthCheck: path and successCodes apply to HTTP and HTTPS probes only")
	}
	if len(bad) > 0 {
		return nil, bad
	}
	return out, nil
}

// seconds formats d in seconds, as the CRD's bounds are written.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// maxSuccessCodes bounds healthCheck.successCodes as the CRD does.
const maxSuccessCodes = 128

// successCodes parses "200,204,300-399" into sorted ranges, overlapping
// and adjacent ones merged so that equal sets of codes give equal models.
func successCodes(s string) ([]lb.CodeRange, bool) {
	if s == "" || len(s) > maxSuccessCodes {
		return nil, false
	}
	code := func(v string) (int, bool) {
		n, err := strconv.Atoi(v)
		return n, err == nil && len(v) == 3 && n >= 200 && n <= 499
	}
	var out []lb.CodeRange
	for _, part := range strings.Split(s, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, ok := code(from)
		if !ok {
			return nil, false
		}
		b := a
		if isRange {
			if b, ok = code(to); !ok || b < a {
				return nil, false
			}
		}
		out = append(out, lb.CodeRange{From: a, To: b})
	}
	slices.SortFunc(out, func(x, y lb.CodeRange) int { return cmp.Or(cmp.Compare(x.From, y.From), cmp.Compare(x.To, y.To)) })
	merged := out[:1]
	for _, r := range out[1:] {
		last := &merged[len(merged)-1]
		if r.From <= last.To+1 {
			last.To = max(last.To, r.To)
			continue
		}
		merged = append(merged, r)
	}
	return merged, true
}

// withHealthCheck gives every target group its own copy of hc.
func withHealthCheck(groups []lb.TargetGroup, hc *lb.HealthCheck) {
	if hc == nil {
		return
	}
	for i := range groups {
		c := *hc
		c.SuccessCodes = slices.Clone(hc.SuccessCodes)
		groups[i].HealthCheck = &c
	}
}
