package conformance

import (
	"bufio"
	"io/fs"
	"strings"
	"testing"

	"sigs.k8s.io/gateway-api/conformance"

	"github.com/cloudgate-dev/cloudgate/test/localcluster"
)

// TestImagesMapped checks, without a cluster, that every image the suite's
// manifests name runs on the local cluster: an image the process kubelet
// cannot map leaves its Pods not Ready, and the whole run then fails after
// the readiness timeout rather than at once.
func TestImagesMapped(t *testing.T) {
	images := localcluster.DefaultImages("/bin")
	seen := map[string]bool{}
	err := fs.WalkDir(conformance.Manifests, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		f, err := conformance.Manifests.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "- "))
			image, ok := strings.CutPrefix(line, "image:")
			if !ok {
				continue
			}
			image = strings.Trim(strings.TrimSpace(image), `"'`)
			if seen[image] {
				continue
			}
			seen[image] = true
			if !localcluster.ImageMapped(images, image) {
				t.Errorf("%s: image %s has no local binary in localcluster.DefaultImages", path, image)
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 {
		t.Fatal("found no images in the suite's manifests")
	}
	t.Logf("images the suite's manifests name: %v", seen)
}
