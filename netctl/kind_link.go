//go:build linux

package netctl

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nlutil"
	"github.com/netctl/netctl/internal/nsutil"
)

// The kinds that make the NIC itself: the veth, its addresses, sysctls, up state and
// bridge port.

// vethKind creates the veth pair in the host namespace with its peer born in the
// container; deleting the host end takes both.
var vethKind = kind{
	do: func(e *Env, s Step) error {
		v := &netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: s.Link, MTU: s.MTU},
			PeerName:      s.Peer,
			PeerMTU:       uint32(s.MTU),
			PeerNamespace: netlink.NsFd(e.Ctr.NS),
		}
		if s.MAC != "" {
			mac, err := net.ParseMAC(s.MAC)
			if err != nil {
				return err
			}
			v.PeerHardwareAddr = mac
		}
		if err := e.HostNL.LinkAdd(v); err != nil {
			return fmt.Errorf("create veth %s (peer %s in %s): %w", s.Link, s.Peer, e.Ctr.Label, err)
		}
		// The kernel ignores an alias in the create request. Should netctl die before
		// this, the record (written first) and the veth's peer still identify it.
		if err := e.HostNL.LinkSetAlias(v, s.Alias); err != nil {
			_ = e.HostNL.LinkDel(v)
			return fmt.Errorf("set alias of %s: %w", s.Link, err)
		}
		return nil
	},
	undo: func(e *Env, s Step) error {
		return undoOnLink(e.HostNL, s.Link, func(l netlink.Link) error {
			if !e.isOurVeth(l, s.Alias, s.Peer) {
				return fmt.Errorf("%s is not the veth netctl made (alias %q): left alone", s.Link, l.Attrs().Alias)
			}
			return ignore(e.HostNL.LinkDel(l), unix.ENODEV)
		})
	},
	cmd: func(s Step, v, ctr NSView) []string {
		mtu := strconv.Itoa(s.MTU)
		add := []string{"link", "add", "name", s.Link, "mtu", mtu, "type", "veth", "peer", "name", s.Peer, "mtu", mtu}
		if s.MAC != "" {
			add = append(add, "address", s.MAC)
		}
		return []string{
			v.IP(append(add, "netns", ctr.NetnsArg())...),
			v.IP("link", "set", s.Link, "alias", s.Alias),
		}
	},
	undoCmd: func(s Step, v NSView) []string { return []string{v.IP("link", "del", s.Link)} },
}

// addrKind adds an address to the container end (with the broadcast address for IPv4).
var addrKind = kind{
	do: func(e *Env, s Step) error {
		l, err := e.CtrNL.LinkByName(s.Link)
		if err != nil {
			return fmt.Errorf("find %s in %s: %w", s.Link, e.Ctr.Label, err)
		}
		a := &netlink.Addr{IPNet: nlutil.IPNet(s.Address)}
		if s.Address.Addr().Is4() && s.Address.Bits() < 31 {
			a.Broadcast = lastAddr(s.Address).AsSlice()
		}
		if err := e.CtrNL.AddrAdd(l, a); err != nil {
			if s.Address.Addr().Is6() && errors.Is(err, unix.EACCES) {
				err = fmt.Errorf("%w (IPv6 is disabled on %s in the container)", err, s.Link)
			}
			return fmt.Errorf("add %s to %s: %w", s.Address, s.Link, err)
		}
		return nil
	},
	undo: func(e *Env, s Step) error {
		return undoOnLink(e.CtrNL, s.Link, func(l netlink.Link) error {
			return ignore(e.CtrNL.AddrDel(l, &netlink.Addr{IPNet: nlutil.IPNet(s.Address)}), unix.EADDRNOTAVAIL, unix.ENODEV)
		})
	},
	cmd: func(s Step, v, _ NSView) []string {
		args := []string{"addr", "add", s.Address.String()}
		if s.Address.Addr().Is4() {
			args = append(args, "brd", "+")
		}
		return []string{v.IP(append(args, "dev", s.Link)...)}
	},
	undoCmd: func(s Step, v NSView) []string {
		return []string{v.IP("addr", "del", s.Address.String(), "dev", s.Link)}
	},
	goesWithVeth: func(s, veth Step) bool { return s.Link == veth.Peer },
}

