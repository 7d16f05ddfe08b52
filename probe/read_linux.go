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
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// mapRefs are the maps of one namespace's map set that readers read.
type mapRefs struct {
	cookie                          uint64 // the namespace's cookie; 0: host namespace
	totalsIdx, totals, flows, stats *ebpf.Map
	cache                           *ebpf.Map // the flow cache; nil in sets pinned before it
	flood                           floodRefs
	owned                           bool // loaded from pins by this reader: close them
}

func (m mapRefs) close() {
	if !m.owned {
		return
	}
	for _, mp := range []*ebpf.Map{m.totalsIdx, m.totals, m.flows, m.stats, m.cache, m.flood.byIndex, m.flood.hash, m.flood.macs} {
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
		m.flood = pinnedFloodRefs(filepath.Join(d.dir, mapsSubdir))
		switch mp, err := ebpf.LoadPinnedMap(filepath.Join(d.dir, mapsSubdir, netctlMapFlowCache), &ebpf.LoadPinOptions{ReadOnly: true}); {
		case err == nil:
			m.cache = mp
		case errors.Is(err, os.ErrNotExist): // pinned by an older netctl: its programs have no cache
		case firstErr == nil:
			firstErr = fmt.Errorf("open pinned map %s: %w", filepath.Join(d.dir, mapsSubdir, netctlMapFlowCache), err)
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
	flows = make([]RawFlow, 0, capacity) // one allocation for the result unless flow caches add to a full table
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
	keys   []netctlNcFlowKey
	vals   []netctlNcFlowValue
	cached cachedFlows
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

// eachEntry calls fn with every flow of every set, per-CPU copies merged, and returns
// how many entries the flows hashes held (what their capacity bounds; flows found only
// in a flow cache are reported but not counted). A set's flow cache is read first, then
// its flows hash; a flow in both is merged per CPU (mergeCached) and reported once. It reads with batch lookups
// into pooled buffers where the kernel has them (an iterator otherwise) and allocates
// nothing per entry: the *Entry fn gets is reused, fn copies what it keeps. It stops
// early when ctx ends.
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
		if err := buf.cached.read(s.cache, ncpu); err != nil {
			return total, err
		}
		report := func(k *netctlNcFlowKey, per []netctlNcFlowValue) {
			fill(&e, k, per)
			fn(&e)
		}
		err := eachHashEntry(ctx, s, buf, ncpu, func(k *netctlNcFlowKey, per []netctlNcFlowValue) {
			if c, ok := buf.cached.take(k); ok {
				mergeCached(per, c)
			}
			report(k, per)
			total++
		})
		if err != nil {
			return total, err
		}
		buf.cached.rest(report)
	}
	return total, nil
}

// eachHashEntry calls emit with every entry of a set's flows hash, read with batch
// lookups into buf, or with the map iterator on kernels without them.
func eachHashEntry(ctx context.Context, s mapRefs, buf *batchBuf, ncpu int, emit func(*netctlNcFlowKey, []netctlNcFlowValue)) error {
	var cursor ebpf.MapBatchCursor
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read flows: %w", err)
		}
		n, err := s.flows.BatchLookup(&cursor, buf.keys, buf.vals, nil)
		for i := range n {
			emit(&buf.keys[i], buf.vals[i*ncpu:(i+1)*ncpu])
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil
		}
		if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EINVAL) {
			if n > 0 {
				return fmt.Errorf("read flows: batch lookup failed midway: %w", err)
			}
			return iterEntries(s, emit)
		}
		if err != nil {
			return fmt.Errorf("read flows: %w", err)
		}
	}
}

// iterEntries reads a set's flows with the map iterator (kernels without batch lookups).
func iterEntries(s mapRefs, emit func(*netctlNcFlowKey, []netctlNcFlowValue)) error {
	var key netctlNcFlowKey
	var vals []netctlNcFlowValue
	it := s.flows.Iterate()
	for it.Next(&key, &vals) {
		emit(&key, vals)
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read flows: %w", err)
	}
	return nil
}

// cachedFlows is one set's flow cache as read: every flow in a slot of some CPU, with its
// per-CPU copies (zero for the CPUs whose slot holds another flow). Its storage is reused
// from one read to the next.
type cachedFlows struct {
	ncpu  int
	index map[netctlNcFlowKey]int // flow → its number: keys[i], vals[i*ncpu:(i+1)*ncpu]
	keys  []netctlNcFlowKey
	vals  []netctlNcFlowValue
	taken []bool // reported with the hash's entry
	slots []netctlNcFlowSlot
	idx   []uint32
}

