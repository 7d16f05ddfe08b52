//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// mapRefs are the three maps of one namespace's map set.
type mapRefs struct {
	ino                             uint64 // 0: host namespace
	totalsIdx, totals, flows, stats *ebpf.Map
	flood                           floodRefs
	owned                           bool // loaded from pins by this reader: close them
}

func (m mapRefs) close() {
	if !m.owned {
		return
	}
	for _, mp := range []*ebpf.Map{m.totalsIdx, m.totals, m.flows, m.stats, m.flood.byIndex, m.flood.hash, m.flood.macs} {
		if mp != nil {
			mp.Close()
		}
	}
}

// pinnedSets opens the maps pinned under root (the folder of a host namespace), one set
// per namespace.
func pinnedSets(root string) ([]mapRefs, error) {
	dirs := []struct {
		ino uint64
		dir string
	}{{0, root}}
	ents, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("nothing attached in this namespace (no pins under %s): run 'netctl attach' or 'netctl serve'", root)
	}
	if err != nil {
		return nil, fmt.Errorf("read pins: %w", err)
	}
	for _, e := range ents {
		if s, ok := strings.CutPrefix(e.Name(), "ns-"); ok && e.IsDir() {
			if ino, err := strconv.ParseUint(s, 10, 64); err == nil {
				dirs = append(dirs, struct {
					ino uint64
					dir string
				}{ino, filepath.Join(root, e.Name())})
			}
		}
	}
	var sets []mapRefs
	for _, d := range dirs {
		var m mapRefs
		m.ino, m.owned = d.ino, true
		var firstErr error
		for _, x := range []struct {
			name string
			dst  **ebpf.Map
		}{{netctlMapTotalsByIndex, &m.totalsIdx}, {netctlMapTotals, &m.totals}, {netctlMapFlows, &m.flows}, {netctlMapStats, &m.stats}} {
			mp, err := ebpf.LoadPinnedMap(filepath.Join(d.dir, mapsSubdir, x.name), &ebpf.LoadPinOptions{ReadOnly: true})
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("open pinned map %s: %w", filepath.Join(d.dir, mapsSubdir, x.name), err)
				}
				continue
			}
			*x.dst = mp
		}
		m.flood = pinnedFloodRefs(filepath.Join(d.dir, mapsSubdir))
		if err := firstErr; err != nil {
			for _, s := range sets {
				s.close()
			}
			m.close()
			return nil, err
		}
		sets = append(sets, m)
	}
	return sets, nil
}

// readRaw reads every set's totals, flows and stats, per-CPU copies merged.
func readRaw(sets []mapRefs) (totals []RawTotals, flows []RawFlow, entries, capacity int, stats [2]uint64, err error) {
	for _, s := range sets {
		capacity += int(s.flows.MaxEntries())
	}
	flows = make([]RawFlow, 0, capacity) // one allocation for the result, however full
	for _, s := range sets {
		totals, err = readTotalsArray(s, totals)
		if err != nil {
			return nil, nil, 0, 0, stats, err
		}
		var key netctlNcTotalsKey
		var vals []netctlNcTotalsValue
		it := s.totals.Iterate()
		for it.Next(&key, &vals) {
			var t Totals
			for _, v := range vals {
				t.Packets += v.Packets
				t.Bytes += v.Bytes
			}
			totals = append(totals, RawTotals{NSInode: s.ino, Ifindex: int(key.Ifindex), Dir: Direction(key.Direction), Totals: t})
		}
		if err := it.Err(); err != nil {
			return nil, nil, 0, 0, stats, fmt.Errorf("read totals: %w", err)
		}
		n0 := len(flows)
		flows, err = readFlows(s, flows)
		if err != nil {
			return nil, nil, 0, 0, stats, err
		}
		entries += len(flows) - n0
		for i := range stats {
			var per []uint64
			if err := s.stats.Lookup(uint32(i), &per); err != nil {
				return nil, nil, 0, 0, stats, fmt.Errorf("read stats: %w", err)
			}
			for _, v := range per {
				stats[i] += v
			}
		}
	}
	return totals, flows, entries, capacity, stats, nil
}

