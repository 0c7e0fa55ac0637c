package localcluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// A mountPath nested in another mount of the container gets its mount point
// inside the parent volume, never on the host; the parent mounts first.
func TestContainerMountsNested(t *testing.T) {
	vols := t.TempDir()
	dirs := map[string]string{"outer": filepath.Join(vols, "outer"), "inner": filepath.Join(vols, "inner")}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dirs["inner"], "conf.yaml"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &corev1.Container{VolumeMounts: []corev1.VolumeMount{
		{Name: "inner", MountPath: "/srv/app/conf/conf.yaml", SubPath: "conf.yaml", ReadOnly: true},
		{Name: "outer", MountPath: "/srv/app/"},
	}}
	mounts, points, err := containerMounts(c, dirs)
	if err != nil {
		t.Fatal(err)
	}
	want := []bindMount{
		{source: dirs["outer"], target: "/srv/app"},
		{source: filepath.Join(dirs["inner"], "conf.yaml"), target: "/srv/app/conf/conf.yaml", readOnly: true},
	}
	if !slices.Equal(mounts, want) {
		t.Errorf("mounts\n got %+v\nwant %+v", mounts, want)
	}
	if want := []mountPoint{{path: "/srv/app"}}; !slices.Equal(points, want) {
		t.Errorf("host mount points %+v, want %+v", points, want)
	}
	st, err := os.Stat(filepath.Join(dirs["outer"], "conf", "conf.yaml"))
	if err != nil || !st.Mode().IsRegular() {
		t.Errorf("the file mount point inside the outer volume: %v, %v", st, err)
	}

	for _, bad := range []corev1.VolumeMount{{Name: "outer", MountPath: "/"}, {Name: "outer", MountPath: "relative"}, {Name: "outer", MountPath: "/x", SubPath: "../../etc"}} {
		if _, _, err := containerMounts(&corev1.Container{VolumeMounts: []corev1.VolumeMount{bad}}, dirs); err == nil {
			t.Errorf("volumeMount %+v was accepted", bad)
		}
	}
}

