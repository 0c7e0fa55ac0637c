package localcluster

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// bindMount is one volumeMount of a container: the host directory (or file)
// bind-mounted at the mountPath inside the container's mount namespace.
type bindMount struct {
	source, target string
	readOnly       bool
}

// mountPoint is a path that must exist on the host before a bind mount can
// cover it: a directory, or an empty file for a subPath that is a file.
type mountPoint struct {
	path string
	file bool
}

// containerMounts lists a container's bind mounts, parents before the mounts
// nested in them, and the mount points that must exist on the host. A
// mountPath nested under another mount of the same container gets its mount
// point inside that volume's directory, so that nothing of it reaches the
// host's filesystem.
func containerMounts(c *corev1.Container, volumeDirs map[string]string) ([]bindMount, []mountPoint, error) {
	var mounts []bindMount
	for _, m := range c.VolumeMounts {
		dir, ok := volumeDirs[m.Name]
		if !ok {
			return nil, nil, configErrorf("volumeMount %q refers to no volume the local cluster made", m.Name)
		}
		target := path.Clean(m.MountPath)
		if !path.IsAbs(target) || target == "/" {
			return nil, nil, configErrorf("volumeMount %q: mountPath %q must be an absolute path below /", m.Name, m.MountPath)
		}
		source := dir
		if m.SubPath != "" {
			source = filepath.Join(dir, m.SubPath)
			if !strings.HasPrefix(source, dir+string(filepath.Separator)) {
				return nil, nil, configErrorf("volumeMount %q: subPath %q leaves the volume", m.Name, m.SubPath)
			}
			// A kubelet creates a missing subPath as a directory.
			if _, err := os.Stat(source); os.IsNotExist(err) {
				if err := os.MkdirAll(source, 0o755); err != nil {
					return nil, nil, err
				}
			}
		}
		mounts = append(mounts, bindMount{source: source, target: target, readOnly: m.ReadOnly})
	}
	slices.SortStableFunc(mounts, func(a, b bindMount) int {
		return strings.Count(a.target, "/") - strings.Count(b.target, "/")
	})

	var points []mountPoint
	for i, m := range mounts {
		st, err := os.Stat(m.source)
		if err != nil {
			return nil, nil, err
		}
		file := !st.IsDir()
		if parent, ok := enclosing(mounts[:i], m.target); ok {
			// Inside the parent volume, which is this Pod's own directory.
			rel := strings.TrimPrefix(m.target, parent.target+"/")
			p := filepath.Join(parent.source, rel)
			if err := makeMountPoint(p, file); err != nil {
				return nil, nil, err
			}
			continue
		}
		points = append(points, mountPoint{path: m.target, file: file})
	}
	return mounts, points, nil
}

// enclosing finds the deepest of mounts whose target holds p.
func enclosing(mounts []bindMount, p string) (bindMount, bool) {
	var best bindMount
	var found bool
	for _, m := range mounts {
		if strings.HasPrefix(p, m.target+"/") && len(m.target) >= len(best.target) {
			best, found = m, true
		}
	}
	return best, found
}

