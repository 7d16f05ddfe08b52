package exporter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"time"

	statefile "github.com/netctl/netctl/internal/state"
)

// The collector's memory is saved when serve stops (and every while) and loaded when it
// starts, so exported counters continue across a restart even for what the kernel no
// longer holds: conversations gone idle, flows evicted, interfaces removed. It holds
// what the exported counters need and no more: the interface counters, the tracked flow
// series (at most the tracking limit), the other and asymmetric series, in a compact
// binary form (about 80 bytes per series), written atomically (internal/state.WriteFile).
// The kernel entries' last values are not saved: an entry first seen before the last
// read of the serve that saved is taken as counted, and what it carried between that read
// and the next serve's first read is left out (never counted twice); serve reads the
// tables once more just before it saves on the way out, so a clean restart loses only
// the traffic of the seconds it is down.

const (
	stateMagic   = "NCXS"
	stateVersion = 3 // 3: flooded counters, flooding by destination, wrong-source replies
)

// SaveState writes the collector's memory to path, atomically.
func (c *Collector) SaveState(path string) error {
	c.passMu.Lock()
	c.mu.Lock()
	b := c.encodeState()
	c.mu.Unlock()
	c.passMu.Unlock()
	if err := statefile.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("save exporter state: %w", err)
	}
	return nil
}

// LoadState restores the memory SaveState wrote. A missing file is not an error (first
// start); a file of another version or a damaged one is an error and leaves the
// collector as it was.
func (c *Collector) LoadState(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load exporter state: %w", err)
	}
	c.passMu.Lock()
	defer c.passMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.decodeState(b); err != nil {
		return fmt.Errorf("load exporter state %s: %w", path, err)
	}
	return nil
}

// enc appends little-endian values.
type enc struct{ b []byte }

