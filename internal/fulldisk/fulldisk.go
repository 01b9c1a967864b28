// Package fulldisk gives a test a small file system of its own, so that it can fill
// the disk for real: writes fail with ENOSPC from the kernel, as they do on a full
// data volume, not from a fake writer.
//
// The file system is a tmpfs of the size asked for. Mounting one needs privilege:
// the test first re-executes itself in private user and mount namespaces (unshare
// -Urm, which works unprivileged where the kernel allows user namespaces, and as
// root), so the mount is seen by that process only and vanishes with it, whatever
// happens to the test. Where unshare is missing, root mounts the tmpfs directly
// (and unmounts it at the end); anyone else skips (testenv.Missing: fails under CI).
package fulldisk

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/dataport/dataport/internal/testenv"
)

// insideEnv marks the re-executed test, which runs in the private namespaces.
const insideEnv = "DATAPORT_TEST_FULLDISK_INSIDE"

// Isolate re-executes the running top-level test in private user and mount
// namespaces and reports whether it did: the caller then returns at once, its
// outcome being the re-executed test's, which Isolate reports. It returns false in
// the re-executed test itself, and where unshare cannot run.
func Isolate(t *testing.T) bool {
	t.Helper()
	if os.Getenv(insideEnv) != "" {
		return false
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return false
	}
	args := []string{"--mount", "--propagation", "private"}
	if os.Geteuid() != 0 {
		args = append([]string{"--user", "--map-root-user"}, args...)
	}
	if out, err := exec.Command(unshare, append(args, "true")...).CombinedOutput(); err != nil {
		t.Logf("unshare %s: %v: %s", strings.Join(args, " "), err, out)
		return false // no namespaces here: Mount mounts directly when it may
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	name := "^" + regexp.QuoteMeta(t.Name()) + "$"
	cmd := exec.Command(unshare, append(args, exe, "-test.run", name, "-test.count", "1", "-test.v")...)
	cmd.Env = append(os.Environ(), insideEnv+"=1")
	out, err := cmd.CombinedOutput()
	switch {
	case err != nil:
		t.Fatalf("in its own mount namespace, %s failed:\n%s", t.Name(), out)
	case strings.Contains(string(out), "--- SKIP: "+t.Name()):
		t.Skipf("in its own mount namespace, %s skipped:\n%s", t.Name(), out)
	case !strings.Contains(string(out), "--- PASS: "+t.Name()):
		t.Fatalf("in its own mount namespace, %s did not run:\n%s", t.Name(), out)
	}
	t.Logf("in its own mount namespace:\n%s", out)
	return true
}

// Mount returns an empty folder that is a file system of size bytes of its own,
// unmounted when the test ends.
func Mount(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0750", size)); err != nil {
		testenv.Missing(t, "a small file system to fill: mounting a tmpfs: %v (run as root, or where unshare -Urm works, and call fulldisk.Isolate first)", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// Fill writes a file of n bytes at path: the space a test frees later.
func Fill(t testing.TB, path string, n int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<16)
	for n > 0 {
		k := min(n, int64(len(buf)))
		if _, err := f.Write(buf[:k]); err != nil {
			t.Fatalf("filling %s: %v", path, err)
		}
		n -= k
	}
}

// Free reports the bytes free on the file system holding dir.
func Free(t testing.TB, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}