const batchChunk = 4096

// batchBuf is the reusable buffer of one batch lookup.
type batchBuf struct {
	keys [batchChunk]netctlNcFlowKey
	vals []netctlNcFlowValue
}

var batchBufs = sync.Pool{New: func() any { return new(batchBuf) }}

// readTotalsArray appends the non-zero slots of the totals array (slot = ifindex*2+dir).
func readTotalsArray(s mapRefs, out []RawTotals) ([]RawTotals, error) {
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return out, err
	}
	n := int(s.totalsIdx.MaxEntries())
	keys := make([]uint32, n)
	vals := make([]netctlNcTotalsValue, n*ncpu)
	var cursor ebpf.MapBatchCursor
	got, err := s.totalsIdx.BatchLookup(&cursor, keys, vals, nil)
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return out, fmt.Errorf("read totals: %w", err)
	}
	for i := range got {
		var t Totals
		for _, v := range vals[i*ncpu : (i+1)*ncpu] {
			t.Packets += v.Packets
			t.Bytes += v.Bytes
		}
		if t.Packets == 0 {
			continue
		}
		out = append(out, RawTotals{NSInode: s.ino, Ifindex: int(keys[i] / 2), Dir: Direction(keys[i] % 2), Totals: t})
	}
	return out, nil
}

// readFlows appends the flows of one set, with batch lookups where the kernel has them.
func readFlows(s mapRefs, out []RawFlow) ([]RawFlow, error) {
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return out, err
	}
	buf := batchBufs.Get().(*batchBuf)
	defer batchBufs.Put(buf)
	if len(buf.vals) != batchChunk*ncpu {
		buf.vals = make([]netctlNcFlowValue, batchChunk*ncpu)
	}
	keys, vals := buf.keys[:], buf.vals
	var cursor ebpf.MapBatchCursor
	for {
		n, err := s.flows.BatchLookup(&cursor, keys, vals, nil)
		for i := range n {
			out = append(out, rawFlow(s.ino, &keys[i], vals[i*ncpu:(i+1)*ncpu]))
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return out, nil
		}
		if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EINVAL) {
			return iterFlows(s, out)
		}
		if err != nil {
			return out, fmt.Errorf("read flows: %w", err)
		}
	}
}

func iterFlows(s mapRefs, out []RawFlow) ([]RawFlow, error) {
	var key netctlNcFlowKey
	var vals []netctlNcFlowValue
	it := s.flows.Iterate()
	for it.Next(&key, &vals) {
		out = append(out, rawFlow(s.ino, &key, vals))
	}
	if err := it.Err(); err != nil {
		return out, fmt.Errorf("read flows: %w", err)
	}
	return out, nil
}

// rawFlow merges a flow's per-CPU copies: counts add up, first seen is the earliest,
// last seen the latest, flags are OR'd.
func rawFlow(ino uint64, k *netctlNcFlowKey, per []netctlNcFlowValue) RawFlow {
	f := RawFlow{NSInode: ino, Ifindex: int(k.Ifindex), Dir: Direction(k.Direction), Proto: k.Proto,
		Sport: k.Sport, Dport: k.Dport}
	if k.Family == 6 {
		f.Src, f.Dst = netip.AddrFrom16(k.Saddr), netip.AddrFrom16(k.Daddr)
	} else {
		f.Src = netip.AddrFrom4([4]byte(k.Saddr[:4]))
		f.Dst = netip.AddrFrom4([4]byte(k.Daddr[:4]))
	}
	for _, v := range per {
		if v.Packets == 0 {
			continue
		}
		f.Packets += v.Packets
		f.Bytes += v.Bytes
		if f.FirstNs == 0 || v.FirstSeenNs < f.FirstNs {
			f.FirstNs = v.FirstSeenNs
		}
		f.LastNs = max(f.LastNs, v.LastSeenNs)
		f.TCPFlags |= v.TcpFlags
		f.SynNoAck = f.SynNoAck || v.Flags&FlowSynNoAck != 0
	}
	return f
}

// monoNow reads CLOCK_MONOTONIC, the clock of the programs' time stamps.
func monoNow() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}
