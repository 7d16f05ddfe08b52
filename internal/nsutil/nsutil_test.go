//go:build linux

package nsutil_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/internal/nsutil"
)

func TestValidName(t *testing.T) {
	for _, n := range []string{"", ".", "..", "a/b", "x\x00", "-n", "a;b"} {
		if nsutil.ValidName(n) == nil {
			t.Errorf("ValidName(%q) accepted", n)
		}
	}
	for _, n := range []string{"netctl-lab-host", "c1", "a.b"} {
		if err := nsutil.ValidName(n); err != nil {
			t.Errorf("ValidName(%q): %v", n, err)
		}
	}
}

func TestCreateDoDelete(t *testing.T) {
	nstest.RequireRoot(t)
	root, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	rootFwd, err := nsutil.ReadSysctl(root, "net/ipv4/ip_forward")
	if err != nil {
		t.Fatal(err)
	}

	name := nstest.UniqueName("nsut-")
	h, err := nsutil.CreateNamed(name)
	if err != nil {
		t.Fatalf("CreateNamed: %v", err)
	}
	t.Cleanup(func() { h.Close(); _ = nsutil.DeleteNamed(name) })

	// The caller must still be in its own namespace.
	cur, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	if !cur.Equal(root) {
		t.Fatal("CreateNamed moved the calling thread into the new namespace")
	}
	if h.Equal(root) {
		t.Fatal("new namespace is the root namespace")
	}
	if _, err := nsutil.CreateNamed(name); !errors.Is(err, os.ErrExist) {
		t.Fatalf("CreateNamed twice: %v, want ErrExist", err)
	}

	// Do runs inside the namespace.
	var inside netns.NsHandle
	if err := nsutil.Do(h, func() error {
		var err error
		inside, err = netns.Get()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer inside.Close()
	if !inside.Equal(h) {
		t.Fatal("Do did not run inside the namespace")
	}
	wantErr := errors.New("boom")
	if err := nsutil.Do(h, func() error { return wantErr }); !errors.Is(err, wantErr) {
		t.Fatalf("Do lost fn's error: %v", err)
	}

	// A sysctl written inside changes only that namespace.
	want := "1"
	if rootFwd == "1" {
		want = "0"
	}
	if err := nsutil.WriteSysctl(h, "net/ipv4/ip_forward", want); err != nil {
		t.Fatal(err)
	}
	if got, _ := nsutil.ReadSysctl(h, "net/ipv4/ip_forward"); got != want {
		t.Fatalf("ip_forward inside = %q, want %q", got, want)
	}
	if got, _ := nsutil.ReadSysctl(root, "net/ipv4/ip_forward"); got != rootFwd {
		t.Fatalf("root namespace ip_forward changed: %q -> %q", rootFwd, got)
	}

	// Open by name and by path reach the same namespace.
	for _, ref := range []string{name, nsutil.NamedPath(name)} {
		o, err := nsutil.Open(ref)
		if err != nil {
			t.Fatalf("Open(%q): %v", ref, err)
		}
		if !o.Equal(h) {
			t.Errorf("Open(%q) is another namespace", ref)
		}
		o.Close()
	}

	if err := nsutil.DeleteNamed(name); err != nil {
		t.Fatalf("DeleteNamed: %v", err)
	}
	if nsutil.Exists(name) {
		t.Fatal("namespace still exists after DeleteNamed")
	}
	if err := nsutil.DeleteNamed(name); err != nil {
		t.Fatalf("DeleteNamed twice: %v", err)
	}
	if _, err := nsutil.Open("no-such-netns-" + name); err == nil {
		t.Fatal("Open of a missing namespace: no error")
	}
}

// Open takes network namespaces only: a regular file, a directory, a FIFO (without
// blocking on it) and another type of namespace are refused with one line.
func TestOpenRefusesWhatIsNoNetworkNamespace(t *testing.T) {
	fifo := t.TempDir() + "/fifo"
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/etc/passwd":       "not a network namespace (not a namespace file)",
		t.TempDir():         "not a network namespace (a directory)",
		fifo:                "not a network namespace (a FIFO)",
		"/proc/self/ns/mnt": "is a mount namespace",
		"/proc/self/ns/pid": "is a PID namespace",
		"/nonexistent":      "no such file",
	} {
		h, err := nsutil.Open(path)
		if err == nil {
			h.Close()
			t.Errorf("Open(%s) accepted", path)
			continue
		}
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Open(%s): %v, want one line containing %q", path, err, want)
		}
	}
	h, err := nsutil.Open("/proc/self/ns/net")
	if err != nil {
		t.Fatalf("Open(/proc/self/ns/net): %v", err)
	}
	h.Close()
}
