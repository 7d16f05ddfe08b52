//go:build linux

package lab

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nlutil"
	"github.com/netctl/netctl/internal/nsutil"
)

// Topology is what a lab looks like now, read from the kernel.
type Topology struct {
	Prefix     string            `json:"prefix"`
	IPv6       bool              `json:"ipv6"`
	Namespaces []NamespaceStatus `json:"namespaces"`
}

// NamespaceStatus is one namespace of a lab as read from the kernel.
type NamespaceStatus struct {
	Role         Role              `json:"role"`
	Name         string            `json:"name"`
	Forwarding   bool              `json:"ipv4_forwarding"`
	IPv6Disabled bool              `json:"ipv6_disabled"`
	Interfaces   []InterfaceStatus `json:"interfaces"`
	Bridges      []BridgeStatus    `json:"bridges,omitempty"`
	Routes       []nlutil.Route    `json:"routes"` // main table, unicast

}

// InterfaceStatus is one link with its addresses.
type InterfaceStatus struct {
	Name      string         `json:"name"`
	Index     int            `json:"index"`
	Type      string         `json:"type"`  // bridge, veth, device…
	State     string         `json:"state"` // operational state: up, down, unknown…
	AdminUp   bool           `json:"admin_up"`
	MTU       int            `json:"mtu"`
	MAC       string         `json:"mac,omitempty"`
	Master    string         `json:"master,omitempty"`
	Addresses []netip.Prefix `json:"addresses"`
}

// BridgeStatus is a bridge and its ports.
type BridgeStatus struct {
	Name  string   `json:"name"`
	Ports []string `json:"ports"`
}

// Status reads the topology of the lab with prefix whose record is in dir ("" for
// DefaultDir()). It fails if there is no such lab.
func Status(dir, prefix string) (*Topology, error) {
	l, err := Open(dir, prefix)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	return l.Topology()
}

// Topology reads the lab's namespaces, interfaces, addresses, bridge ports, routes and
// forwarding / IPv6 sysctls.
func (l *Lab) Topology() (*Topology, error) {
	t := &Topology{Prefix: l.Spec.Prefix, IPv6: l.Spec.IPv6}
	for _, n := range l.Namespaces() {
		ns, err := readNamespace(n)
		if err != nil {
			return nil, fmt.Errorf("lab status %s: netns %s: %w", l.Spec.Prefix, n.Name, err)
		}
		t.Namespaces = append(t.Namespaces, *ns)
	}
	return t, nil
}

func readNamespace(n *Namespace) (*NamespaceStatus, error) {
	st := &NamespaceStatus{Role: n.Role, Name: n.Name}
	fwd, err := nsutil.ReadSysctl(n.NS, "net/ipv4/ip_forward")
	if err != nil {
		return nil, err
	}
	st.Forwarding = fwd == "1"
	dis, err := nsutil.ReadSysctl(n.NS, "net/ipv6/conf/all/disable_ipv6")
	st.IPv6Disabled = err != nil || dis == "1" // no IPv6 in the kernel counts as disabled

	links, err := nlutil.Dump(n.Netlink.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	addrs, err := nlutil.Dump(func() ([]netlink.Addr, error) { return n.Netlink.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	for _, l := range links {
		a := l.Attrs()
		is := InterfaceStatus{
			Name: a.Name, Index: a.Index, Type: l.Type(), State: a.OperState.String(),
			AdminUp: a.Flags&net.FlagUp != 0, MTU: a.MTU, Master: names[a.MasterIndex],
			Addresses: []netip.Prefix{},
		}
		if len(a.HardwareAddr) > 0 {
			is.MAC = a.HardwareAddr.String()
		}
		for _, ad := range addrs {
			if ad.LinkIndex == a.Index && ad.IPNet != nil {
				if p, ok := nlutil.Prefix(ad.IPNet); ok {
					is.Addresses = append(is.Addresses, p)
				}
			}
		}
		st.Interfaces = append(st.Interfaces, is)
	}
	slices.SortFunc(st.Interfaces, func(a, b InterfaceStatus) int { return a.Index - b.Index })
	st.Bridges = bridges(st.Interfaces)

	st.Routes = []nlutil.Route{}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := nlutil.Dump(func() ([]netlink.Route, error) {
			return n.Netlink.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		})
		if err != nil {
			return nil, fmt.Errorf("list routes: %w", err)
		}
		for _, r := range routes {
			if r.Type != unix.RTN_UNICAST {
				continue
			}
			st.Routes = append(st.Routes, nlutil.RouteOf(r, names, fam))
		}
	}
	return st, nil
}

// bridges groups the interfaces that have a bridge master by bridge (pure).
func bridges(ifs []InterfaceStatus) []BridgeStatus {
	var out []BridgeStatus
	for _, br := range ifs {
		if br.Type != "bridge" {
			continue
		}
		b := BridgeStatus{Name: br.Name, Ports: []string{}}
		for _, p := range ifs {
			if p.Master == br.Name {
				b.Ports = append(b.Ports, p.Name)
			}
		}
		out = append(out, b)
	}
	return out
}
