//go:build linux

package nsutil

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nsTypeNames names the namespace types NS_GET_NSTYPE returns, for error messages.
var nsTypeNames = map[int]string{
	unix.CLONE_NEWNET: "network", unix.CLONE_NEWNS: "mount", unix.CLONE_NEWPID: "PID",
	unix.CLONE_NEWUTS: "UTS", unix.CLONE_NEWIPC: "IPC", unix.CLONE_NEWUSER: "user",
	unix.CLONE_NEWCGROUP: "cgroup", unix.CLONE_NEWTIME: "time",
}

// CheckNet checks that h is a network namespace: NS_GET_NSTYPE (Linux 4.11) says so,
// or, on a kernel without it, the file is at least on nsfs. name says what h is in the
// error.
func CheckNet(h netns.NsHandle, name string) error {
	typ, err := unix.IoctlRetInt(int(h), unix.NS_GET_NSTYPE)
	if err == nil {
		if typ == unix.CLONE_NEWNET {
			return nil
		}
		if n, ok := nsTypeNames[typ]; ok {
			return fmt.Errorf("%s is a %s namespace, not a network namespace", name, n)
		}
		return fmt.Errorf("%s is not a network namespace", name)
	}
	var fs unix.Statfs_t
	if serr := unix.Fstatfs(int(h), &fs); serr != nil {
		return fmt.Errorf("%s: %w", name, serr)
	}
	if fs.Type != unix.NSFS_MAGIC || !errors.Is(err, unix.ENOTTY) {
		return fmt.Errorf("%s is not a network namespace (not a namespace file)", name)
	}
	return nil // nsfs without NS_GET_NSTYPE: a namespace of some type, as close as we can tell
}
