package image

import (
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Size is what one platform's image weighs.
type Size struct {
	Platform v1.Platform
	// Compressed is what a pull downloads: manifest, config and layers.
	Compressed int64
	// Uncompressed is the layers' unpacked tar size, about the disk use.
	Uncompressed int64
}

func (s Size) String() string {
	return fmt.Sprintf("%s: %.1f MiB compressed, %.1f MiB uncompressed", s.Platform, mib(s.Compressed), mib(s.Uncompressed))
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// Sizes measures every image of index, in index order.
func Sizes(index v1.ImageIndex) ([]Size, error) {
	m, err := index.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []Size
	for _, d := range m.Manifests {
		img, err := index.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		s := Size{Compressed: d.Size}
		if d.Platform != nil {
			s.Platform = *d.Platform
		}
		im, err := img.Manifest()
		if err != nil {
			return nil, err
		}
		s.Compressed += im.Config.Size
		layers, err := img.Layers()
		if err != nil {
			return nil, err
		}
		for _, l := range layers {
			n, err := l.Size()
			if err != nil {
				return nil, err
			}
			s.Compressed += n
			rc, err := l.Uncompressed()
			if err != nil {
				return nil, err
			}
			u, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
			s.Uncompressed += u
		}
		out = append(out, s)
	}
	return out, nil
}
