//go:build linux

package lab

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/netctl/netctl/internal/nlutil"
)

// DefaultPrefix is the prefix of the lab's namespace names when none is given.
const DefaultPrefix = "netctl-lab"

// MaxPrefixLen is the longest prefix accepted; it keeps namespace names and record file
// names short and readable.
const MaxPrefixLen = 48

// Role names one namespace of the lab; the namespace is called PREFIX-ROLE.
type Role string

// The four namespaces of a lab.
const (
	RoleHost       Role = "host"       // the Docker host: bridge docker0, forwarding on
	RoleContainer1 Role = "container1" // eth0 172.17.0.2/16 on docker0
	RoleContainer2 Role = "container2" // eth0 172.17.0.3/16 on docker0
	RoleOutside    Role = "outside"    // a host reached by routing through the host
	// RoleContainer3 is made only on request (Options.Container3): eth0 172.17.0.4/16 on
	// docker0, a bystander that sees what the bridge floods.
	RoleContainer3 Role = "container3"
)

// Roles lists the lab's namespaces in creation order (container3, when asked for, last).
var Roles = []Role{RoleHost, RoleContainer1, RoleContainer2, RoleOutside}

// Fixed interface names inside the lab's namespaces.
const (
	BridgeName  = "docker0"  // the bridge in the host namespace
	ContainerIf = "eth0"     // the interface of containers and of the outside host
	OutsideLink = "outside0" // the host end of the veth to the outside host
)

// Spec is the pure description of a lab: what Up builds, in order, and what Status and
// Traffic expect to find.
type Spec struct {
	Prefix     string          `json:"prefix"`
	IPv6       bool            `json:"ipv6"`
	Container3 bool            `json:"container3,omitempty"` // WithContainer3
	Namespaces []NamespaceSpec `json:"namespaces"`           // creation order; the host first
	Bridge     BridgeSpec      `json:"bridge"`               // in the host namespace
	Veths      []VethSpec      `json:"veths"`                // host end in the host namespace
	Routes     []RouteSpec     `json:"routes"`
}

// NamespaceSpec is one network namespace of the lab.
type NamespaceSpec struct {
	Role Role   `json:"role"`
	Name string `json:"name"` // under /var/run/netns
}

// BridgeSpec is the bridge of the host namespace.
type BridgeSpec struct {
	Name  string         `json:"name"`
	Addrs []netip.Prefix `json:"addrs"`
}

// VethSpec is a veth pair whose host end is made in the host namespace and whose peer is
// born directly in the Peer namespace.
type VethSpec struct {
	HostName  string         `json:"host_name"`
	Master    string         `json:"master,omitempty"` // bridge the host end is a port of
	HostAddrs []netip.Prefix `json:"host_addrs,omitempty"`
	Peer      Role           `json:"peer"`
	PeerName  string         `json:"peer_name"`
	PeerAddrs []netip.Prefix `json:"peer_addrs"`
}

// RouteSpec is a route (destination, gateway, device) added to the main table of NS.
type RouteSpec struct {
	NS Role `json:"ns"`
	nlutil.Route
}

// ValidatePrefix reports whether prefix can name a lab: it must be 1 to MaxPrefixLen
// bytes of letters, digits, '.', '_' and '-', starting with a letter or digit, so that
// PREFIX-ROLE is a valid netns name and a safe file name.
func ValidatePrefix(prefix string) error {
	switch {
	case prefix == "":
		return fmt.Errorf("invalid lab prefix: empty")
	case len(prefix) > MaxPrefixLen:
		return fmt.Errorf("invalid lab prefix %q: %d bytes, at most %d", prefix, len(prefix), MaxPrefixLen)
	}
	for i, c := range []byte(prefix) {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		switch {
		case alnum:
		case i == 0:
			return fmt.Errorf("invalid lab prefix %q: must start with a letter or digit", prefix)
		case c == '-' || c == '_' || c == '.':
		case c == '/':
			return fmt.Errorf("invalid lab prefix %q: must not contain '/'", prefix)
		default:
			return fmt.Errorf("invalid lab prefix %q: byte %q not allowed (letters, digits, '.', '_', '-')", prefix, c)
		}
	}
	return nil
}

// NamespaceName returns the netns name of role in the lab with prefix.
func NamespaceName(prefix string, role Role) string { return prefix + "-" + string(role) }

