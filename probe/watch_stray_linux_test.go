//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/internal/nsutil"
)

// sendStrayLinkMessage sends a bare RTM_NEWLINK to the link multicast group from a
// process socket inside ns: what any root process of the namespace can do.
func sendStrayLinkMessage(t *testing.T, ns netns.NsHandle) {
	t.Helper()
	err := nsutil.Do(ns, func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return err
		}
		msg := make([]byte, unix.SizeofNlMsghdr+unix.SizeofIfInfomsg)
		binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))         // nlmsg_len
		binary.NativeEndian.PutUint16(msg[4:], uint16(unix.RTM_NEWLINK)) // nlmsg_type
		return unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK})
	})
	if err != nil {
		t.Fatalf("send a stray link message: %v", err)
	}
}

// A message on the link group from another sender than the kernel is a notice: the
// watcher reports it and keeps attaching new ports (it used to stop, and serve waited
// ever longer before watching again).
func TestWatchSurvivesStrayNetlinkMessage(t *testing.T) {
	l, opts := dpLab(t)
	dp, err := Open(l.Host.NS, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan Event, 64)
	ended, stopped := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(stopped)
		ended <- dp.Watch(ctx, "docker0", func(e Event) {
			select {
			case events <- e:
			case <-ctx.Done():
			}
		})
	}()
	defer func() { cancel(); <-stopped; dp.Close() }() // the watch uses dp until it returns
	next := func(what string) Event {
		t.Helper()
		select {
		case e := <-events:
			return e
		case err := <-ended:
			t.Fatalf("watch ended (%v) while waiting for %s", err, what)
		case <-time.After(5 * time.Second):
			t.Fatalf("no event: %s", what)
		}
		return Event{}
	}
	for range 3 {
		if e := next("the existing ports"); e.Kind != "attached" {
			t.Fatalf("event %+v", e)
		}
	}
	for range 3 {
		sendStrayLinkMessage(t, l.Host.NS)
	}
	if e := next("the notice"); e.Kind != "error" || !strings.Contains(e.Error.Error(), "sender") {
		t.Fatalf("event %+v, want an error event about the sender", e)
	}

	ns := nstest.NewNS(t)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "veth-stray"}, PeerName: "eth0", PeerNamespace: netlink.NsFd(ns.Handle)}
	if err := l.Host.Netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	br, _ := l.Host.Netlink.LinkByName("docker0")
	if err := l.Host.Netlink.LinkSetMaster(veth, br); err != nil {
		t.Fatal(err)
	}
	for {
		e := next("veth-stray attached")
		if e.Kind == "error" {
			continue // more notices of the same stray messages
		}
		if e.Kind != "attached" || e.Port.HostInterface != "veth-stray" {
			t.Fatalf("event %+v, want veth-stray attached", e)
		}
		break
	}
}
