//go:build linux

package lab

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/netctl/netctl/internal/nsutil"
)

// Lab is an open handle to a running lab: one open namespace and one netlink handle per
// namespace. Close it when done; closing does not remove the lab (Down does).
type Lab struct {
	Spec       Spec
	Host       *Namespace
	Container1 *Namespace
	Container2 *Namespace
	Outside    *Namespace
	Container3 *Namespace // nil unless the lab was made with Options.Container3
}

// Namespace is one open namespace of a lab.
type Namespace struct {
	Role     Role
	Name     string          // under /var/run/netns, usable with `ip netns exec`
	NS       netns.NsHandle  // open fd of the namespace
	Netlink  *netlink.Handle // netlink handle bound to the namespace
	Iface    string          // own interface: docker0 for the host, eth0 for the others
	Addr4    netip.Addr      // IPv4 address of Iface
	Addr6    netip.Addr      // IPv6 address of Iface, zero unless the lab has IPv6
	HostVeth string          // host end of the veth reaching this namespace ("" for the host)
}

// Namespaces returns the lab's namespaces in creation order.
func (l *Lab) Namespaces() []*Namespace {
	out := []*Namespace{l.Host, l.Container1, l.Container2, l.Outside}
	if l.Container3 != nil {
		out = append(out, l.Container3)
	}
	return out
}

// Namespace returns the namespace of role, or nil.
func (l *Lab) Namespace(role Role) *Namespace {
	for _, n := range l.Namespaces() {
		if n != nil && n.Role == role {
			return n
		}
	}
	return nil
}

// Close releases the handles. It does not change the lab.
func (l *Lab) Close() error {
	for _, n := range l.Namespaces() {
		if n != nil {
			n.close()
		}
	}
	return nil
}

func (n *Namespace) close() {
	if n.Netlink != nil {
		n.Netlink.Close()
		n.Netlink = nil
	}
	if n.NS.IsOpen() {
		_ = n.NS.Close()
	}
	n.NS = netns.None()
}

// newNamespace wraps an open namespace handle and binds a netlink handle to it.
func newNamespace(s Spec, role Role, h netns.NsHandle) (*Namespace, error) {
	nl, err := nsutil.Handle(h)
	if err != nil {
		return nil, fmt.Errorf("netns %s: %w", s.Name(role), err)
	}
	iface := ContainerIf
	if role == RoleHost {
		iface = s.Bridge.Name
	}
	return &Namespace{
		Role: role, Name: s.Name(role), NS: h, Netlink: nl, Iface: iface,
		Addr4: s.Addr(role, false), Addr6: s.Addr(role, true), HostVeth: s.HostVeth(role),
	}, nil
}

// set stores n in the field of its role.
func (l *Lab) set(n *Namespace) {
	switch n.Role {
	case RoleHost:
		l.Host = n
	case RoleContainer1:
		l.Container1 = n
	case RoleContainer2:
		l.Container2 = n
	case RoleOutside:
		l.Outside = n
	case RoleContainer3:
		l.Container3 = n
	}
}

// Open returns handles to the existing lab with prefix whose record is in dir ("" for
// DefaultDir()). It fails if there is no such lab, if its Up did not finish, or if one of
// its namespaces was replaced by another.
func Open(dir, prefix string) (*Lab, error) {
	if err := ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	rec, err := readRecord(dir, prefix)
	if errors.Is(err, ErrNoLab) {
		return nil, fmt.Errorf("open lab %s: %w (run 'netctl lab up --prefix %s')", prefix, ErrNoLab, prefix)
	}
	if err != nil {
		return nil, fmt.Errorf("open lab %s: %w", prefix, err)
	}
	if !rec.Complete {
		return nil, fmt.Errorf("open lab %s: it is incomplete ('up' was interrupted); run 'netctl lab down --prefix %s'", prefix, prefix)
	}
	spec, err := NewSpec(prefix, rec.IPv6)
	if err != nil {
		return nil, err
	}
	if rec.Container3 {
		spec = spec.WithContainer3()
	}
	l := &Lab{Spec: spec}
	for _, rn := range rec.Namespaces {
		h, err := nsutil.OpenNamed(rn.Name)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("open lab %s: %w", prefix, err)
		}
		if c, err := nsutil.Cookie(h); err != nil || c != rn.Cookie {
			h.Close()
			l.Close()
			return nil, fmt.Errorf("open lab %s: netns %s is not the one 'lab up' made", prefix, rn.Name)
		}
		n, err := newNamespace(spec, rn.Role, h)
		if err != nil {
			h.Close()
			l.Close()
			return nil, fmt.Errorf("open lab %s: %w", prefix, err)
		}
		l.set(n)
	}
	for _, n := range l.Namespaces() {
		if n == nil {
			l.Close()
			return nil, fmt.Errorf("open lab %s: its record lacks a namespace", prefix)
		}
	}
	return l, nil
}
