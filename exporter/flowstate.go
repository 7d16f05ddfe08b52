package exporter

import (
	"encoding/binary"
	"hash/maphash"
	"time"

	"github.com/netctl/netctl/internal/analysis"
	"github.com/netctl/netctl/probe"
)

// flowState is what the collector keeps of the flow tables from one read to the next,
// bounded by design: its size follows the kernel's table (one fixed-size entryState per
// entry) and the tracking limit (one series per tracked flow series), never the number
// of flows ever seen.
//
// Each read (pass) streams the kernel's entries into recs, a buffer reused from read to
// read; groups them by conversation (analysis.Grouper) and judges each conversation
// (analysis.Judge: the service port of its series, asymmetry); adds the growth of each
// entry since the last read (entryState) to its series, or, when the series is not
// tracked, to the "other" series of its container and interface; and forgets the
// entries the kernel no longer has. Nothing in a pass allocates per entry once the
// buffers have grown.
type flowState struct {
	trackLimit int   // most tracked series
	idle       int64 // ns: a series, other series or asymmetric series without traffic this long is not exported
	evictIdle  int64 // ns: a tracked series idle this long may give its place to a new one

	seed     maphash.Seed
	hash     func(entryID) uint64 // the entry's identity in entries; tests swap it to force collisions
	entries  entryTable
	side     map[entryID]entryState // entries whose hash collided with another's, by exact identity
	collided map[uint64]bool
	gen      uint32 // the current read
	// baseline: entries first seen at or before this CLOCK_MONOTONIC stamp were counted
	// by the serve that saved the state we started from (0: none).
	baseline     uint64
	baselineBoot int64 // wall ns of the boot the baseline is of (wall − CLOCK_MONOTONIC)

	series seriesTable
	labels labelTable
	asym   map[[2]uint32]*asymState // (in, out) label pairs of one container

	droppedTotal uint64 // flow series the series limit began to leave out

	// Scratch of one pass, reused.
	recs    []analysis.Rec
	recPort []int32 // the port (index in read.Ports) of each rec
	nsInos  []uint64
	group   analysis.Grouper
	pass    passInfo
}

// passInfo is what a pass knows besides the recs.
type passInfo struct {
	read       probe.FlowRead
	portMap    probe.PortMap
	portLabel  []uint32 // label pair of each port
	portCont   []uint32 // container number of each port
	containers map[string]uint32
	now        int64 // wall ns
	untracked  int   // entries with traffic within idle counted in other series
	convs      []convRef
}

// convRef is an asymmetric conversation of the pass: one of its recs and the verdict.
type convRef struct {
	rec int32
	v   analysis.Verdict
}

// entryState is what is kept of one kernel flow entry: its raw counters at the last read.
type entryState struct {
	bytes, packets uint64 // raw counters at the last read
	last           uint64 // its last-seen stamp then (CLOCK_MONOTONIC)
	hash           uint64 // its key in entryTable
	gen            uint32 // the read that last saw it
	rec            int32  // its index in recs at that read
}

// entryID is a kernel flow entry's exact identity: its map set and key.
type entryID struct {
	ns  uint64
	key probe.FlowKey
}

// hash returns the entry's 64-bit identity (seeded: collisions cannot be aimed at), with
// no allocation.
func (id entryID) hash(seed maphash.Seed) uint64 {
	var b [52]byte
	k := &id.key
	binary.LittleEndian.PutUint64(b[0:], id.ns)
	binary.LittleEndian.PutUint32(b[8:], k.Ifindex)
	b[12], b[13], b[14], b[15] = k.Dir, k.Proto, k.Family, k.Pad
	binary.LittleEndian.PutUint16(b[16:], k.Sport)
	binary.LittleEndian.PutUint16(b[18:], k.Dport)
	copy(b[20:36], k.Saddr[:])
	copy(b[36:52], k.Daddr[:])
	return max(1, maphash.Bytes(seed, b[:])) // 0 marks a free slot of entryTable
}

// restartSlack is how much later than the last packet we saw an entry's first-seen
// stamp must be for the entry to count as created again (evicted and re-inserted), above
// the tick resolution of the stamps.
const restartSlack = uint64(time.Second)

// counter turns a raw kernel counter, which restarts when its entry is evicted or reset,
// into one that never goes down.
type counter struct {
	last  uint64 // the raw value at the last read
	total uint64 // what is exported
}

