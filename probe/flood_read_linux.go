//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// readFloodedPort returns the frames flooded to the interface ifindex of one map set
// (bpf/flood.h): its slot of the per-CPU array below TotalsArrayIfindexes, its key in
// the hash above, per-CPU copies summed. An interface never flooded has zero.
func readFloodedPort(byIndex, hash *ebpf.Map, ifindex int) (Totals, error) {
	var per []Totals
	var err error
	if ifindex < TotalsArrayIfindexes {
		err = byIndex.Lookup(uint32(ifindex), &per)
	} else {
		err = hash.Lookup(uint32(ifindex), &per)
	}
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return Totals{}, nil
	}
	if err != nil {
		return Totals{}, fmt.Errorf("read flooded counters of ifindex %d: %w", ifindex, err)
	}
	return sumPerCPU(per), nil
}

// RawFloodedMAC is one entry of the flooded_macs map of a map set: the copies of frames
// for MAC that the ports of one bridge received, per-CPU copies summed.
type RawFloodedMAC struct {
	NSInode uint64
	Bridge  int // ifindex of the bridge in the host namespace; 0 inside a container
	MAC     [6]byte
	Totals  Totals
}

// readFloodedMACs appends the entries of one set's flooded_macs map (at most its 4096).
func readFloodedMACs(m *ebpf.Map, ino uint64, out []RawFloodedMAC) ([]RawFloodedMAC, error) {
	var (
		k   FloodKey
		per []Totals
	)
	it := m.Iterate()
	for it.Next(&k, &per) {
		out = append(out, RawFloodedMAC{NSInode: ino, Bridge: int(k.Bridge), MAC: k.MAC, Totals: sumPerCPU(per)})
	}
	if err := it.Err(); err != nil {
		return out, fmt.Errorf("read flooded destinations: %w", err)
	}
	return out, nil
}
