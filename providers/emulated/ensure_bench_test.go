package emulated_test

import (
	"fmt"
	"testing"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// BenchmarkEnsureOneRuleAdded measures an Ensure of a model with n rules
// and one more rule than the last Ensure had, as a route added to a
// Gateway makes it: the plan, the PATCH, the cloud's merge and the data
// plane's recompile, in process. Each op starts from the same n rules (the
// added rule is taken out again off the clock), so that the figure is of
// n rules, not of n plus however many ops ran; every added rule has a new
// name and path, so nothing of an earlier op is reused.
func BenchmarkEnsureOneRuleAdded(b *testing.B) {
	for _, n := range []int{10, 3000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			srv := startCloud(b)
			p := newProvider(b, srv)
			m := manyRules(owner("bench"), n, deadTarget(b))
			ensure(b, p, m)
			vh := &m.Listeners[0].VirtualHosts[0]
			// Room for the added rule, so that the caller's append is not
			// counted as Ensure's allocation.
			vh.Rules = append(make([]lb.Rule, 0, n+1), vh.Rules...)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				name := fmt.Sprintf("added-%d", i)
				vh.Rules = append(vh.Rules[:n], forward(name, lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: "/" + name}}, to("g", 1)))
				ensure(b, p, m)

				b.StopTimer()
				vh.Rules = vh.Rules[:n]
				ensure(b, p, m)
				b.StartTimer()
			}
		})
	}
}
