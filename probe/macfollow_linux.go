//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nsutil"
)

// followPoll bounds how long FollowMACs waits in one receive before it looks at its
// context again.
const followPoll = 500 * time.Millisecond

// FollowMACs keeps the rx checks of the bridge ports (bpf/flood.h) in step with the
// interfaces until ctx ends. A container interface's MAC can change (`ip link set
// address`, a NIC re-created by its tool) and that event happens in the container's
// namespace, which the host's link subscription does not hear. One netlink socket in the
// host namespace with NETLINK_LISTEN_ALL_NSID hears the link events of every namespace
// that has an id there (a container's gets one with its veth), each tagged with that id:
// a new address of a container interface behind a port rewrites the port's entry; a
// port moved to another bridge (an event of the host namespace) gets its bridge
// rewritten. When the kernel dropped events (the socket's buffer overran), every port
// is described again. onEvent, if set, hears of what failed.
func (d *Datapath) FollowMACs(ctx context.Context, onEvent func(Event)) error {
	fd, err := listenAllLinks(d.host)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	buf := make([]byte, 1<<16)
	oob := make([]byte, unix.CmsgSpace(4))
	for ctx.Err() == nil {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
		switch {
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS):
			d.redescribe(ctx, onEvent)
			continue
		case err != nil:
			return fmt.Errorf("follow link changes: %w", err)
		}
		nsid := msgNsid(oob[:oobn])
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue // a short read: nothing to act on
		}
		for _, m := range msgs {
			if m.Header.Type != unix.RTM_NEWLINK {
				continue
			}
			hdr := unix.NlMsghdr(m.Header)
			l, err := netlink.LinkDeserialize(&hdr, m.Data)
			if err != nil {
				continue
			}
			if e, ok := d.linkChanged(nsid, l); ok && onEvent != nil {
				onEvent(e)
			}
		}
	}
	return nil
}

// listenAllLinks opens a netlink socket in ns that hears link events of ns and of every
// namespace with an id in ns, with a receive timeout of followPoll.
func listenAllLinks(ns netns.NsHandle) (int, error) {
	fd := -1
	err := nsutil.Do(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return -1, fmt.Errorf("follow link changes: netlink socket: %w", err)
	}
	tv := unix.NsecToTimeval(followPoll.Nanoseconds())
	for _, step := range []func() error{
		func() error { return unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_LISTEN_ALL_NSID, 1) },
		func() error { return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv) },
		func() error {
			return unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK})
		},
	} {
		if err := step(); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("follow link changes: %w", err)
		}
	}
	return fd, nil
}

// msgNsid reads the namespace id a message came from out of its control data, or -1
// when it came from the socket's own namespace (no id attached).
func msgNsid(oob []byte) int {
	cms, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return -1
	}
	for _, c := range cms {
		if c.Header.Level == unix.SOL_NETLINK && c.Header.Type == unix.NETLINK_LISTEN_ALL_NSID && len(c.Data) >= 4 {
			return int(int32(binary.NativeEndian.Uint32(c.Data)))
		}
	}
	return -1
}

// linkChanged rewrites the rx check a link event makes stale: that of the port whose
// container interface l is (nsid ≥ 0: its MAC, as the event says; the events of one
// interface come in order, so the last one wins), or the bridge of the host port l
// itself (nsid < 0: read again now, since its events may lag the attach that already
// described it). A port out of its bridge keeps its check: what leaves the veth still
// goes to the same container interface. ok is true when there is an error to report.
func (d *Datapath) linkChanged(nsid int, l netlink.Link) (Event, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.sets[0]
	a := l.Attrs()
	port, ok := d.peers[peerRef{nsid, a.Index}]
	if nsid < 0 {
		port, ok = a.Index, slices.Contains(d.hostPorts(), a.Index)
	}
	if !ok {
		return Event{}, false
	}
	var cur RxPort
	if err := lookupRxPort(s.objs.RxPortsByIndex, s.objs.RxPorts, port, &cur); err != nil || cur.Check != RxPeer {
		return Event{}, false // not a port with a container interface behind it
	}
	next := cur
	if nsid >= 0 {
		next = hostRxPort(int(cur.Bridge), a.HardwareAddr.String())
	} else if live, err := s.nl.LinkByIndex(port); err == nil && live.Attrs().MasterIndex > 0 {
		next.Bridge = uint32(live.Attrs().MasterIndex)
	}
	if next == cur || next.Check != RxPeer {
		return Event{}, false
	}
	if err := putRxPort(s.objs.RxPortsByIndex, s.objs.RxPorts, port, next); err != nil {
		return Event{Kind: "error", Port: Port{Interface: a.Name, Ifindex: port, MAC: a.HardwareAddr.String()}, Error: err}, true
	}
	return Event{}, false
}

// hostPorts lists the registered interfaces of the host namespace. d.mu is held.
func (d *Datapath) hostPorts() []int {
	var out []int
	for _, rp := range d.reg.Ports {
		if rp.NSCookie == 0 {
			out = append(out, rp.Ifindex)
		}
	}
	return out
}

// redescribe writes every bridge port's rx check again from what the kernel says now,
// after link events were lost: resync attaches (and so describes) every port again.
func (d *Datapath) redescribe(ctx context.Context, onEvent func(Event)) {
	for _, e := range d.resync(ctx) {
		if onEvent != nil {
			onEvent(e)
		}
	}
}
