package image_test

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/cloudgate-dev/cloudgate/deploy/image"
)

const (
	testVersion  = "v0.0.0-test"
	testRevision = "0123456789abcdef0123456789abcdef01234567"
	testSource   = "https://example.com/cloudgate"
)

var machines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// TestImage builds the image for real, pushes it to a registry, pulls it
// back and checks what a cluster relies on when it runs it. The binary is a
// stand-in (testdata/standin) built exactly as the controller is: the
// controller for arm64 would be the whole tree compiled once more (most of
// a cold `make test`); `make image` builds the controller.
func TestImage(t *testing.T) {
	opts := image.BuildOptions{Dir: "../..", Package: "./deploy/image/testdata/standin", Version: testVersion, Revision: testRevision,
		Source: testSource, Created: time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)}
	start := time.Now()
	idx, err := image.Build(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built both platforms in %s", time.Since(start).Round(100*time.Millisecond))
	built, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/cloudgate/controller:" + testVersion
	pushed, err := image.Push(t.Context(), idx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if pushed.DigestStr() != built.String() {
		t.Errorf("pushed %s, built %s", pushed, built)
	}

	pulled := pull(t, ref)
	if d, _ := pulled.Digest(); d != built {
		t.Fatalf("pulled index %s by tag, pushed %s", d, built)
	}
	checkIndex(t, pulled, ca(t))

	sizes, err := image.Sizes(pulled)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sizes {
		t.Log(s)
	}

	// The layout `make image` writes reads back as the same index.
	dir := filepath.Join(t.TempDir(), "layout")
	if err := image.WriteLayout(dir, idx, testVersion); err != nil {
		t.Fatal(err)
	}
	// Writing again replaces the layout rather than piling up blobs.
	if err := image.WriteLayout(dir, idx, testVersion); err != nil {
		t.Fatal(err)
	}
	fromDisk, err := image.ReadLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := fromDisk.Digest(); d != built {
		t.Errorf("layout holds index %s, built %s", d, built)
	}
	if err := validate.Index(fromDisk); err != nil {
		t.Errorf("layout: %v", err)
	}

	// Reproducible: the same commit and options give the same digest.
	again, err := image.Build(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := again.Digest(); d != built {
		t.Errorf("a second build has digest %s, the first %s", d, built)
	}
}

func pull(t *testing.T, ref string) v1.ImageIndex {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	// Every digest and size in the index, the manifests and the configs
	// matches the blobs the registry serves.
	if err := validate.Index(idx); err != nil {
		t.Fatalf("pulled index: %v", err)
	}
	return idx
}

func ca(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(image.CABundle)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkIndex(t *testing.T, idx v1.ImageIndex, wantCA []byte) {
	t.Helper()
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIImageIndex {
		t.Errorf("index media type %s, want %s", m.MediaType, types.OCIImageIndex)
	}
	var platforms []string
	for _, d := range m.Manifests {
		if d.Platform == nil {
			t.Fatalf("manifest %s has no platform", d.Digest)
		}
		platforms = append(platforms, d.Platform.String())
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(d.Platform.String(), func(t *testing.T) { checkImage(t, img, *d.Platform, wantCA) })
	}
	slices.Sort(platforms)
	if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(platforms, want) {
		t.Errorf("index platforms %v, want exactly %v", platforms, want)
	}
}

func checkImage(t *testing.T, img v1.Image, p v1.Platform, wantCA []byte) {
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != p.OS || cf.Architecture != p.Architecture {
		t.Errorf("config says %s/%s, index says %s", cf.OS, cf.Architecture, p)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{"/cloudgate"}) {
		t.Errorf("entrypoint %q, want [/cloudgate]", cf.Config.Entrypoint)
	}
	// Numeric and not 0, so that runAsNonRoot can be checked.
	if uid, _, _ := strings.Cut(cf.Config.User, ":"); cf.Config.User != "65532:65532" || uid == "0" {
		t.Errorf("user %q, want 65532:65532", cf.Config.User)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.source":   testSource,
		"org.opencontainers.image.version":  testVersion,
		"org.opencontainers.image.revision": testRevision,
	} {
		if got := cf.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}

	files := layerFiles(t, img)
	exe, ok := files["cloudgate"]
	if !ok {
		t.Fatalf("no /cloudgate in the image; files: %v", keys(files))
	}
	if exe.mode&0o111 != 0o111 || exe.mode&0o022 != 0 {
		t.Errorf("/cloudgate mode %o, want executable by everyone and writable by root only", exe.mode)
	}
	checkStaticELF(t, exe.data, machines[p.Architecture])
	if !bytes.Contains(exe.data, []byte(testRevision)) {
		t.Error("/cloudgate does not hold the revision it was linked with")
	}
	if ca, ok := files["etc/ssl/certs/ca-certificates.crt"]; !ok || !bytes.Equal(ca.data, wantCA) {
		t.Errorf("the image's CA bundle is missing or differs from the build host's")
	}
	// On a host of this platform the binary runs and reports its version.
	if p.Architecture == runtime.GOARCH {
		bin := filepath.Join(t.TempDir(), "cloudgate")
		if err := os.WriteFile(bin, exe.data, 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "version").CombinedOutput()
		if want := "cloudgate " + testVersion + " (revision " + testRevision + ")"; err != nil || strings.TrimSpace(string(out)) != want {
			t.Errorf("/cloudgate version: %q (%v), want %q", out, err, want)
		}
	}
}

func checkStaticELF(t *testing.T, data []byte, machine elf.Machine) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("/cloudgate is not an ELF binary: %v", err)
	}
	if f.Machine != machine {
		t.Errorf("/cloudgate is for %s, want %s", f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("/cloudgate has a program interpreter: it is dynamically linked")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		t.Fatal(err)
	}
	if len(libs) > 0 {
		t.Errorf("/cloudgate needs shared libraries %v", libs)
	}
}

type entry struct {
	mode int64
	data []byte
}

func layerFiles(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1 on an empty base", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(h.Name, "/")] = entry{mode: h.Mode, data: data}
	}
}

func keys(m map[string]entry) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
