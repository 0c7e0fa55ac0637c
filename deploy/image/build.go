package image

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed facts, which the Helm chart and the tests rely on.
const (
	// Entrypoint is the binary's path in the image.
	Entrypoint = "/cloudgate"
	// User is the numeric user and group the controller runs as (the
	// conventional "nonroot" of distroless images).
	User = "65532:65532"
	// CABundle is where the CA certificates are, the first place Go's
	// crypto/x509 looks on Linux (so no SSL_CERT_FILE is needed).
	CABundle = "/etc/ssl/certs/ca-certificates.crt"

	LabelSource   = "org.opencontainers.image.source"
	LabelVersion  = "org.opencontainers.image.version"
	LabelRevision = "org.opencontainers.image.revision"
	LabelTitle    = "org.opencontainers.image.title"
	LabelCreated  = "org.opencontainers.image.created"
)

// DefaultPlatforms are the platforms the image is built for.
var DefaultPlatforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// BuildOptions say what to build. Dir is required; the rest have defaults.
type BuildOptions struct {
	// Dir is the module's root, where `go build` runs.
	Dir string
	// Package is the main package to build; default ./cmd/cloudgate.
	Package string
	// Platforms default to DefaultPlatforms.
	Platforms []v1.Platform
	// Version and Revision are linked into the binary (main.version and
	// main.revision) and become labels; default "dev" and "unknown".
	Version, Revision string
	// Source is the source repository's URL, the source label.
	Source string
	// Created is the image's creation time and every file's time; the
	// zero value means the Unix epoch. SourceDate gives the usual choice.
	Created time.Time
	// CACertFile is the CA bundle copied into the image; default the build
	// host's CABundle.
	CACertFile string
	// GoCommand is the go command to run; default "go" from PATH.
	GoCommand string
}

func (o *BuildOptions) defaults() {
	if o.Package == "" {
		o.Package = "./cmd/cloudgate"
	}
	if len(o.Platforms) == 0 {
		o.Platforms = DefaultPlatforms
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Revision == "" {
		o.Revision = "unknown"
	}
	if o.CACertFile == "" {
		o.CACertFile = CABundle
	}
	if o.GoCommand == "" {
		o.GoCommand = "go"
	}
	if o.Created.IsZero() {
		o.Created = time.Unix(0, 0)
	}
	// Tar headers and the config keep whole seconds in UTC; anything finer
	// would only make two equal builds differ.
	o.Created = o.Created.UTC().Truncate(time.Second)
}

// Build cross-compiles the controller for every platform and returns the
// multi-platform image index. Nothing is written outside a temporary
// directory that Build removes.
func Build(ctx context.Context, o BuildOptions) (v1.ImageIndex, error) {
	if o.Dir == "" {
		return nil, fmt.Errorf("image: BuildOptions.Dir (the module root) is empty")
	}
	o.defaults()
	ca, err := os.ReadFile(o.CACertFile)
	if err != nil {
		return nil, fmt.Errorf("reading the CA bundle (make host-tools installs ca-certificates): %w", err)
	}
	if !bytes.Contains(ca, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("%s holds no PEM certificate", o.CACertFile)
	}
	tmp, err := os.MkdirTemp("", "cloudgate-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	labels := map[string]string{
		LabelTitle:    "cloudgate",
		LabelVersion:  o.Version,
		LabelRevision: o.Revision,
	}
	if o.Source != "" {
		labels[LabelSource] = o.Source
	}

	var idx v1.ImageIndex = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range o.Platforms {
		bin := filepath.Join(tmp, p.OS+"-"+p.Architecture, "cloudgate")
		if err := goBuild(ctx, o, p, bin); err != nil {
			return nil, err
		}
		img, err := platformImage(o, p, bin, ca, labels)
		if err != nil {
			return nil, fmt.Errorf("image for %s: %w", p, err)
		}
		plat := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: &plat},
		})
	}
	annotations := map[string]string{LabelCreated: o.Created.Format(time.RFC3339)}
	for k, v := range labels {
		annotations[k] = v
	}
	return mutate.Annotations(idx, annotations).(v1.ImageIndex), nil
}

// goBuild builds a static binary: no cgo (so no libc and no interpreter),
// no paths of the build machine and no VCS stamp (so that two checkouts of
// one commit link the same bytes), no symbol tables (a smaller image).
func goBuild(ctx context.Context, o BuildOptions, p v1.Platform, out string) error {
	ldflags := fmt.Sprintf("-s -w -X main.version=%s -X main.revision=%s", o.Version, o.Revision)
	cmd := exec.CommandContext(ctx, o.GoCommand, "build", "-trimpath", "-buildvcs=false",
		"-ldflags", ldflags, "-o", out, o.Package)
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s: %w\n%s", o.Package, p, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func platformImage(o BuildOptions, p v1.Platform, bin string, ca []byte, labels map[string]string) (v1.Image, error) {
	exe, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	layer, err := newLayer(o.Created, []file{
		{name: strings.TrimPrefix(Entrypoint, "/"), mode: 0o755, data: exe},
		{name: strings.TrimPrefix(CABundle, "/"), mode: 0o644, data: ca},
	})
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   v1.Time{Time: o.Created},
			CreatedBy: "deploy/image: " + Entrypoint + " and " + CABundle,
			Comment:   "cloudgate " + o.Version,
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: o.Created}
	cf.Config = v1.Config{
		Entrypoint: []string{Entrypoint},
		User:       User,
		WorkingDir: "/",
		Labels:     labels,
	}
	return mutate.ConfigFile(img, cf)
}

// SourceDate is the creation time reproducible builds use: SOURCE_DATE_EPOCH
// when set (the convention of reproducible-builds.org), else the time of
// dir's HEAD commit, else the Unix epoch.
func SourceDate(ctx context.Context, dir string) (time.Time, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", s)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	cmd := exec.CommandContext(ctx, "git", "log", "-1", "--format=%ct")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return time.Unix(0, 0).UTC(), nil
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("git log printed %q, not a commit time", out)
	}
	return time.Unix(sec, 0).UTC(), nil
}
