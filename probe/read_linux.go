//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// mapRefs are the three maps of one namespace's map set.
type mapRefs struct {
	cookie                          uint64 // the namespace's cookie; 0: host namespace
	totalsIdx, totals, flows, stats *ebpf.Map
	owned                           bool // loaded from pins by this reader: close them
}

func (m mapRefs) close() {
	if !m.owned {
		return
	}
	for _, mp := range []*ebpf.Map{m.totalsIdx, m.totals, m.flows, m.stats} {
		if mp != nil {
			mp.Close()
		}
	}
}

// pinnedSets opens the maps pinned under root (the folder of a host namespace), one set
// per namespace.
func pinnedSets(root string) ([]mapRefs, error) {
	dirs := []struct {
		cookie uint64
		dir    string
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
			if cookie, err := strconv.ParseUint(s, 10, 64); err == nil {
				dirs = append(dirs, struct {
					cookie uint64
					dir    string
				}{cookie, filepath.Join(root, e.Name())})
			}
		}
	}
	var sets []mapRefs
	for _, d := range dirs {
		var m mapRefs
		m.cookie, m.owned = d.cookie, true
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

// readRaw reads the totals of ports and every flow of every set, per-CPU copies merged.
func readRaw(ctx context.Context, sets []mapRefs, ports []Port) (totals []RawTotals, flows []RawFlow, entries, capacity int, stats [2]uint64, err error) {
	totals, err = readPortTotals(sets, ports)
	if err != nil {
		return nil, nil, 0, 0, stats, err
	}
	if stats, err = readStats(sets); err != nil {
		return nil, nil, 0, 0, stats, err
	}
	capacity = flowCapacity(sets)
	flows = make([]RawFlow, 0, capacity) // one allocation for the result, however full
	entries, err = eachEntry(ctx, sets, func(e *Entry) { flows = append(flows, rawFlowOf(e)) })
	if err != nil {
		return nil, nil, 0, 0, stats, err
	}
	return totals, flows, entries, capacity, stats, nil
}

// flowCapacity is the sum of the sets' flow table sizes.
func flowCapacity(sets []mapRefs) int {
	n := 0
	for _, s := range sets {
		n += int(s.flows.MaxEntries())
	}
	return n
}

// readStats adds up the stats of every set.
func readStats(sets []mapRefs) ([2]uint64, error) {
	var stats [2]uint64
	var per []uint64
	for _, s := range sets {
		for i := range stats {
			if err := s.stats.Lookup(uint32(i), &per); err != nil {
				return stats, fmt.Errorf("read stats: %w", err)
			}
			for _, v := range per {
				stats[i] += v
			}
		}
	}
	return stats, nil
}

// readPortTotals looks up the totals of each port in its set, both directions: the array
// slot (ifindex*2+dir) below TotalsArrayIfindexes, the hash above. The cost follows the
// ports, not the array's size.
func readPortTotals(sets []mapRefs, ports []Port) ([]RawTotals, error) {
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, err
	}
	vals := make([]netctlNcTotalsValue, ncpu)
	out := make([]RawTotals, 0, 2*len(ports))
	for _, p := range ports {
		i := slices.IndexFunc(sets, func(s mapRefs) bool { return s.cookie == p.NSCookie })
		if i < 0 {
			continue
		}
		for _, dir := range []Direction{Ingress, Egress} {
			if p.Ifindex < TotalsArrayIfindexes {
				err = sets[i].totalsIdx.Lookup(uint32(p.Ifindex*2+int(dir)), vals)
			} else {
				err = sets[i].totals.Lookup(netctlNcTotalsKey{Ifindex: uint32(p.Ifindex), Direction: netctlNcDirection(dir)}, vals)
			}
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("read totals of %s: %w", p.Interface, err)
			}
			var t Totals
			for _, v := range vals {
				t.Packets += v.Packets
				t.Bytes += v.Bytes
			}
			out = append(out, RawTotals{NSCookie: p.NSCookie, Ifindex: p.Ifindex, Dir: dir, Totals: t})
		}
	}
	return out, nil
}

// batchBuf is the reusable buffer of one batch lookup: keys and their per-CPU values.
type batchBuf struct {
	keys []netctlNcFlowKey
	vals []netctlNcFlowValue
}

var batchBufs sync.Pool

// batchLen is how many entries one batch lookup asks for: 4096, fewer on hosts with many
// CPUs so the values buffer (one value per CPU per entry) stays near 1 MiB.
func batchLen(ncpu int) int {
	return max(256, min(4096, (1<<20)/(ncpu*int(unsafe.Sizeof(netctlNcFlowValue{})))))
}

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
		out = append(out, RawTotals{NSCookie: s.cookie, Ifindex: int(keys[i] / 2), Dir: Direction(keys[i] % 2), Totals: t})
	}
	return out, nil
}

