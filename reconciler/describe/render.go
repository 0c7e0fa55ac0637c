package describe

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Format is how Render prints a Report.
type Format string

// Formats.
const (
	FormatText Format = "text"
	FormatJSON Format = "json"
	FormatYAML Format = "yaml"
)

// Render prints the report in format f.
func (r *Report) Render(f Format) (string, error) {
	switch f {
	case FormatText, "":
		return r.String(), nil
	case FormatJSON:
		b, err := json.MarshalIndent(r, "", "  ")
		return string(b) + "\n", err
	case FormatYAML:
		b, err := yaml.Marshal(r)
		return string(b), err
	}
	return "", fmt.Errorf("unknown output format %q (want text, json or yaml)", f)
}

// String is the report for people, in sections, in the order one reads a
// Gateway: what it is, what it is made of, what the controller would do.
func (r *Report) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	g := r.Gateway
	fmt.Fprintf(tw, "Gateway:\t%s/%s\n", g.Namespace, g.Name)
	class := g.Class
	if g.Controller != "" {
		class += " (controller " + g.Controller + ")"
	}
	fmt.Fprintf(tw, "Class:\t%s\n", class)
	dry := "no"
	if g.DryRun != "" {
		dry = g.DryRun
	}
	fmt.Fprintf(tw, "Dry run:\t%s\n", dry)
	fmt.Fprintf(tw, "Addresses:\t%s\n", orNone(strings.Join(g.Addresses, ", ")))
	tw.Flush()
	writeConditions(&b, "Conditions:", "  ", g.Conditions)

	b.WriteString("\nListeners:\n")
	if len(g.Listeners) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, l := range g.Listeners {
		host := ""
		if l.Hostname != "" {
			host = " " + l.Hostname
		}
		fmt.Fprintf(&b, "  %s: %s %d%s, %d attached routes\n", l.Name, l.Protocol, l.Port, host, l.AttachedRoutes)
		writeConditions(&b, "", "    ", l.Conditions)
	}

	b.WriteString("\nParameters (effective, after the merge):\n")
	if len(r.Parameters) == 0 {
		b.WriteString("  (none: every field takes the provider's behaviour)\n")
	}
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, p := range r.Parameters {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.Path, p.Value, p.Source)
	}
	tw.Flush()

	b.WriteString("\nRoutes:\n")
	if len(r.Routes) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, rt := range r.Routes {
		fmt.Fprintf(&b, "  %s %s/%s\n", rt.Kind, rt.Namespace, rt.Name)
		if len(rt.Parents) == 0 {
			b.WriteString("    no status for this Gateway yet\n")
		}
		for _, p := range rt.Parents {
			parent := "parent " + g.Namespace + "/" + g.Name
			if p.SectionName != "" {
				parent += " section " + p.SectionName
			}
			if p.Port != 0 {
				parent += fmt.Sprintf(" port %d", p.Port)
			}
			writeConditions(&b, "    "+parent+":", "      ", p.Conditions)
		}
	}

	if r.Plan != nil {
		b.WriteString("\nPlan (a dry run: what a reconcile would do now):\n")
		for _, line := range strings.Split(r.Plan.Text, "\n") {
			b.WriteString("  " + strings.TrimPrefix(line, "  ") + "\n")
		}
		b.WriteString("\nCloud resources:\n")
		if len(r.Resources) == 0 {
			b.WriteString("  (none yet)\n")
		}
		tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		for _, res := range r.Resources {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", res.Kind, res.LogicalID, res.CloudID)
		}
		tw.Flush()
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nNotes:\n")
		for _, n := range r.Notes {
			b.WriteString("  " + n + "\n")
		}
	}
	return b.String()
}

// writeConditions prints a heading (when not empty) and one condition a
// line: type, status, reason, message (a message of several lines, a dry
// run's plan, goes on under it).
func writeConditions(b *strings.Builder, heading, indent string, conds []metav1.Condition) {
	if heading != "" {
		b.WriteString(heading + "\n")
	}
	if len(conds) == 0 {
		b.WriteString(indent + "(no conditions)\n")
		return
	}
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	for _, c := range conds {
		first, rest, _ := strings.Cut(c.Message, "\n")
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\n", indent, c.Type, c.Status, c.Reason, first)
		for _, line := range strings.Split(rest, "\n") {
			if line != "" {
				fmt.Fprintf(tw, "%s  \t\t\t%s\n", indent, strings.TrimSpace(line))
			}
		}
	}
	tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
