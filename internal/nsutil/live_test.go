//go:build linux

package nsutil_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/internal/nsutil"
)

// A namespace exists while its name, an open file, a process or a bind mount elsewhere
// holds it (each alone), and not after; a cookie never handed out was never alive.
func TestLiveness(t *testing.T) {
	nstest.RequireRoot(t)
	self, err := nsutil.Open("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	selfCookie, err := nsutil.Cookie(self)
	self.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !nsutil.NewLiveness().Alive(selfCookie) {
		t.Fatal("the caller's namespace is not alive")
	}
	if l := nsutil.NewLiveness(); l.Alive(1 << 62) {
		t.Fatalf("a cookie never handed out is alive (%v)", l.Unsure())
	}

	for _, holder := range []struct {
		what string
		hold func(t *testing.T, name string, h netns.NsHandle) (drop func())
	}{
		{"its name", func(*testing.T, string, netns.NsHandle) func() { return func() {} }},
		{"an open file", func(_ *testing.T, _ string, h netns.NsHandle) func() {
			fd, err := unix.Dup(int(h))
			if err != nil {
				t.Fatal(err)
			}
			return func() { unix.Close(fd) }
		}},
		{"a process", func(t *testing.T, name string, h netns.NsHandle) func() {
			sleep := exec.Command("ip", "netns", "exec", name, "sleep", "30")
			if err := sleep.Start(); err != nil {
				t.Fatal(err)
			}
			waitInNS(t, sleep.Process.Pid, h)
			return func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }
		}},
		{"a bind mount elsewhere", func(t *testing.T, name string, _ netns.NsHandle) func() {
			mnt := filepath.Join(t.TempDir(), "ns")
			if err := os.WriteFile(mnt, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mount(nsutil.NamedPath(name), mnt, "", unix.MS_BIND, ""); err != nil {
				t.Fatal(err)
			}
			return func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) }
		}},
	} {
		t.Run(holder.what, func(t *testing.T) {
			name := nstest.UniqueName("nslive-")
			h, err := nsutil.CreateNamed(name)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = nsutil.DeleteNamed(name) })
			cookie, err := nsutil.Cookie(h)
			if err != nil {
				t.Fatal(err)
			}
			drop := holder.hold(t, name, h)
			t.Cleanup(drop)
			h.Close()
			if holder.what != "its name" {
				if err := nsutil.DeleteNamed(name); err != nil {
					t.Fatal(err)
				}
			}
			if l := nsutil.NewLiveness(); !l.Alive(cookie) {
				t.Fatalf("held by %s alone, the namespace is not alive", holder.what)
			}
			drop()
			if err := nsutil.DeleteNamed(name); err != nil {
				t.Fatal(err)
			}
			if l := nsutil.NewLiveness(); l.Alive(cookie) {
				t.Fatalf("nothing holds the namespace any more, yet it is alive (%v)", l.Unsure())
			}
		})
	}
}

// waitInNS waits until process pid has entered the namespace h.
func waitInNS(t *testing.T, pid int, h netns.NsHandle) {
	t.Helper()
	want, err := nsutil.Inode(h)
	if err != nil {
		t.Fatal(err)
	}
	for range 200 {
		var st unix.Stat_t
		if unix.Stat("/proc/"+strconv.Itoa(pid)+"/ns/net", &st) == nil && st.Ino == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d never entered the namespace", pid)
}
