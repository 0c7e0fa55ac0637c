// Command generate writes the Helm chart's generated files and the kustomize
// base (package chartgen); `make generate` runs it from the source tree's
// root after controller-gen.
package main

import (
	"fmt"
	"os"

	"github.com/cloudgate-dev/cloudgate/deploy/helm/chartgen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func run() error {
	files, err := chartgen.ChartFiles(".")
	if err != nil {
		return err
	}
	if err := chartgen.Write(".", files, chartgen.ChartDirs); err != nil {
		return err
	}
	// The base renders the chart as it is now on disk.
	base, err := chartgen.KustomizeFiles()
	if err != nil {
		return err
	}
	return chartgen.Write(".", base, chartgen.KustomizeDirs)
}
