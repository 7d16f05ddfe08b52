//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/cilium/ebpf"
)

// floodRefs are the flooded-frame maps of one map set (bpf/flood.h). A set pinned by a
// netctl older than them has none: its interfaces read as never flooded.
type floodRefs struct {
	byIndex, hash, macs *ebpf.Map
}

func floodRefsOf(m *netctlMaps) floodRefs {
	return floodRefs{byIndex: m.FloodedByIndex, hash: m.Flooded, macs: m.FloodedMacs}
}

// pinnedFloodRefs opens the flooded-frame maps pinned in dir, read-only; all or none.
func pinnedFloodRefs(dir string) floodRefs {
	var f floodRefs
	for _, x := range []struct {
		name string
		dst  **ebpf.Map
	}{{netctlMapFloodedByIndex, &f.byIndex}, {netctlMapFlooded, &f.hash}, {netctlMapFloodedMacs, &f.macs}} {
		mp, err := ebpf.LoadPinnedMap(filepath.Join(dir, x.name), &ebpf.LoadPinOptions{ReadOnly: true})
		if err != nil {
			for _, m := range []*ebpf.Map{f.byIndex, f.hash, f.macs} {
				if m != nil {
					m.Close()
				}
			}
			return floodRefs{}
		}
		*x.dst = mp
	}
	return f
}

// addFloodedCounters fills in the flooded counters of each interface from its set.
func addFloodedCounters(sets []mapRefs, ifaces []InterfaceCounters) error {
	for i := range ifaces {
		j := slices.IndexFunc(sets, func(s mapRefs) bool { return s.cookie == ifaces[i].NSCookie })
		if j < 0 || sets[j].flood.byIndex == nil {
			continue
		}
		t, err := readFloodedPort(sets[j].flood.byIndex, sets[j].flood.hash, ifaces[i].Ifindex)
		if err != nil {
			return err
		}
		ifaces[i].RxFloodedPackets, ifaces[i].RxFloodedBytes = t.Packets, t.Bytes
	}
	return nil
}

// floodedDests reads the host set's flooded_macs and names its entries.
func floodedDests(sets []mapRefs, ports []Port) ([]FloodedDest, error) {
	var raw []RawFloodedMAC
	for _, s := range sets {
		if s.cookie != 0 || s.flood.macs == nil {
			continue
		}
		var err error
		if raw, err = readFloodedMACs(s.flood.macs, s.cookie, raw); err != nil {
			return nil, err
		}
	}
	return FloodedDestinations(ports, raw, monoNow(), time.Now()), nil
}

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

// readFloodedMACs appends the entries of one set's flooded_macs map (at most its 4096).
func readFloodedMACs(m *ebpf.Map, cookie uint64, out []RawFloodedMAC) ([]RawFloodedMAC, error) {
	var (
		k   FloodKey
		per []FloodValue
	)
	it := m.Iterate()
	for it.Next(&k, &per) {
		r := RawFloodedMAC{NSCookie: cookie, Bridge: int(k.Bridge), MAC: k.MAC}
		for _, v := range per {
			r.Totals = r.Totals.Add(Totals{Packets: v.Packets, Bytes: v.Bytes})
			r.LastNs = max(r.LastNs, v.LastSeenNs)
		}
		out = append(out, r)
	}
	if err := it.Err(); err != nil {
		return out, fmt.Errorf("read flooded destinations: %w", err)
	}
	return out, nil
}