func makeMountPoint(p string, file bool) error {
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if !file {
		return os.MkdirAll(p, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// mountScript runs inside the container's fresh mount namespace (`ip netns
// exec` unshares it and makes every mount a slave, so nothing done here
// reaches the host): it bind-mounts each volume at its mountPath, makes the
// read-only ones and then, for readOnlyRootFilesystem, the root read-only,
// changes to the working directory and execs the container's command line.
// Volumes are mounted before the root turns read-only, because a bind mount
// takes the read-only flag of the mount its source lies on.
//
// Every source is opened before the first mount and mounted from its
// descriptor (/proc/self/fd/N names the directory itself, not its path),
// because a mount can hide the path of a later mount's source: an emptyDir
// at /tmp, as most charts' read-only-root Pods have, covers the cluster's
// directory under /tmp where every volume lives. bash, not sh, for the
// descriptors: dash's redirections stop at fd 9.
//
// A container's own workingDir is entered after the mounts (it may be in a
// volume); the default, the Pod's directory on the host, before them, since
// a mount may hide its path as it may hide the sources'. The program, too,
// is opened before the mounts and run from its descriptor when a mount
// covers its path (the image's binary is a host file, not part of a root
// filesystem of its own as in a real container).
//
// The process has a UTS namespace of its own when it has a hostname (wrapped
// runs the script through unshare --uts); the script sets it.
//
// Arguments: rootro|rootrw, cdfirst|cdlast, the index of the program in the
// command line or -1, the hostname or "", then "ro|rw source target" per
// mount, "--", the working directory and the command line.
const mountScript = `set -e
root=$1 cd=$2 exe=$3 hn=$4; shift 4
if [ -n "$hn" ]; then printf %s "$hn" > /proc/sys/kernel/hostname; fi
modes=() fds=() targets=()
while [ "$1" != -- ]; do
	exec {fd}<"$2"
	modes+=("$1") fds+=("$fd") targets+=("$3")
	shift 3
done
shift
dir=$1; shift
args=("$@")
if [ "$exe" -ge 0 ]; then
	exec {efd}<"${args[exe]}"
	args[exe]=/proc/self/fd/$efd
fi
if [ "$cd" = cdfirst ]; then cd "$dir"; fi
for i in "${!fds[@]}"; do
	mount --bind "/proc/self/fd/${fds[i]}" "${targets[i]}"
	if [ "${modes[i]}" = ro ]; then mount -o remount,bind,ro "${targets[i]}"; fi
	fd=${fds[i]}
	exec {fd}<&-
done
if [ "$root" = rootro ]; then mount -o remount,bind,ro /; fi
if [ "$cd" = cdlast ]; then cd "$dir"; fi
exec "${args[@]}"
`

// wrapped is the command line that runs a process in its own mount
// namespace (and UTS namespace, for its hostname): bash runs mountScript, which execs setpriv when the
// securityContext asks for it, which execs the container's command line; so
// the pid the kubelet started is the container's program in the end.
func (p process) wrapped() ([]string, error) {
	cmd, err := p.Security.command(p.Argv)
	if err != nil {
		return nil, err
	}
	var argv []string
	if p.Hostname != "" {
		argv = []string{"unshare", "--uts", "--"}
	}
	argv = append(argv, "/bin/bash", "-c", mountScript, "bash")
	if p.ReadOnlyRoot {
		argv = append(argv, "rootro")
	} else {
		argv = append(argv, "rootrw")
	}
	if p.DirInMounts {
		argv = append(argv, "cdlast")
	} else {
		argv = append(argv, "cdfirst")
	}
	exe := -1
	for _, m := range p.Mounts {
		if len(p.Argv) > 0 && strings.HasPrefix(p.Argv[0], m.target+"/") {
			exe = len(cmd) - len(p.Argv)
		}
	}
	argv = append(argv, strconv.Itoa(exe), p.Hostname)
	for _, m := range p.Mounts {
		mode := "rw"
		if m.readOnly {
			mode = "ro"
		}
		argv = append(argv, mode, m.source, m.target)
	}
	argv = append(argv, "--", p.Dir)
	return append(argv, cmd...), nil
}

// mountPointsFile, in a cluster's directory, lists the mount points the
// cluster created on the host, so that the next Start removes those a killed
// run left.
const mountPointsFile = "mountpoints"

// mountPoints creates the mount points Pods need on the host and removes
// them when the last Pod that needed them is gone. Only what it created is
// ever removed, and only when empty: a directory that was there before stays.
//
// Two clusters (two test processes) may need the same mount point, above all
// /var/run/secrets/kubernetes.io/serviceaccount. A directory removed on the
// host would be detached from the other cluster's containers, so a cluster
// that finds a mount point another live cluster created counts it as its own
// too, and a mount point is removed only when no other live cluster lists it.
type mountPoints struct {
	clusterDir string

	mu    sync.Mutex
	users map[string]int // created paths → Pods that use them
}

func newMountPoints(clusterDir string) *mountPoints {
	return &mountPoints{clusterDir: clusterDir, users: map[string]int{}}
}

// acquire makes sure every point exists, creating missing ones and their
// missing parents, and returns the paths whose users it counted, for
// release.
func (m *mountPoints) acquire(points []mountPoint) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var held []string
	fail := func(err error) ([]string, error) {
		m.releaseLocked(held)
		return nil, err
	}
	others := otherClustersMountPoints(m.clusterDir)
	for _, pt := range points {
		for _, p := range withParents(pt.path) {
			file := pt.file && p == pt.path
			_, statErr := os.Stat(p)
			switch {
			case m.users[p] > 0 || (statErr == nil && others[p]):
			case statErr == nil:
				continue // not ours: never removed
			case os.IsNotExist(statErr):
				var err error
				if file {
					var f *os.File
					if f, err = os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
						err = f.Close()
					}
				} else {
					err = os.Mkdir(p, 0o755)
				}
				if err != nil && !os.IsExist(err) {
					return fail(fmt.Errorf("creating mount point %s: %w", p, err))
				}
			default:
				return fail(statErr)
			}
			m.users[p]++
			held = append(held, p)
		}
	}
	if err := m.recordLocked(); err != nil {
		return fail(err)
	}
	return held, nil
}

// release counts one user less of each path and removes those left without
// one, deepest first. The Pod's processes, and so their mount namespaces,
// must be gone.
func (m *mountPoints) release(held []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.releaseLocked(held)
	_ = m.recordLocked()
}

func (m *mountPoints) releaseLocked(held []string) {
	var unused []string
	for _, p := range held {
		m.users[p]--
		if m.users[p] <= 0 {
			delete(m.users, p)
			unused = append(unused, p)
		}
	}
	removeMountPoints(unused, otherClustersMountPoints(m.clusterDir))
}

// removeMountPoints removes paths, deepest first, unless another live
// cluster lists them. os.Remove leaves a directory that is not empty.
func removeMountPoints(paths []string, keep map[string]bool) {
	slices.SortFunc(paths, func(a, b string) int { return len(b) - len(a) })
	for _, p := range paths {
		if !keep[p] {
			_ = os.Remove(p)
		}
	}
}

func (m *mountPoints) recordLocked() error {
	var b strings.Builder
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range m.users {
			if !yield(p) {
				return
			}
		}
	}) {
		b.WriteString(p + "\n")
	}
	tmp := filepath.Join(m.clusterDir, mountPointsFile+".new")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(m.clusterDir, mountPointsFile))
}