// add folds in a raw value and returns by how much the total grew: the raw value's
// growth, or all of it when it fell below the last one or restarted is set (the entry
// was created again and counts from 0). A counter read for the first time takes the
// raw value whole: the pinned maps outlive netctl serve, so counters continue from the
// kernel's values.
func (c *counter) add(raw uint64, restarted bool) uint64 {
	d := raw - c.last
	if restarted || raw < c.last {
		d = raw
	}
	c.last = raw
	c.total += d
	return d
}

// traffic is a bytes and packets pair each way, from the container's point of view.
type traffic struct {
	RxBytes, RxPackets, TxBytes, TxPackets uint64
}

func (t *traffic) add(receive bool, bytes, packets uint64) {
	if receive {
		t.RxBytes += bytes
		t.RxPackets += packets
	} else {
		t.TxBytes += bytes
		t.TxPackets += packets
	}
}

type asymState struct {
	bytes  uint64
	active int64 // wall ns of the last read with an asymmetric conversation
	flows  int   // conversations at the last read
}

func newFlowState(trackLimit int, idle time.Duration) *flowState {
	st := &flowState{
		trackLimit: trackLimit,
		idle:       int64(idle),
		evictIdle:  int64(min(idle, time.Minute)),
		seed:       maphash.MakeSeed(),
		side:       map[entryID]entryState{},
		collided:   map[uint64]bool{},
		asym:       map[[2]uint32]*asymState{},
	}
	st.hash = func(id entryID) uint64 { return id.hash(st.seed) }
	st.series.init(trackLimit)
	st.labels.init()
	st.pass.containers = map[string]uint32{}
	return st
}

// begin starts a pass: the recs of the last one are dropped.
func (st *flowState) begin(capacity int) {
	st.gen++
	if cap(st.recs) < capacity { // once: the buffers never move while the table keeps its size
		st.recs = make([]analysis.Rec, 0, capacity)
		st.recPort = make([]int32, 0, capacity)
	}
	st.recs, st.recPort = st.recs[:0], st.recPort[:0]
	st.nsInos = st.nsInos[:0]
	st.pass.convs = st.pass.convs[:0]
	st.pass.untracked = 0
}

// add buffers one kernel entry, as the read streams it. Until resolve, Container holds
// the entry's map set (index in nsInos), Iface its ifindex and Receive its tc direction
// (ingress).
func (st *flowState) add(e *probe.Entry) {
	ns := -1
	for i, ino := range st.nsInos {
		if ino == e.NSInode {
			ns = i
			break
		}
	}
	if ns < 0 {
		ns = len(st.nsInos)
		st.nsInos = append(st.nsInos, e.NSInode)
	}
	st.recs = append(st.recs, analysis.Rec{
		Src: e.Key.Saddr, Dst: e.Key.Daddr, Packets: e.Packets, Bytes: e.Bytes,
		First: int64(e.FirstNs), Last: int64(e.LastNs), Container: uint32(ns), Iface: e.Key.Ifindex,
		SrcPort: e.Key.Sport, DstPort: e.Key.Dport, Proto: e.Key.Proto, V4: e.Key.Family == 4,
		Receive: probe.Direction(e.Key.Dir) == probe.Ingress, TCPFlags: e.TCPFlags, SynNoAck: e.Flags&probe.FlowSynNoAck != 0,
	})
}

// resolve maps the buffered entries to their ports, containers and label pairs, in the
// container's directions, and drops those of unknown interfaces.
func (st *flowState) resolve(read probe.FlowRead, now time.Time) {
	p := &st.pass
	p.read, p.now = read, now.UnixNano()
	if d := st.bootWall() - st.baselineBoot; st.baseline != 0 && (d > int64(time.Minute) || d < -int64(time.Minute)) {
		st.baseline = 0 // saved in another boot: these tables are new
	}
	p.portMap = probe.NewPortMap(read.Ports)
	clear(p.containers)
	p.portLabel, p.portCont = p.portLabel[:0], p.portCont[:0]
	for _, port := range read.Ports {
		c, ok := p.containers[port.Container]
		if !ok {
			c = uint32(len(p.containers))
			p.containers[port.Container] = c
		}
		p.portCont = append(p.portCont, c)
		p.portLabel = append(p.portLabel, st.labels.id(port.Container, port.Interface, st.gen, p.now))
	}
	n := 0
	for i := range st.recs {
		r := st.recs[i]
		pi, ok := p.portMap.Find(st.nsInos[r.Container], int(r.Iface))
		if !ok {
			continue
		}
		tc := probe.Egress
		if r.Receive {
			tc = probe.Ingress
		}
		r.Receive = read.Ports[pi].ContainerDir(tc) == probe.Receive
		r.Container, r.Iface = p.portCont[pi], p.portLabel[pi]
		st.recs[n] = r
		st.recPort = append(st.recPort, int32(pi))
		n++
	}
	st.recs = st.recs[:n]
}

