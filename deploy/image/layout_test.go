package image_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"

	"github.com/cloudgate-dev/cloudgate/deploy/image"
)

// TestWriteLayoutKeepsOtherDirectories: `make image` replaces its layout,
// but a mistyped -layout never deletes someone's directory.
func TestWriteLayoutKeepsOtherDirectories(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := image.WriteLayout(dir, empty.Index, "x"); err == nil {
		t.Error("WriteLayout replaced a directory that is not an OCI layout")
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the directory's file is gone: %v", err)
	}
}

func TestSourceDate(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1764619200")
	got, err := image.SourceDate(t.Context(), ".")
	if err != nil || !got.Equal(time.Unix(1764619200, 0)) {
		t.Errorf("SourceDate = %v, %v; want SOURCE_DATE_EPOCH's time", got, err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, err := image.SourceDate(t.Context(), "."); err == nil {
		t.Error("SOURCE_DATE_EPOCH=yesterday accepted")
	}
	// Without it, the commit's time: a real one, not the epoch.
	t.Setenv("SOURCE_DATE_EPOCH", "")
	got, err = image.SourceDate(t.Context(), ".")
	if err != nil || got.Year() < 2020 {
		t.Errorf("SourceDate in the repository = %v, %v; want HEAD's commit time", got, err)
	}
}
