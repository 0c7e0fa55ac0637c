package harness

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// LockHost holds an exclusive lock named name across processes until t
// ends. Test packages run in parallel processes, and some share host state
// no test owns: the /var/run/secrets mount point that local clusters create
// for their Pods' service account tokens and remove when they stop. Tests
// that create or check such state take the same lock.
func LockHost(t testing.TB, name string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "cloudgate-"+name+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	})
}
