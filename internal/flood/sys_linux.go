//go:build linux

package flood

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr of sendmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32 // the padding after it, on 64-bit, is Go's as C's
}

func unsafePointer(p *unix.RawSockaddrInet4) unsafe.Pointer { return unsafe.Pointer(p) }

// sendmmsg sends the messages of hdrs with one system call and returns how many left.
func sendmmsg(fd int, hdrs []mmsghdr) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), 0, 0, 0)
	if errno != 0 {
		return int(n), errno
	}
	return int(n), nil
}
