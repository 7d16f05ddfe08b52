//go:build linux

package nsutil

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Handle returns a netlink handle bound to ns that speaks NETLINK_ROUTE only.
// netlink.NewHandleAt without families opens a socket for every family the library
// knows (xfrm, netfilter, …), which fails with "protocol not supported" on hosts where
// those modules are not loaded; netctl needs links, addresses, routes, rules and
// neighbours, all rtnetlink. For the namespace netctl runs in it opens a plain socket:
// binding one to a namespace costs a setns, which needs CAP_SYS_ADMIN even into one's own.
func Handle(ns netns.NsHandle) (*netlink.Handle, error) {
	if self, err := netns.Get(); err == nil {
		same := self.Equal(ns)
		self.Close()
		if same {
			return netlink.NewHandle(unix.NETLINK_ROUTE)
		}
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in netns: %w", err)
	}
	return h, nil
}

// Inode returns the inode of a namespace file. The kernel reuses inodes once a namespace
// is gone, so records that outlive a namespace are keyed by Cookie instead; the inode
// names a namespace only while it is held open.
func Inode(ns netns.NsHandle) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(ns), &st); err != nil {
		return 0, fmt.Errorf("stat namespace: %w", err)
	}
	return st.Ino, nil
}
