//go:build linux

package lab

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nlutil"
	"github.com/netctl/netctl/internal/nsutil"
)

// step is one kernel change of Up: the iproute2 command a person would type for it (for
// errors, logs and tests) and the change itself. Up undoes every step at once by
// deleting the namespaces it made, so a step has no undo, is never recorded, and the lab
// needs no step engine such as a NIC's (netctl), whose steps are undone one by one.
type step struct {
	ns  Role   // where it runs (for "ip netns add": the namespace it makes)
	cmd string // e.g. "ip -n P-host link set docker0 up"
	do  func(b *builder) error
}

// plan returns the steps that build s, in order; it runs nothing. IPv6 is switched off
// and forwarding set right after each namespace is created, before any interface exists.
func plan(s Spec) []step {
	var steps []step
	add := func(st ...step) { steps = append(steps, st...) }
	for _, n := range s.Namespaces {
		add(step{n.Role, "ip netns add " + n.Name, func(b *builder) error { return b.createNS(n.Role) }})
		for _, kv := range nsSysctls(s.IPv6, n.Role) {
			add(sysctl(s, n.Role, kv[0], kv[1]))
		}
		add(linkUp(s, n.Role, "lo"))
	}
	br := s.Bridge.Name
	add(step{RoleHost, ip(s, RoleHost, "link add %s type bridge", br), on(RoleHost, func(n *Namespace) error {
		return n.Netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: br}})
	})})
	for _, a := range s.Bridge.Addrs {
		add(addAddr(s, RoleHost, br, a))
	}
	add(linkUp(s, RoleHost, br))
	for _, v := range s.Veths {
		add(addVeth(s, v))
		if v.Master != "" {
			add(setMaster(s, v.HostName, v.Master))
		}
		for _, a := range v.HostAddrs {
			add(addAddr(s, RoleHost, v.HostName, a))
		}
		add(linkUp(s, RoleHost, v.HostName))
		for _, a := range v.PeerAddrs {
			add(addAddr(s, v.Peer, v.PeerName, a))
		}
		add(linkUp(s, v.Peer, v.PeerName))
	}
	for _, r := range s.Routes {
		add(addRoute(s, r))
	}
	return steps
}

// nsSysctls are the sysctls of a new namespace, as /proc/sys paths and values.
func nsSysctls(ipv6 bool, role Role) [][2]string {
	// A new namespace inherits ip_forward from the initial one; set it either way so
	// that only the host routes, whatever the machine's setting.
	fwd := "0"
	if role == RoleHost {
		fwd = "1"
	}
	if !ipv6 {
		return [][2]string{
			{"net/ipv6/conf/all/disable_ipv6", "1"}, {"net/ipv6/conf/default/disable_ipv6", "1"},
			{"net/ipv4/ip_forward", fwd},
		}
	}
	// No duplicate address detection, so that link-local addresses (used by neighbour
	// discovery) are usable at once, like the lab's own nodad ones.
	return [][2]string{
		{"net/ipv6/conf/all/accept_dad", "0"}, {"net/ipv6/conf/default/accept_dad", "0"},
		{"net/ipv4/ip_forward", fwd}, {"net/ipv6/conf/all/forwarding", fwd},
	}
}

// ip renders an iproute2 command run in the namespace of role.
func ip(s Spec, role Role, format string, a ...any) string {
	return "ip -n " + s.Name(role) + " " + fmt.Sprintf(format, a...)
}

// on makes a step's change from f run on the namespace of role.
func on(role Role, f func(n *Namespace) error) func(*builder) error {
	return func(b *builder) error {
		n := b.lab.Namespace(role)
		if n == nil {
			return fmt.Errorf("netns of %s not created yet", role)
		}
		return f(n)
	}
}

func sysctl(s Spec, role Role, key, value string) step {
	cmd := fmt.Sprintf("ip netns exec %s sysctl -w %s=%s", s.Name(role), strings.ReplaceAll(key, "/", "."), value)
	return step{role, cmd, on(role, func(n *Namespace) error { return nsutil.WriteSysctl(n.NS, key, value) })}
}

func linkUp(s Spec, role Role, link string) step {
	return step{role, ip(s, role, "link set %s up", link), on(role, func(n *Namespace) error {
		l, err := n.Netlink.LinkByName(link)
		if err != nil {
			return fmt.Errorf("find link %s: %w", link, err)
		}
		return n.Netlink.LinkSetUp(l)
	})}
}

// addVeth makes v's host end in the host namespace, its peer born in v.Peer's.
func addVeth(s Spec, v VethSpec) step {
	cmd := ip(s, RoleHost, "link add %s type veth peer name %s netns %s", v.HostName, v.PeerName, s.Name(v.Peer))
	return step{RoleHost, cmd, func(b *builder) error {
		host, peer := b.lab.Namespace(RoleHost), b.lab.Namespace(v.Peer)
		if host == nil || peer == nil {
			return fmt.Errorf("netns of %s or %s not created yet", RoleHost, v.Peer)
		}
		return host.Netlink.LinkAdd(&netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: v.HostName},
			PeerName:      v.PeerName,
			PeerNamespace: netlink.NsFd(int(peer.NS)),
		})
	}}
}

func setMaster(s Spec, link, master string) step {
	return step{RoleHost, ip(s, RoleHost, "link set %s master %s", link, master), on(RoleHost, func(n *Namespace) error {
		l, err := n.Netlink.LinkByName(link)
		if err != nil {
			return fmt.Errorf("find link %s: %w", link, err)
		}
		m, err := n.Netlink.LinkByName(master)
		if err != nil {
			return fmt.Errorf("find bridge %s: %w", master, err)
		}
		return n.Netlink.LinkSetMaster(l, m)
	})}
}

// addAddr adds an address; IPv6 ones skip duplicate address detection (nodad).
func addAddr(s Spec, role Role, link string, a netip.Prefix) step {
	nodad := ""
	if a.Addr().Is6() {
		nodad = " nodad"
	}
	return step{role, ip(s, role, "addr add %s dev %s%s", a, link, nodad), on(role, func(n *Namespace) error {
		l, err := n.Netlink.LinkByName(link)
		if err != nil {
			return fmt.Errorf("find link %s: %w", link, err)
		}
		na := &netlink.Addr{IPNet: nlutil.IPNet(a)}
		if a.Addr().Is6() {
			na.Flags = unix.IFA_F_NODAD
		}
		return n.Netlink.AddrAdd(l, na)
	})}
}

func addRoute(s Spec, r RouteSpec) step {
	fam := ""
	if r.Dst.Addr().Is6() {
		fam = " -6"
	}
	cmd := fmt.Sprintf("ip%s -n %s route add %s", fam, s.Name(r.NS), r.Route)
	return step{r.NS, cmd, on(r.NS, func(n *Namespace) error {
		l, err := n.Netlink.LinkByName(r.Dev)
		if err != nil {
			return fmt.Errorf("find link %s: %w", r.Dev, err)
		}
		return n.Netlink.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: nlutil.IPNet(r.Dst), Gw: r.Gateway.AsSlice()})
	})}
}