// sysctlKind sets a sysctl in the container; its undo writes back the old value.
var sysctlKind = kind{
	do: func(e *Env, s Step) error {
		return nsutil.Do(e.Ctr.NS, func() error {
			if err := os.WriteFile(sysctlPath(s.Key), []byte(s.Value), 0o644); err != nil {
				return fmt.Errorf("sysctl %s=%s: %w", s.Key, s.Value, err)
			}
			return nil
		})
	},
	undo: func(e *Env, s Step) error {
		return nsutil.Do(e.Ctr.NS, func() error {
			err := os.WriteFile(sysctlPath(s.Key), []byte(s.Old), 0o644)
			if errors.Is(err, os.ErrNotExist) {
				return nil // the interface went with the veth
			}
			return err
		})
	},
	cmd:     func(s Step, v, _ NSView) []string { return []string{v.Sysctl(s.Key, s.Value)} },
	undoCmd: func(s Step, v NSView) []string { return []string{v.Sysctl(s.Key, s.Old)} },
	goesWithVeth: func(s, veth Step) bool {
		return strings.HasPrefix(s.Key, "net.ipv4.conf."+veth.Peer+".")
	},
}

// linkUpKind sets the container end up.
var linkUpKind = kind{
	do: func(e *Env, s Step) error {
		l, err := e.CtrNL.LinkByName(s.Link)
		if err != nil {
			return fmt.Errorf("find %s in %s: %w", s.Link, e.Ctr.Label, err)
		}
		if err := e.CtrNL.LinkSetUp(l); err != nil {
			return fmt.Errorf("set %s up: %w", s.Link, err)
		}
		return nil
	},
	undo: func(e *Env, s Step) error {
		return undoOnLink(e.CtrNL, s.Link, func(l netlink.Link) error { return ignore(e.CtrNL.LinkSetDown(l), unix.ENODEV) })
	},
	cmd:          func(s Step, v, _ NSView) []string { return []string{v.IP("link", "set", s.Link, "up")} },
	undoCmd:      func(s Step, v NSView) []string { return []string{v.IP("link", "set", s.Link, "down")} },
	goesWithVeth: func(s, veth Step) bool { return s.Link == veth.Peer },
}

// hostPortKind makes the host end a port of the bridge and sets it up.
var hostPortKind = kind{
	do: func(e *Env, s Step) error {
		l, err := e.HostNL.LinkByName(s.Link)
		if err != nil {
			return fmt.Errorf("find %s: %w", s.Link, err)
		}
		br, err := e.HostNL.LinkByName(s.Bridge)
		if err != nil {
			return fmt.Errorf("find bridge %s: %w", s.Bridge, err)
		}
		if err := e.HostNL.LinkSetMaster(l, br); err != nil {
			return fmt.Errorf("plug %s into %s: %w", s.Link, s.Bridge, err)
		}
		if err := e.HostNL.LinkSetUp(l); err != nil {
			_ = e.HostNL.LinkSetNoMaster(l)
			return fmt.Errorf("set %s up: %w", s.Link, err)
		}
		return nil
	},
	undo: func(e *Env, s Step) error {
		return undoOnLink(e.HostNL, s.Link, func(l netlink.Link) error { return ignore(e.HostNL.LinkSetNoMaster(l), unix.ENODEV) })
	},
	cmd: func(s Step, v, _ NSView) []string {
		return []string{v.IP("link", "set", s.Link, "master", s.Bridge), v.IP("link", "set", s.Link, "up")}
	},
	undoCmd:      func(s Step, v NSView) []string { return []string{v.IP("link", "set", s.Link, "nomaster")} },
	goesWithVeth: func(s, veth Step) bool { return s.Link == veth.Link },
}

// waitDADKind waits for IPv6 duplicate address detection; it changes nothing.
var waitDADKind = kind{
	do: func(e *Env, s Step) error { return e.waitDAD(s.Link, 5*time.Second) },
	cmd: func(s Step, _, _ NSView) []string {
		return []string{"# wait until " + Quote(s.Link) + "'s IPv6 addresses leave the tentative state (DAD)"}
	},
}

// undoOnLink runs undo on the link called name: a link already gone took with it what
// the step did, so there is nothing to undo.
func undoOnLink(nl *netlink.Handle, name string, undo func(netlink.Link) error) error {
	l, err := nl.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return undo(l)
}

// waitDAD waits until no IPv6 address of link is tentative; a failed DAD means another
// host on the bridge already uses the address.
func (e *Env) waitDAD(link string, timeout time.Duration) error {
	l, err := e.CtrNL.LinkByName(link)
	if err != nil {
		return fmt.Errorf("find %s: %w", link, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		addrs, err := nlutil.Dump(func() ([]netlink.Addr, error) { return e.CtrNL.AddrList(l, netlink.FAMILY_V6) })
		if err != nil {
			return fmt.Errorf("list IPv6 addresses of %s: %w", link, err)
		}
		tentative := false
		for _, a := range addrs {
			if a.Flags&unix.IFA_F_DADFAILED != 0 {
				return fmt.Errorf("address %s is already used by another host on the link (IPv6 DAD failed)", a.IPNet)
			}
			if a.Flags&unix.IFA_F_TENTATIVE != 0 {
				tentative = true
			}
		}
		if !tentative {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("IPv6 addresses of %s still tentative after %s (is the link up with carrier?)", link, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