// read replaces c's contents with the flows in cache's slots (none for a nil cache).
func (c *cachedFlows) read(cache *ebpf.Map, ncpu int) error {
	clear(c.index)
	c.keys, c.vals, c.taken, c.ncpu = c.keys[:0], c.vals[:0], c.taken[:0], ncpu
	if cache == nil {
		return nil
	}
	if c.index == nil {
		c.index = make(map[netctlNcFlowKey]int)
	}
	const batch = 256
	if len(c.idx) != batch || len(c.slots) != batch*ncpu {
		c.idx, c.slots = make([]uint32, batch), make([]netctlNcFlowSlot, batch*ncpu)
	}
	var cursor ebpf.MapBatchCursor
	for {
		n, err := cache.BatchLookup(&cursor, c.idx, c.slots, nil)
		if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EINVAL) {
			return c.readEach(cache)
		}
		for i := range n {
			if err := c.add(cache, c.idx[i], c.slots[i*ncpu:(i+1)*ncpu]); err != nil {
				return err
			}
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read flow cache: %w", err)
		}
	}
}

// readEach reads the cache one slot at a time (kernels without batch lookups).
func (c *cachedFlows) readEach(cache *ebpf.Map) error {
	for i := range cache.MaxEntries() {
		if err := cache.Lookup(i, c.slots[:c.ncpu]); err != nil {
			return fmt.Errorf("read flow cache: %w", err)
		}
		if err := c.add(cache, i, c.slots[:c.ncpu]); err != nil {
			return err
		}
	}
	return nil
}

// mergeCached folds a flow's cached per-CPU copies into its hash copies, in place: per
// CPU the copy with more packets wins. A slot's counts are cumulative (it took the
// hash's copy when it took the flow), so the one with more packets is the newer; a copy
// written back from the slot between the reads of the two can only have more.
func mergeCached(hash, cached []netctlNcFlowValue) {
	for i := range min(len(hash), len(cached)) {
		if cached[i].Packets > hash[i].Packets {
			hash[i] = cached[i]
		}
	}
}

// tornRetries bounds how often one CPU's copy of a slot is read again when it was copied
// while the slot changed flows. A change takes a fraction of a microsecond and a slot
// changes flows at most once per nc_flow_cache_idle_ticks (25 ms or more), so one more
// read at once usually does; the later reads back off (tornBackoff, doubling: 1.3 ms
// asked in all, more where the timer is coarse) for a program preempted in the middle
// of a change (BPF_PROG_TEST_RUN and PREEMPT_RT run programs preemptibly).
const tornRetries = 8

const tornBackoff = 10 * time.Microsecond

// add takes in the per-CPU copies of slot idx. A copy taken while the slot changed flows
// (its generations differ) may hold one flow's key and another's counts: that CPU's copy
// is read again, alone, until it is whole.
func (c *cachedFlows) add(cache *ebpf.Map, idx uint32, per []netctlNcFlowSlot) error {
	var again []netctlNcFlowSlot
	for cpu := range per {
		sl := &per[cpu]
		for try := 0; sl.GenDone != sl.GenBegun; try++ {
			if try == tornRetries {
				return fmt.Errorf("read flow cache: slot %d on CPU %d changed flows during %d reads", idx, cpu, try)
			}
			if again == nil {
				again = make([]netctlNcFlowSlot, len(per))
			}
			if try > 0 {
				time.Sleep(tornBackoff << (try - 1))
			}
			if err := cache.Lookup(idx, again); err != nil {
				return fmt.Errorf("read flow cache: %w", err)
			}
			sl = &again[cpu]
		}
		if sl.Value.Packets == 0 {
			continue
		}
		i, ok := c.index[sl.Key]
		if !ok {
			i = len(c.keys)
			c.index[sl.Key] = i
			c.keys = append(c.keys, sl.Key)
			c.taken = append(c.taken, false)
			c.vals = append(c.vals, make([]netctlNcFlowValue, c.ncpu)...)
		}
		c.vals[i*c.ncpu+cpu] = sl.Value
	}
	return nil
}

// take returns k's cached per-CPU copies and marks them reported, or false.
func (c *cachedFlows) take(k *netctlNcFlowKey) ([]netctlNcFlowValue, bool) {
	if len(c.keys) == 0 {
		return nil, false
	}
	i, ok := c.index[*k]
	if !ok {
		return nil, false
	}
	c.taken[i] = true
	return c.vals[i*c.ncpu : (i+1)*c.ncpu], true
}

// rest calls emit with every flow found only in the cache.
func (c *cachedFlows) rest(emit func(*netctlNcFlowKey, []netctlNcFlowValue)) {
	for i := range c.keys {
		if !c.taken[i] {
			emit(&c.keys[i], c.vals[i*c.ncpu:(i+1)*c.ncpu])
		}
	}
}

// fill sets e from a flow's key and per-CPU values: counts add up, first seen is the
// earliest, last seen the latest, flags are OR'd (a CPU that never saw the flow has an
// all-zero value).
func fill(e *Entry, k *netctlNcFlowKey, per []netctlNcFlowValue) {
	e.Key = FlowKey{Ifindex: k.Ifindex, Dir: k.Direction, Proto: k.Proto, Family: k.Family, Pad: k.Pad,
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
