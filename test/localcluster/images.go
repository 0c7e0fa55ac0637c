package localcluster

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
)

// imageMap resolves image references to local binaries.
type imageMap struct {
	prefixes map[string]string
	mu       sync.Mutex
	digests  map[string]string // binary path → "sha256:…", computed once
}

func newImageMap(prefixes map[string]string) *imageMap {
	return &imageMap{prefixes: prefixes, digests: map[string]string{}}
}

// notRunnableError says why an image cannot run; it becomes the container's
// waiting message.
type notRunnableError struct{ msg string }

func (e *notRunnableError) Error() string { return e.msg }

// resolve returns the binary for image and an image ID naming the binary and
// its digest, so that status shows what really runs.
func (m *imageMap) resolve(image string) (binary, imageID string, err error) {
	prefix, ok := m.match(image)
	if !ok {
		known := slices.Sorted(maps.Keys(m.prefixes))
		return "", "", &notRunnableError{fmt.Sprintf("image %q has no local binary: the local cluster runs only images mapped in its image map (%s)", image, strings.Join(known, ", "))}
	}
	binary = m.prefixes[prefix]
	digest, err := m.digest(binary)
	if err != nil {
		return "", "", &notRunnableError{fmt.Sprintf("image %q maps to %s, which cannot be read: %v", image, binary, err)}
	}
	return binary, "file://" + binary + "@" + digest, nil
}

// match finds the longest prefix of image that ends at a boundary of the
// reference (the end, or before ':', '@' or '/'), so that ".../echo-basic"
// matches ".../echo-basic:v1" but not ".../echo-basic-tls".
func (m *imageMap) match(image string) (string, bool) {
	best, found := "", false
	for p := range m.prefixes {
		rest, ok := strings.CutPrefix(image, p)
		if !ok || len(p) < len(best) {
			continue
		}
		boundary := rest == "" || strings.ContainsRune(":@/", rune(rest[0])) ||
			strings.HasSuffix(p, ":") || strings.HasSuffix(p, "@") || strings.HasSuffix(p, "/")
		if boundary {
			best, found = p, true
		}
	}
	return best, found
}

func (m *imageMap) digest(binary string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d, ok := m.digests[binary]; ok {
		return d, nil
	}
	f, err := os.Open(binary)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("not an executable file")
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	d := "sha256:" + hex.EncodeToString(h.Sum(nil))
	m.digests[binary] = d
	return d, nil
}

// ImageMapped reports whether images (prefixes to binaries, as DefaultImages
// returns) gives image a binary, by the same longest-prefix rule the process
// kubelet uses; tests use it to check that a suite's manifests can run.
func ImageMapped(images map[string]string, image string) bool {
	_, ok := newImageMap(images).match(image)
	return ok
}
