package exporter

import (
	"time"

	"github.com/netctl/netctl/internal/analysis"
	"github.com/netctl/netctl/probe"
)

// One pass of flowState: begin, add (the read streams its entries in), resolve (ports,
// containers, directions), apply (conversations, deltas, series, other, asymmetry).

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

func (t *traffic) add(receive bool, bytes, packets uint64) {
	if receive {
		t.RxBytes += bytes
		t.RxPackets += packets
	} else {
		t.TxBytes += bytes
		t.TxPackets += packets
	}
}

// begin starts a pass: the recs of the last one are dropped.
func (st *flowState) begin(capacity int) {
	st.gen++
	if cap(st.recs) < capacity { // once: the buffers never move while the table keeps its size
		st.recs = make([]analysis.Rec, 0, capacity)
		st.recPort = make([]int32, 0, capacity)
	}
	st.recs, st.recPort = st.recs[:0], st.recPort[:0]
	st.nsCookies = st.nsCookies[:0]
	st.pass.convs = st.pass.convs[:0]
	st.pass.untracked = 0
}

// add buffers one kernel entry, as the read streams it. Until resolve, Container holds
// the entry's map set (index in nsCookies), Iface its ifindex and Receive its tc direction
// (ingress).
func (st *flowState) add(e *probe.Entry) {
	ns := -1
	for i, cookie := range st.nsCookies {
		if cookie == e.NSCookie {
			ns = i
			break
		}
	}
	if ns < 0 {
		ns = len(st.nsCookies)
		st.nsCookies = append(st.nsCookies, e.NSCookie)
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
		pi, ok := p.portMap.Find(st.nsCookies[r.Container], int(r.Iface))
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
	return entryID{port.NSCookie, probe.FlowKey{Ifindex: uint32(port.Ifindex), Dir: uint8(dir), Proto: r.Proto, Family: fam,
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