// NewSpec returns the lab for prefix, after validating it.
func NewSpec(prefix string, ipv6 bool) (Spec, error) {
	if err := ValidatePrefix(prefix); err != nil {
		return Spec{}, err
	}
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	pick := func(v4 string, v6 string) []netip.Prefix {
		out := []netip.Prefix{p(v4)}
		if ipv6 {
			out = append(out, p(v6))
		}
		return out
	}
	s := Spec{Prefix: prefix, IPv6: ipv6}
	for _, r := range Roles {
		s.Namespaces = append(s.Namespaces, NamespaceSpec{Role: r, Name: NamespaceName(prefix, r)})
	}
	s.Bridge = BridgeSpec{Name: BridgeName, Addrs: pick("172.17.0.1/16", "fd17::1/64")}
	s.Veths = []VethSpec{
		{HostName: "veth-c1", Master: BridgeName, Peer: RoleContainer1, PeerName: ContainerIf,
			PeerAddrs: pick("172.17.0.2/16", "fd17::2/64")},
		{HostName: "veth-c2", Master: BridgeName, Peer: RoleContainer2, PeerName: ContainerIf,
			PeerAddrs: pick("172.17.0.3/16", "fd17::3/64")},
		{HostName: OutsideLink, HostAddrs: pick("198.51.100.1/24", "fd51::1/64"),
			Peer: RoleOutside, PeerName: ContainerIf, PeerAddrs: pick("198.51.100.2/24", "fd51::2/64")},
	}
	route := func(ns Role, dst, via string) RouteSpec {
		return RouteSpec{NS: ns, Route: nlutil.Route{Dst: p(dst), Gateway: a(via), Dev: ContainerIf}}
	}
	s.Routes = []RouteSpec{
		route(RoleContainer1, "0.0.0.0/0", "172.17.0.1"),
		route(RoleContainer2, "0.0.0.0/0", "172.17.0.1"),
		route(RoleOutside, "172.17.0.0/16", "198.51.100.1"),
	}
	if ipv6 {
		s.Routes = append(s.Routes,
			route(RoleContainer1, "::/0", "fd17::1"),
			route(RoleContainer2, "::/0", "fd17::1"),
			route(RoleOutside, "fd17::/64", "fd51::1"),
		)
	}
	return s, nil
}

// WithContainer3 returns s with a third container: namespace PREFIX-container3, eth0
// 172.17.0.4/16 (fd17::4/64 in an IPv6 lab) on docker0 through veth-c3, its default
// route via docker0's address.
func (s Spec) WithContainer3() Spec {
	if slices.ContainsFunc(s.Namespaces, func(n NamespaceSpec) bool { return n.Role == RoleContainer3 }) {
		return s
	}
	p := netip.MustParsePrefix
	s.Container3 = true
	s.Namespaces = append(slices.Clone(s.Namespaces), NamespaceSpec{Role: RoleContainer3, Name: s.Name(RoleContainer3)})
	v := VethSpec{HostName: "veth-c3", Master: BridgeName, Peer: RoleContainer3, PeerName: ContainerIf,
		PeerAddrs: []netip.Prefix{p("172.17.0.4/16")}}
	routes := []RouteSpec{{NS: RoleContainer3, Route: nlutil.Route{Dst: p("0.0.0.0/0"), Gateway: netip.MustParseAddr("172.17.0.1"), Dev: ContainerIf}}}
	if s.IPv6 {
		v.PeerAddrs = append(v.PeerAddrs, p("fd17::4/64"))
		routes = append(routes, RouteSpec{NS: RoleContainer3, Route: nlutil.Route{Dst: p("::/0"), Gateway: netip.MustParseAddr("fd17::1"), Dev: ContainerIf}})
	}
	s.Veths = append(slices.Clone(s.Veths), v)
	s.Routes = append(slices.Clone(s.Routes), routes...)
	return s
}

// Name returns the netns name of role.
func (s Spec) Name(role Role) string { return NamespaceName(s.Prefix, role) }

// Addr returns the address of role's own interface (docker0 for the host, eth0 for the
// others) in the IPv4 or IPv6 family, or the zero Addr if the lab has none.
func (s Spec) Addr(role Role, ipv6 bool) netip.Addr {
	var addrs []netip.Prefix
	if role == RoleHost {
		addrs = s.Bridge.Addrs
	}
	for _, v := range s.Veths {
		if v.Peer == role {
			addrs = v.PeerAddrs
		}
	}
	for _, p := range addrs {
		if p.Addr().Is6() == ipv6 {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// HostVeth returns the name of the host end of the veth that reaches role, or "" for the
// host itself.
func (s Spec) HostVeth(role Role) string {
	for _, v := range s.Veths {
		if v.Peer == role {
			return v.HostName
		}
	}
	return ""
}
