//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"errors"
	"fmt"
	"maps"
	"net"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
)

// putRxPort tells the programs of a map set what the interface ifindex delivers frames
// to (bpf/flood.h): the array below TotalsArrayIfindexes, the hash above.
func putRxPort(byIndex, hash *ebpf.Map, ifindex int, p RxPort) error {
	var err error
	if ifindex < TotalsArrayIfindexes {
		err = byIndex.Put(uint32(ifindex), p)
	} else {
		err = hash.Put(uint32(ifindex), p)
	}
	if err != nil {
		return fmt.Errorf("write rx check of ifindex %d: %w", ifindex, err)
	}
	return nil
}

// lookupRxPort reads ifindex's rx check into p (RxNone when there is none).
func lookupRxPort(byIndex, hash *ebpf.Map, ifindex int, p *RxPort) error {
	var err error
	if ifindex < TotalsArrayIfindexes {
		err = byIndex.Lookup(uint32(ifindex), p)
	} else {
		err = hash.Lookup(uint32(ifindex), p)
	}
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		*p = RxPort{}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read rx check of ifindex %d: %w", ifindex, err)
	}
	return nil
}

// deleteRxPort forgets ifindex's rx check (its interface is gone; the index may be
// reused by another).
func deleteRxPort(byIndex, hash *ebpf.Map, ifindex int) error {
	if ifindex < TotalsArrayIfindexes {
		return putRxPort(byIndex, hash, ifindex, RxPort{})
	}
	if err := hash.Delete(uint32(ifindex)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("delete rx check of ifindex %d: %w", ifindex, err)
	}
	return nil
}

// peerRef is a container interface at the other end of a host veth, as the host
// namespace sees it: the link-netnsid of its namespace and its ifindex there.
type peerRef struct{ nsid, ifindex int }

// hostRxPort is the rx check of a host port: RxPeer towards the container interface
// with mac when the port is a bridge's (master is the bridge's ifindex) and the MAC is
// known, RxNone otherwise. It is pure.
func hostRxPort(master int, mac string) RxPort {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 || master <= 0 {
		return RxPort{}
	}
	return RxPort{Check: RxPeer, MAC: [6]byte(hw), Bridge: uint32(master)}
}

// describeHostPort writes the rx check of the host port l, described by p (HostPort),
// and remembers its peer so FollowMACs finds the entry when the peer's MAC changes.
func (d *Datapath) describeHostPort(l netlink.Link, p Port) error {
	s := d.sets[0]
	rp := hostRxPort(l.Attrs().MasterIndex, p.MAC)
	if err := putRxPort(s.objs.RxPortsByIndex, s.objs.RxPorts, l.Attrs().Index, rp); err != nil {
		return err
	}
	d.forgetPeer(l.Attrs().Index)
	if rp.Check == RxPeer && l.Attrs().NetNsID >= 0 {
		d.peers[peerRef{l.Attrs().NetNsID, l.Attrs().ParentIndex}] = l.Attrs().Index
	}
	return nil
}

// forgetPeer drops what describeHostPort remembered of the host port ifindex.
func (d *Datapath) forgetPeer(ifindex int) {
	maps.DeleteFunc(d.peers, func(_ peerRef, i int) bool { return i == ifindex })
}

// forgetRx clears the rx check and the flooded counters of the host port ifindex, which
// is gone (its index may be reused by another interface).
func (d *Datapath) forgetRx(ifindex int) error {
	s := d.sets[0]
	d.forgetPeer(ifindex)
	err := deleteRxPort(s.objs.RxPortsByIndex, s.objs.RxPorts, ifindex)
	if ifindex < TotalsArrayIfindexes {
		ncpu, cerr := ebpf.PossibleCPU()
		if cerr != nil {
			return errors.Join(err, cerr)
		}
		if perr := s.objs.FloodedByIndex.Put(uint32(ifindex), make([]Totals, ncpu)); perr != nil {
			err = errors.Join(err, fmt.Errorf("clear flooded counters of ifindex %d: %w", ifindex, perr))
		}
	} else if derr := s.objs.Flooded.Delete(uint32(ifindex)); derr != nil && !errors.Is(derr, ebpf.ErrKeyNotExist) {
		err = errors.Join(err, fmt.Errorf("clear flooded counters of ifindex %d: %w", ifindex, derr))
	}
	return err
}
