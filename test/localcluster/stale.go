package localcluster

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// stateDirPrefix starts the name of each cluster's directory in the system
// temporary directory, followed by the owning process's pid.
const stateDirPrefix = "cloudgate-localcluster-"

// ownerVar marks every process a cluster starts with the pid of the process
// that owns the cluster, so that the next Start can find and kill processes
// whose owner was killed (SIGKILL skips Stop; Pdeathsig covers nearly all such
// cases, and this the rest).
const ownerVar = "CLOUDGATE_LOCALCLUSTER_OWNER"

func ownerEnv() string { return ownerVar + "=" + strconv.Itoa(os.Getpid()) }

// leftoversFile, in a cluster's directory, lists what a killed owner would
// leave that carries no ownerVar: the control plane's processes (envtest
// starts them without Pdeathsig) and its directories.
const leftoversFile = "leftovers"

// recordLeftovers writes the control plane's processes (children of this
// process running a program from binDir) and dirs to the cluster directory.
func recordLeftovers(clusterDir, binDir string, dirs []string) error {
	var lines []string
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || parent(pid) != os.Getpid() {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", p.Name(), "exe")); err == nil && filepath.Dir(exe) == filepath.Clean(binDir) {
			lines = append(lines, "pid "+p.Name()+" "+exe)
		}
	}
	for _, d := range dirs {
		lines = append(lines, "dir "+d)
	}
	return os.WriteFile(filepath.Join(clusterDir, leftoversFile), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

func parent(pid int) int {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// The command name is in parentheses and may hold spaces; the parent
	// pid is the second field after it.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// removeLeftovers kills and removes what recordLeftovers listed, checking
// that each pid still runs the program it ran then (pids are reused) and
// that each directory is a temporary one.
func removeLeftovers(clusterDir string) {
	data, err := os.ReadFile(filepath.Join(clusterDir, leftoversFile))
	if err != nil {
		return
	}
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "pid":
			exe, err := os.Readlink(filepath.Join("/proc", f[1], "exe"))
			if pid, perr := strconv.Atoi(f[1]); perr == nil && err == nil && exe == f[2] {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		case len(f) == 2 && f[0] == "dir" && strings.HasPrefix(f[1], os.TempDir()+"/"):
			_ = os.RemoveAll(f[1])
		}
	}
}

// removeStale kills processes and removes directories and mount points that
// clusters of dead processes left. Network namespaces are test/netns's: it removes its own
// stale ones when the first Pod's namespace is made.
func removeStale() {
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", p.Name(), "environ"))
		if err != nil {
			continue
		}
		owner, ok := ownerOf(env)
		if ok && owner != os.Getpid() && !alive(owner) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for _, dir := range clusterDirs() {
		if dir.pid != os.Getpid() && !alive(dir.pid) {
			removeLeftovers(dir.path)
			// Its containers' mount namespaces die with the processes
			// killed above; the mount points on the host stay unless
			// removed, and another live cluster may use them too.
			removeMountPoints(readMountPoints(dir.path), otherClustersMountPoints(dir.path))
			_ = os.RemoveAll(dir.path)
		}
	}
}

func ownerOf(environ []byte) (int, bool) {
	for kv := range bytes.SplitSeq(environ, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(ownerVar+"=")); ok {
			pid, err := strconv.Atoi(string(v))
			return pid, err == nil
		}
	}
	return 0, false
}

func alive(pid int) bool { return syscall.Kill(pid, 0) != syscall.ESRCH }
