package mapping

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryReasonHasGolden fails when the code uses a condition reason that
// no golden output shows: DESIGN.md asks for one case per reason.
func TestEveryReasonHasGolden(t *testing.T) {
	used := map[string]bool{} // identifier names like ListenerReasonHostnameConflict
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "gwv1" && strings.Contains(sel.Sel.Name, "Reason") &&
					!strings.HasSuffix(sel.Sel.Name, "ConditionReason") { // a type, not a reason
					used[sel.Sel.Name] = true
				}
			}
			return true
		})
	}
	var goldens strings.Builder
	outs, _ := filepath.Glob("testdata/*.out.yaml")
	for _, o := range outs {
		b, err := os.ReadFile(o)
		if err != nil {
			t.Fatal(err)
		}
		goldens.Write(b)
	}
	all := goldens.String()
	for name := range used {
		// The value is the identifier without its "<Kind>Reason" prefix.
		value := name[strings.Index(name, "Reason")+len("Reason"):]
		if !strings.Contains(all, "reason: "+value+"\n") {
			t.Errorf("reason %s (%q) has no golden case", name, value)
		}
	}
}