func (e *enc) u8(v uint8)   { e.b = append(e.b, v) }
func (e *enc) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *enc) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *enc) i64(v int64)  { e.u64(uint64(v)) }
func (e *enc) str(s string) { e.b = binary.AppendUvarint(e.b, uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) a16(a *[16]byte) {
	e.b = append(e.b, a[:]...)
}
func (e *enc) traffic(t *traffic) {
	e.u64(t.RxBytes)
	e.u64(t.RxPackets)
	e.u64(t.TxBytes)
	e.u64(t.TxPackets)
}
func (e *enc) counter(c *counter) { e.u64(c.last); e.u64(c.total) }

// dec reads what enc wrote; the first short read sets err and zeroes the rest.
type dec struct {
	b   []byte
	err error
}

func (d *dec) take(n int) []byte {
	if d.err != nil || len(d.b) < n {
		d.err = errors.New("truncated")
		return make([]byte, n)
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
func (d *dec) u8() uint8   { return d.take(1)[0] }
func (d *dec) u16() uint16 { return binary.LittleEndian.Uint16(d.take(2)) }
func (d *dec) u32() uint32 { return binary.LittleEndian.Uint32(d.take(4)) }
func (d *dec) u64() uint64 { return binary.LittleEndian.Uint64(d.take(8)) }
func (d *dec) i64() int64  { return int64(d.u64()) }
func (d *dec) str() string {
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > math.MaxUint16 {
		d.err = errors.New("bad string")
		return ""
	}
	d.b = d.b[k:]
	return string(d.take(int(n)))
}
func (d *dec) a16() (a [16]byte) { copy(a[:], d.take(16)); return a }
func (d *dec) traffic() traffic  { return traffic{d.u64(), d.u64(), d.u64(), d.u64()} }
func (d *dec) counter() counter  { return counter{last: d.u64(), total: d.u64()} }

// count reads a record count, bounded by what the rest of the file can hold.
func (d *dec) count(minSize int) int {
	n := int(d.u32())
	if n*minSize > len(d.b) {
		d.err = errors.New("bad count")
		return 0
	}
	return n
}

func (c *Collector) encodeState() []byte {
	st := c.flows
	e := &enc{b: make([]byte, 0, 4096+90*st.series.n)}
	e.b = append(e.b, stateMagic...)
	e.u32(stateVersion)
	e.u64(st.lastMono())
	e.i64(st.bootWall())

	e.u32(uint32(len(c.ifaces)))
	for k, s := range c.ifaces {
		e.str(k.Container)
		e.str(k.Interface)
		e.str(k.HostInterface)
		e.str(k.Bridge)
		for _, cn := range s.counters() {
			e.counter(cn)
		}
		e.i64(s.seen.UnixNano())
	}
	// Label pairs in use, renumbered densely.
	num := make(map[uint32]uint32, len(st.labels.byName))
	e.u32(uint32(len(st.labels.byName)))
	for id := range st.labels.pairs {
		p := &st.labels.pairs[id]
		if !p.used {
			continue
		}
		num[uint32(id)] = uint32(len(num))
		e.str(p.container)
		e.str(p.iface)
		e.traffic(&p.other)
		e.i64(p.otherActive)
		e.i64(p.seenAt)
	}
	// Series from the least recent to the most, so loading them in order rebuilds the LRU.
	e.u32(uint32(st.series.n))
	for id := st.series.tail; id >= 0; id = st.series.all[id].prev {
		s := &st.series.all[id]
		e.u32(num[s.key.pair])
		e.u8(s.key.proto)
		e.u8(s.key.flags)
		e.u16(s.key.port)
		e.a16(&s.key.local)
		e.a16(&s.key.remote)
		e.traffic(&s.traffic)
		e.i64(s.active)
		var dropped uint8
		if s.dropped {
			dropped = 1
		}
		e.u8(dropped)
	}
	e.u32(uint32(len(st.asym)))
	for k, a := range st.asym {
		e.u32(num[k[0]])
		e.u32(num[k[1]])
		e.u64(a.bytes)
		e.i64(a.active)
		e.u32(uint32(a.flows))
	}
	e.counter(&c.insertFailed)
	e.counter(&c.notParsed)
	e.u64(c.scrapeErrors)
	e.u64(st.droppedTotal)
	encodeFlood(e, c.flooded, st.wrong)
	return e.b
}

func (c *Collector) decodeState(b []byte) error {
	if len(b) < 8 || string(b[:4]) != stateMagic {
		return errors.New("not a state file of netctl serve")
	}
	d := &dec{b: b[4:]}
	if v := d.u32(); v != stateVersion {
		return fmt.Errorf("version %d, want %d", v, stateVersion)
	}
	st := newFlowState(c.opts.FlowTrackingLimit, c.opts.FlowIdleTimeout)
	st.baseline = d.u64()
	st.baselineBoot = d.i64()
	ifaces := ifaceTable{}
	for n := d.count(4 + 96 + 8); n > 0 && d.err == nil; n-- {
		k := ifaceKey{d.str(), d.str(), d.str(), d.str()}
		s := &ifaceState{}
		for _, cn := range s.counters() {
			*cn = d.counter()
		}
		s.seen = time.Unix(0, d.i64())
		ifaces[k] = s
	}
	npairs := d.count(2 + 32 + 16)
	for range npairs {
		if d.err != nil {
			break
		}
		id := st.labels.id(d.str(), d.str(), 0, 0)
		p := &st.labels.pairs[id]
		p.other, p.otherActive, p.seenAt = d.traffic(), d.i64(), d.i64()
	}
	pair := func() uint32 {
		id := d.u32()
		if int(id) >= len(st.labels.pairs) {
			d.err = errors.New("bad label pair")
			return 0
		}
		return id
	}
	nseries := d.count(4 + 4 + 32 + 32 + 8 + 1)
	skip := nseries - st.series.limit // a smaller tracking limit than the saving serve's: keep the most recent
	for n := 0; n < nseries && d.err == nil; n++ {
		k := seriesKey{pair: pair(), proto: d.u8(), flags: d.u8(), port: d.u16(), local: d.a16(), remote: d.a16()}
		s := series{key: k, traffic: d.traffic(), active: d.i64(), dropped: d.u8() != 0}
		if d.err != nil || n < skip {
			continue
		}
		if _, dup := st.series.byKey[k]; dup {
			d.err = errors.New("duplicate series")
			break
		}
		s.labels = st.labels.seriesLabels(&k)
		st.series.insert(s, &st.labels)
	}
	for n := d.count(4 + 4 + 8 + 8 + 4); n > 0 && d.err == nil; n-- {
		k := [2]uint32{pair(), pair()}
		st.asym[k] = &asymState{bytes: d.u64(), active: d.i64(), flows: int(d.u32())}
	}
	insertFailed, notParsed := d.counter(), d.counter()
	scrapeErrors, droppedTotal := d.u64(), d.u64()
	flooded := decodeFlood(d, st.wrong)
	if d.err != nil {
		return d.err
	}
	st.droppedTotal = droppedTotal
	c.flows, c.ifaces, c.flooded = st, ifaces, flooded
	c.insertFailed, c.notParsed, c.scrapeErrors = insertFailed, notParsed, scrapeErrors
	c.view.Store(nil)
	return nil
}
