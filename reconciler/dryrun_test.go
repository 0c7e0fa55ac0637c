package reconciler

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cloudgate-dev/cloudgate/providers"
)

// TestDryRunMessageFits checks that the plan of a large Gateway (2,000
// rules, each with a diff naming a non-ASCII path) fits the API server's
// limit on a condition message, cut on a character boundary, and that a
// short one is left whole.
func TestDryRunMessageFits(t *testing.T) {
	var p providers.Plan
	for i := range 2000 {
		p.Steps = append(p.Steps, providers.Step{Kind: providers.KindRule, LogicalID: fmt.Sprintf("http-80/ns/r/rule-%d", i),
			CloudID: "lb-1", Action: providers.ActionUpdate, Why: providers.WhyChanged,
			Diff: providers.Diff{{Field: "match.path.value", Old: `"/ä"`, New: `"/ö"`}}})
	}
	full := "Not applied: " + p.Pending()
	msg := bounded(full, maxDryRunMessage)
	if len(full) <= maxDryRunMessage {
		t.Fatalf("the test plan is only %d bytes", len(full))
	}
	if len(msg) > maxDryRunMessage || !utf8.ValidString(msg) || !strings.HasPrefix(msg, "Not applied: would update 2000 rules\n") || !strings.HasSuffix(msg, "…") {
		t.Errorf("a %d-byte plan became a %d-byte message (valid UTF-8: %v) ending %q", len(full), len(msg), utf8.ValidString(msg), msg[len(msg)-20:])
	}
	if short := "Not applied: no changes"; bounded(short, maxDryRunMessage) != short {
		t.Errorf("a short message was cut")
	}
}