// Mount points are counted per Pod: created when missing, removed when the
// last Pod goes, and a directory that was already there is never removed.
func TestMountPointsCreateAndRemove(t *testing.T) {
	base := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, "pre"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := newMountPoints(t.TempDir())
	first, err := m.acquire([]mountPoint{{path: base + "/a/b"}, {path: base + "/pre/x"}, {path: base + "/f", file: true}})
	if err != nil {
		t.Fatal(err)
	}
	second, err := m.acquire([]mountPoint{{path: base + "/a/b"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := readMountPoints(m.clusterDir); !slices.Equal(got, []string{base + "/a", base + "/a/b", base + "/f", base + "/pre/x"}) {
		t.Errorf("recorded %q", got)
	}
	if st, err := os.Stat(base + "/f"); err != nil || !st.Mode().IsRegular() {
		t.Errorf("file mount point: %v, %v", st, err)
	}
	m.release(first)
	for p, want := range map[string]bool{"/a/b": true, "/pre": true, "/pre/x": false, "/f": false} {
		if _, err := os.Stat(base + p); (err == nil) != want {
			t.Errorf("after the first Pod: %s exists %v, want %v", p, err == nil, want)
		}
	}
	m.release(second)
	for p, want := range map[string]bool{"/a": false, "/pre": true} {
		if _, err := os.Stat(base + p); (err == nil) != want {
			t.Errorf("after the second Pod: %s exists %v, want %v", p, err == nil, want)
		}
	}
	if got := readMountPoints(m.clusterDir); len(got) != 0 {
		t.Errorf("still recorded: %q", got)
	}
}

// A mount point another live cluster created is shared: the first cluster to
// let go leaves it for the other.
func TestMountPointsSharedWithALiveCluster(t *testing.T) {
	base := t.TempDir()
	shared := base + "/shared"
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	// pid 1 is alive, so this stands for another test process's cluster.
	other, err := os.MkdirTemp("", stateDirPrefix+"1-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(other)
	if err := os.WriteFile(filepath.Join(other, mountPointsFile), []byte(shared+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := newMountPoints(t.TempDir())
	held, err := m.acquire([]mountPoint{{path: shared}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(readMountPoints(m.clusterDir), shared) {
		t.Errorf("the shared mount point is not recorded as this cluster's too")
	}
	m.release(held)
	if _, err := os.Stat(shared); err != nil {
		t.Fatalf("removed while the other cluster lists it: %v", err)
	}
	os.RemoveAll(other)
	held, err = m.acquire([]mountPoint{{path: shared}})
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 0 {
		t.Errorf("a directory no cluster lists was taken as created: %q", held)
	}
}

// The next Start removes the mount points of a cluster whose process died.
func TestRemoveStaleMountPoints(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	pid := dead.Process.Pid
	if alive(pid) {
		t.Fatalf("pid %d, just reaped, runs again", pid)
	}
	base := t.TempDir()
	left := []string{base + "/stale", base + "/stale/mp"}
	if err := os.MkdirAll(left[1], 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", stateDirPrefix+strconv.Itoa(pid)+"-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, mountPointsFile), []byte(left[0]+"\n"+left[1]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	removeStale()
	for _, p := range append(left, dir) {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is left after removeStale (%v)", p, err)
		}
	}
}

// A volume mounted over the directory that holds the other volumes (an
// emptyDir at /tmp, while the cluster's directory is under /tmp) must not
// hide their sources: the script opens every source before the first mount.
func TestMountScriptSourceUnderAnEarlierMount(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("unshare (util-linux) is needed: %v", err)
	}
	base := t.TempDir()
	// The "cluster directory" holds both volumes; the first mount covers it.
	dirs := map[string]string{"tmp": filepath.Join(base, "tmp-volume"), "token": filepath.Join(base, "token-volume")}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dirs["token"], "token"), []byte("t0k"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &corev1.Container{VolumeMounts: []corev1.VolumeMount{
		{Name: "tmp", MountPath: base},
		{Name: "token", MountPath: base + "/secrets", ReadOnly: true},
	}}
	mounts, _, err := containerMounts(c, dirs)
	if err != nil {
		t.Fatal(err)
	}
	// The working directory (the Pod's, by default) is under the covered
	// directory too.
	work := filepath.Join(base, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "marker"), []byte("here:"), 0o644); err != nil {
		t.Fatal(err)
	}
	// And so is the program, as the image's binary is when a test builds it
	// under the temporary directory.
	cat, err := exec.LookPath("cat")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(cat)
	if err != nil {
		t.Fatal(err)
	}
	program := filepath.Join(work, "cat")
	if err := os.WriteFile(program, data, 0o755); err != nil {
		t.Fatal(err)
	}
	p := process{Argv: []string{program, "marker", base + "/secrets/token"}, Dir: work, Mounts: mounts}
	argv, err := p.wrapped()
	if err != nil {
		t.Fatal(err)
	}
	// `ip netns exec` gives each container such a namespace: new, and a
	// slave of the host's mounts.
	out, err := exec.Command("unshare", append([]string{"--mount", "--propagation", "slave"}, argv...)...).CombinedOutput()
	if err != nil || string(out) != "here:t0k" {
		t.Fatalf("reading the token through the mounts: %v: %q", err, out)
	}
	if _, err := os.Stat(filepath.Join(dirs["tmp"], "secrets", "token")); !os.IsNotExist(err) {
		t.Errorf("the token's mount point leaked into the host's view of the tmp volume: %v", err)
	}
}

// A container gets its Pod's hostname in a UTS namespace of its own, and
// the host keeps its name.
func TestHostnameIsThePods(t *testing.T) {
	before, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	p := process{Argv: []string{"cat", "/proc/sys/kernel/hostname"}, Dir: "/", Hostname: "cloudgate-5d8f-x2kq"}
	argv, err := p.wrapped()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("unshare", append([]string{"--mount", "--propagation", "slave"}, argv...)...).CombinedOutput()
	if err != nil || string(out) != "cloudgate-5d8f-x2kq\n" {
		t.Fatalf("the container's hostname: %v: %q", err, out)
	}
	if after, _ := os.Hostname(); after != before {
		t.Errorf("the host's name changed from %q to %q", before, after)
	}
}