// eachEntry calls fn with every flow entry of every set, per-CPU copies merged, and
// returns how many there were. It reads with batch lookups into pooled buffers where the
// kernel has them (an iterator otherwise) and allocates nothing per entry: the *Entry fn
// gets is reused, fn copies what it keeps. It stops early when ctx ends.
func eachEntry(ctx context.Context, sets []mapRefs, fn func(*Entry)) (int, error) {
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return 0, err
	}
	buf, _ := batchBufs.Get().(*batchBuf)
	if n := batchLen(ncpu); buf == nil || len(buf.keys) != n {
		buf = &batchBuf{keys: make([]netctlNcFlowKey, n), vals: make([]netctlNcFlowValue, n*ncpu)}
	}
	defer batchBufs.Put(buf)
	var e Entry
	total := 0
	for _, s := range sets {
		e.NSCookie = s.cookie
		var cursor ebpf.MapBatchCursor
		for {
			if err := ctx.Err(); err != nil {
				return total, fmt.Errorf("read flows: %w", err)
			}
			n, err := s.flows.BatchLookup(&cursor, buf.keys, buf.vals, nil)
			for i := range n {
				fill(&e, &buf.keys[i], buf.vals[i*ncpu:(i+1)*ncpu])
				fn(&e)
			}
			total += n
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				break
			}
			if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EINVAL) {
				n, err := iterEntries(s, &e, fn)
				total += n
				if err != nil {
					return total, err
				}
				break
			}
			if err != nil {
				return total, fmt.Errorf("read flows: %w", err)
			}
		}
	}
	return total, nil
}

// iterEntries reads a set's flows with the map iterator (kernels without batch lookups).
func iterEntries(s mapRefs, e *Entry, fn func(*Entry)) (int, error) {
	var key netctlNcFlowKey
	var vals []netctlNcFlowValue
	n := 0
	it := s.flows.Iterate()
	for it.Next(&key, &vals) {
		fill(e, &key, vals)
		fn(e)
		n++
	}
	if err := it.Err(); err != nil {
		return n, fmt.Errorf("read flows: %w", err)
	}
	return n, nil
}

// fill sets e from a flow's key and per-CPU values: counts add up, first seen is the
// earliest, last seen the latest, flags are OR'd (a CPU that never saw the flow has an
// all-zero value).
func fill(e *Entry, k *netctlNcFlowKey, per []netctlNcFlowValue) {
	e.Key = FlowKey{Ifindex: k.Ifindex, Dir: k.Direction, Proto: k.Proto, Family: k.Family,
		Sport: k.Sport, Dport: k.Dport, Saddr: k.Saddr, Daddr: k.Daddr}
	e.Packets, e.Bytes, e.FirstNs, e.LastNs, e.TCPFlags, e.Flags = 0, 0, 0, 0, 0, 0
	for i := range per {
		v := &per[i]
		if v.Packets == 0 {
			continue
		}
		e.Packets += v.Packets
		e.Bytes += v.Bytes
		if e.FirstNs == 0 || v.FirstSeenNs < e.FirstNs {
			e.FirstNs = v.FirstSeenNs
		}
		e.LastNs = max(e.LastNs, v.LastSeenNs)
		e.TCPFlags |= v.TcpFlags
		e.Flags |= v.Flags
	}
}

// rawFlow merges a flow's per-CPU copies into a RawFlow, as the reader does (fill).
func rawFlow(cookie uint64, k *netctlNcFlowKey, per []netctlNcFlowValue) RawFlow {
	e := Entry{NSCookie: cookie}
	fill(&e, k, per)
	return rawFlowOf(&e)
}

// rawFlowOf turns an entry into a RawFlow.
func rawFlowOf(e *Entry) RawFlow {
	src, dst := e.Addrs()
	return RawFlow{NSCookie: e.NSCookie, Ifindex: int(e.Key.Ifindex), Dir: Direction(e.Key.Dir), Proto: e.Key.Proto,
		Src: src, Dst: dst, Sport: e.Key.Sport, Dport: e.Key.Dport, Packets: e.Packets, Bytes: e.Bytes,
		FirstNs: e.FirstNs, LastNs: e.LastNs, TCPFlags: e.TCPFlags, SynNoAck: e.Flags&FlowSynNoAck != 0}
}

// monoNow reads CLOCK_MONOTONIC, the clock of the programs' time stamps.
func monoNow() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}