// withParents returns p's ancestors below / and p, shallowest first.
func withParents(p string) []string {
	var out []string
	for q := p; q != "/" && q != "."; q = path.Dir(q) {
		out = append(out, q)
	}
	slices.Reverse(out)
	return out
}

// otherClustersMountPoints reads the mount points that the clusters of other
// live processes created.
func otherClustersMountPoints(own string) map[string]bool {
	out := map[string]bool{}
	for _, dir := range clusterDirs() {
		if dir.path == filepath.Clean(own) || !alive(dir.pid) {
			continue
		}
		for _, p := range readMountPoints(dir.path) {
			out[p] = true
		}
	}
	return out
}

func readMountPoints(clusterDir string) []string {
	f, err := os.Open(filepath.Join(clusterDir, mountPointsFile))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if p := s.Text(); path.IsAbs(p) && p != "/" {
			out = append(out, p)
		}
	}
	return out
}

type clusterDir struct {
	path string
	pid  int
}

// clusterDirs lists every cluster's directory with its owner's pid.
func clusterDirs() []clusterDir {
	var out []clusterDir
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), stateDirPrefix+"*"))
	for _, dir := range dirs {
		pidText, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(dir), stateDirPrefix), "-")
		if pid, err := strconv.Atoi(pidText); err == nil {
			out = append(out, clusterDir{filepath.Clean(dir), pid})
		}
	}
	return out
}
