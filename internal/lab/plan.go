package lab

import (
	"fmt"
	"net/netip"
	"strings"
)

// op is the kind of one step of Up.
type op int

const (
	opCreateNS  op = iota // create the named namespace
	opSysctl              // write key=value inside ns
	opLinkUp              // set link up
	opAddBridge           // add bridge link in ns
	opAddVeth             // add veth link in ns with peer born in peerNS
	opSetMaster           // enslave link to master
	opAddAddr             // add addr to link
	opAddRoute            // add route dst via via dev link
)

// step is one kernel change of Up, described as data so that the order can be tested
// without a kernel and every error can say which step failed.
type step struct {
	op     op
	ns     Role
	link   string
	peerNS Role   // opAddVeth
	peer   string // opAddVeth
	master string // opSetMaster
	addr   netip.Prefix
	dst    netip.Prefix
	via    netip.Addr
	key    string // opSysctl, e.g. net/ipv4/ip_forward
	value  string
}

// plan returns the steps that build s, in order. IPv6 is switched off and forwarding set
// right after each namespace is created, before any interface exists.
func plan(s Spec) []step {
	var steps []step
	for _, n := range s.Namespaces {
		steps = append(steps, step{op: opCreateNS, ns: n.Role})
		if s.IPv6 {
			// No duplicate address detection, so that link-local addresses (used by
			// neighbour discovery) are usable at once, like the lab's own nodad ones.
			steps = append(steps,
				step{op: opSysctl, ns: n.Role, key: "net/ipv6/conf/all/accept_dad", value: "0"},
				step{op: opSysctl, ns: n.Role, key: "net/ipv6/conf/default/accept_dad", value: "0"})
		} else {
			steps = append(steps,
				step{op: opSysctl, ns: n.Role, key: "net/ipv6/conf/all/disable_ipv6", value: "1"},
				step{op: opSysctl, ns: n.Role, key: "net/ipv6/conf/default/disable_ipv6", value: "1"})
		}
		// A new namespace inherits ip_forward from the initial one; set it either way so
		// that only the host routes, whatever the machine's setting.
		fwd := "0"
		if n.Role == RoleHost {
			fwd = "1"
		}
		steps = append(steps, step{op: opSysctl, ns: n.Role, key: "net/ipv4/ip_forward", value: fwd})
		if s.IPv6 {
			steps = append(steps, step{op: opSysctl, ns: n.Role, key: "net/ipv6/conf/all/forwarding", value: fwd})
		}
		steps = append(steps, step{op: opLinkUp, ns: n.Role, link: "lo"})
	}
	steps = append(steps, step{op: opAddBridge, ns: RoleHost, link: s.Bridge.Name})
	for _, a := range s.Bridge.Addrs {
		steps = append(steps, step{op: opAddAddr, ns: RoleHost, link: s.Bridge.Name, addr: a})
	}
	steps = append(steps, step{op: opLinkUp, ns: RoleHost, link: s.Bridge.Name})
	for _, v := range s.Veths {
		steps = append(steps, step{op: opAddVeth, ns: RoleHost, link: v.HostName, peerNS: v.Peer, peer: v.PeerName})
		if v.Master != "" {
			steps = append(steps, step{op: opSetMaster, ns: RoleHost, link: v.HostName, master: v.Master})
		}
		for _, a := range v.HostAddrs {
			steps = append(steps, step{op: opAddAddr, ns: RoleHost, link: v.HostName, addr: a})
		}
		steps = append(steps, step{op: opLinkUp, ns: RoleHost, link: v.HostName})
		for _, a := range v.PeerAddrs {
			steps = append(steps, step{op: opAddAddr, ns: v.Peer, link: v.PeerName, addr: a})
		}
		steps = append(steps, step{op: opLinkUp, ns: v.Peer, link: v.PeerName})
	}
	for _, r := range s.Routes {
		steps = append(steps, step{op: opAddRoute, ns: r.NS, link: r.Dev, dst: r.Dst, via: r.Via})
	}
	return steps
}

// describe renders st as the equivalent iproute2 command, for errors and logs.
func (st step) describe(s Spec) string {
	ns := s.Name(st.ns)
	switch st.op {
	case opCreateNS:
		return "ip netns add " + ns
	case opSysctl:
		return fmt.Sprintf("ip netns exec %s sysctl -w %s=%s", ns, strings.ReplaceAll(st.key, "/", "."), st.value)
	case opLinkUp:
		return fmt.Sprintf("ip -n %s link set %s up", ns, st.link)
	case opAddBridge:
		return fmt.Sprintf("ip -n %s link add %s type bridge", ns, st.link)
	case opAddVeth:
		return fmt.Sprintf("ip -n %s link add %s type veth peer name %s netns %s", ns, st.link, st.peer, s.Name(st.peerNS))
	case opSetMaster:
		return fmt.Sprintf("ip -n %s link set %s master %s", ns, st.link, st.master)
	case opAddAddr:
		nodad := ""
		if st.addr.Addr().Is6() {
			nodad = " nodad"
		}
		return fmt.Sprintf("ip -n %s addr add %s dev %s%s", ns, st.addr, st.link, nodad)
	case opAddRoute:
		dst := st.dst.String()
		if st.dst.Bits() == 0 {
			dst = "default"
		}
		fam := ""
		if st.dst.Addr().Is6() {
			fam = " -6"
		}
		return fmt.Sprintf("ip%s -n %s route add %s via %s dev %s", fam, ns, dst, st.via, st.link)
	}
	return fmt.Sprintf("unknown step %d", st.op)
}
