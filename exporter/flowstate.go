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
	wrong  map[wrongKey]*wrongState // wrong-source replies (collector_flood.go)

	droppedTotal uint64 // flow series the series limit began to leave out

	// Scratch of one pass, reused.
	recs      []analysis.Rec
	recPort   []int32 // the port (index in read.Ports) of each rec
	nsCookies []uint64
	group     analysis.Grouper
	wsGroup   analysis.Grouper // by remote endpoint and local port (wrong-source replies)
	dp        []uint64         // each rec's packet delta of this pass
	pass      passInfo
}

// passInfo is what a pass knows besides the recs.
type passInfo struct {
	read       probe.FlowRead
	portMap    probe.PortMap
	portLabel  []uint32 // label pair of each port
	portCont   []uint32 // container number of each port
	containers map[string]uint32
	contNames  []string // by container number
	now        int64    // wall ns
	untracked  int      // entries with traffic within idle counted in other series
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
	var b [8 + probe.FlowKeySize]byte
	binary.LittleEndian.PutUint64(b[0:], id.ns)
	kb := id.key.Bytes()
	copy(b[8:], kb[:])
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

// traffic is a bytes and packets pair each way, from the container's point of view.
type traffic struct {
	RxBytes, RxPackets, TxBytes, TxPackets uint64
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
		wrong:      map[wrongKey]*wrongState{},
	}
	st.hash = func(id entryID) uint64 { return id.hash(st.seed) }
	st.series.init(trackLimit)
	st.labels.init()
	st.pass.containers = map[string]uint32{}
	return st
}