// lastMono is the CLOCK_MONOTONIC stamp of the last read folded in (the baseline of a
// serve that loads what we save).
func (st *flowState) lastMono() uint64 {
	if st.pass.read.Mono != 0 {
		return st.pass.read.Mono
	}
	return st.baseline
}

// bootWall is the wall time of the boot of lastMono's clock.
func (st *flowState) bootWall() int64 {
	if st.pass.read.Mono != 0 {
		return st.pass.read.Time.UnixNano() - int64(st.pass.read.Mono)
	}
	return st.baselineBoot
}

// idOf rebuilds the exact identity of rec i (after resolve).
func (st *flowState) idOf(i int) entryID {
	r := &st.recs[i]
	port := &st.pass.read.Ports[st.recPort[i]]
	dir := probe.Egress
	if (port.ContainerDir(probe.Ingress) == probe.Receive) == r.Receive {
		dir = probe.Ingress
	}
	fam := uint8(6)
	if r.V4 {
		fam = 4
	}
	return entryID{port.NSInode, probe.FlowKey{Ifindex: uint32(port.Ifindex), Dir: uint8(dir), Proto: r.Proto, Family: fam,
		Sport: r.SrcPort, Dport: r.DstPort, Saddr: r.Src, Daddr: r.Dst}}
}

// wall converts a CLOCK_MONOTONIC stamp of this pass's read to wall ns (0 stays 0).
func (st *flowState) wall(mono int64) int64 {
	if mono == 0 {
		return 0
	}
	return st.pass.read.Time.UnixNano() + mono - int64(st.pass.read.Mono)
}

// apply runs the pass over the resolved recs: conversations, series, other, asymmetry.
func (st *flowState) apply() {
	for _, a := range st.asym {
		a.flows = 0
	}
	nowMono := int64(st.pass.read.Mono)
	st.entries.fit(len(st.recs))
	st.group.Each(st.recs, func(m []int32) {
		v := analysis.Judge(st.recs, m, nowMono, st.idle)
		var a *asymState
		if v.Asymmetric {
			a = st.asym[[2]uint32{v.In, v.Out}]
			if a == nil {
				a = &asymState{}
				st.asym[[2]uint32{v.In, v.Out}] = a
			}
			a.flows++
			a.active = st.pass.now
			st.pass.convs = append(st.pass.convs, convRef{m[0], v})
		}
		for _, i := range m {
			r := &st.recs[i]
			db, dp := st.delta(int(i))
			if a != nil && !r.Receive && r.Iface == v.Out {
				a.bytes += db
			}
			st.count(r, v.ServicePort, db, dp)
		}
	})
	st.sweep()
	st.series.forget(st.pass.now, st.idle, st.gen, &st.labels)
	st.labels.forget(st.pass.now, st.idle, st.gen)
	for k, a := range st.asym {
		if st.pass.now-a.active > st.idle {
			delete(st.asym, k)
		}
	}
}

// count adds one entry's growth to its series, or to the other series of its label pair
// when the series is not tracked (and cannot be).
func (st *flowState) count(r *analysis.Rec, port int, db, dp uint64) {
	k := keyOfRec(r, port)
	grew := db > 0 || dp > 0
	id := st.series.find(k, grew, st.pass.now, st.evictIdle, &st.labels)
	if id < 0 {
		if r.Last != 0 && int64(st.pass.read.Mono)-r.Last <= st.idle {
			st.pass.untracked++
		}
		if grew {
			l := &st.labels.pairs[r.Iface]
			l.other.add(r.Receive, db, dp)
			l.otherActive = st.pass.now
		}
		return
	}
	s := &st.series.all[id]
	s.fed = st.gen
	s.add(r.Receive, db, dp)
	last := st.wall(r.Last)
	if last == 0 && grew {
		last = st.pass.now // no stamp: traffic seen now
	}
	if last > s.active {
		s.active = last
	}
	if grew {
		st.series.touch(id)
	}
}
