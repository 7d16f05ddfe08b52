package exporter

import (
	"cmp"
	"slices"
	"time"

	"github.com/netctl/netctl/internal/analysis"
	"github.com/netctl/netctl/probe"
)

// restartSlack is how much later than the last packet we saw a flow entry's first-seen
// stamp must be for the entry to count as new (evicted and created again). It is far
// above the jitter of converting the kernel's stamps to wall time (two clock reads).
const restartSlack = time.Second

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

// ifaceKey is one interface series: the labels of netctl_interface_*_total.
type ifaceKey struct {
	Container, Interface, HostInterface, Bridge string
}

// traffic is a bytes and packets pair each way, from the container's point of view.
type traffic struct {
	RxBytes, RxPackets, TxBytes, TxPackets uint64
}

type ifaceState struct {
	rxBytes, rxPackets, txBytes, txPackets counter
	rxFloodedBytes, rxFloodedPackets       counter
	seen                                   time.Time // last snapshot that had it
}

type entryState struct {
	bytes, packets      counter
	firstSeen, lastSeen time.Time // the entry's stamps at the last read
	seen                time.Time // last snapshot that had it
	series              seriesKey
}

type seriesState struct {
	traffic
	active time.Time // last traffic (the latest LastSeen of its entries)
}

// asymKey is one asymmetric series: the labels of netctl_asymmetric_*.
type asymKey struct {
	Container, InInterface, OutInterface string
}

type asymState struct {
	bytes  uint64
	active time.Time // last snapshot with an asymmetric conversation
	flows  int       // conversations at the last snapshot
}

// state is what the collector remembers between scrapes to keep counters monotonic.
type state struct {
	ifaces       map[ifaceKey]*ifaceState
	entries      map[entryKey]*entryState
	series       map[seriesKey]*seriesState
	asym         map[asymKey]*asymState
	flood        floodState
	insertFailed counter
	notParsed    counter
}

func newState() *state {
	return &state{
		ifaces:  map[ifaceKey]*ifaceState{},
		entries: map[entryKey]*entryState{},
		series:  map[seriesKey]*seriesState{},
		asym:    map[asymKey]*asymState{},
		flood:   newFloodState(),
	}
}

// ifaceView, seriesView and asymView are one exported series and its values.
type ifaceView struct {
	ifaceKey
	traffic
	RxFloodedBytes, RxFloodedPackets uint64
}

type seriesView struct {
	seriesKey
	traffic
}

type asymView struct {
	asymKey
	Flows int
	Bytes uint64
}

// view is what one scrape exports, before the flow series limit.
type view struct {
	Ifaces       []ifaceView
	Series       []seriesView // active within the idle timeout
	Asym         []asymView
	Flooded      []floodView
	Wrong        []wrongView
	InsertFailed uint64
	NotParsed    uint64
}

// apply folds a snapshot and its asymmetric conversations into the state at now and
// returns what to export. Interfaces are exported while the snapshot has them; flow
// series while they had traffic within idle; asymmetric series while they had a
// conversation within idle (the gauge at 0 meanwhile), and so are wrong-source series.
// State of what a snapshot no longer has is kept for idle, so an entry that comes back
// is not counted twice.
func (s *state) apply(snap probe.Snapshot, convs []analysis.Conversation, wrongs []analysis.WrongSource, now time.Time, idle time.Duration) view {
	var v view
	for _, ic := range snap.Interfaces {
		k := ifaceKey{ic.Container, ic.Interface, ic.HostInterface, ic.Bridge}
		st := s.ifaces[k]
		if st == nil {
			st = &ifaceState{}
			s.ifaces[k] = st
		}
		st.rxBytes.add(ic.RxBytes, false)
		st.rxPackets.add(ic.RxPackets, false)
		st.txBytes.add(ic.TxBytes, false)
		st.txPackets.add(ic.TxPackets, false)
		st.rxFloodedBytes.add(ic.RxFloodedBytes, false)
		st.rxFloodedPackets.add(ic.RxFloodedPackets, false)
		st.seen = now
		v.Ifaces = append(v.Ifaces, ifaceView{k, traffic{st.rxBytes.total, st.rxPackets.total, st.txBytes.total, st.txPackets.total},
			st.rxFloodedBytes.total, st.rxFloodedPackets.total})
	}
	v.Flooded = s.flood.applyFlooded(snap.Flooded, now, idle)
	v.Wrong = s.flood.applyWrong(wrongs, now, idle)

	deltas := s.applyFlows(snap.Flows, now)
	s.applyAsym(snap.Flows, deltas, convs, now)

	for k, st := range s.series {
		if !st.active.IsZero() && now.Sub(st.active) <= idle {
			v.Series = append(v.Series, seriesView{k, st.traffic})
		}
	}
	for k, st := range s.asym {
		if now.Sub(st.active) <= idle {
			v.Asym = append(v.Asym, asymView{k, st.flows, st.bytes})
		}
	}
	s.insertFailed.add(snap.InsertFailed, false)
	s.notParsed.add(snap.NotParsed, false)
	v.InsertFailed, v.NotParsed = s.insertFailed.total, s.notParsed.total
	s.forget(now, idle)
	s.flood.forget(now, idle)
	return v
}

// applyFlows adds the growth of every kernel flow entry to its series and returns the
// bytes each flow (by index) added.
func (s *state) applyFlows(flows []probe.Flow, now time.Time) []uint64 {
	keys := foldFlows(flows)
	deltas := make([]uint64, len(flows))
	for i, f := range flows {
		ek := entryKeyOf(f)
		e := s.entries[ek]
		restarted := false
		if e == nil {
			e = &entryState{}
			s.entries[ek] = e
		} else {
			// Created again since the last read: its first packet came after the last
			// packet we saw of the old one.
			restarted = !f.FirstSeen.IsZero() && !e.lastSeen.IsZero() && f.FirstSeen.Sub(e.lastSeen) > restartSlack
		}
		db := e.bytes.add(f.Bytes, restarted)
		dp := e.packets.add(f.Packets, restarted)
		e.firstSeen, e.lastSeen, e.seen, e.series = f.FirstSeen, f.LastSeen, now, keys[i]
		deltas[i] = db

		ss := s.series[keys[i]]
		if ss == nil {
			ss = &seriesState{}
			s.series[keys[i]] = ss
		}
		if f.Direction == probe.Receive {
			ss.RxBytes += db
			ss.RxPackets += dp
		} else {
			ss.TxBytes += db
			ss.TxPackets += dp
		}
		last := f.LastSeen
		if last.IsZero() && (db > 0 || dp > 0) {
			last = now // no stamp: traffic seen now
		}
		if last.After(ss.active) {
			ss.active = last
		}
	}
	return deltas
}

// applyAsym counts the asymmetric conversations per (container, in, out) and adds the
// bytes that left on the out interface at this read: the growth of the transmit flows
// of each conversation (by analysis.KeyOf) on its OutInterface, each flow once.
func (s *state) applyAsym(flows []probe.Flow, deltas []uint64, convs []analysis.Conversation, now time.Time) {
	for _, st := range s.asym {
		st.flows = 0
	}
	// outKey is a conversation's flows leaving on one interface.
	type outKey struct {
		conv  analysis.Key
		iface string
	}
	wanted := map[outKey]asymKey{}
	for _, c := range convs {
		ak := asymKey{c.Container, c.InInterface, c.OutInterface}
		st := s.asym[ak]
		if st == nil {
			st = &asymState{}
			s.asym[ak] = st
		}
		st.flows++
		st.active = now
		wanted[outKey{c.Key(), c.OutInterface}] = ak
	}
	if len(wanted) == 0 {
		return
	}
	for i, f := range flows {
		if f.Direction != probe.Transmit || deltas[i] == 0 {
			continue
		}
		if ak, hit := wanted[outKey{analysis.KeyOf(f), f.Interface}]; hit {
			s.asym[ak].bytes += deltas[i]
		}
	}
}

// forget drops the state of what has been gone for longer than idle: interfaces and
// flow entries no snapshot had since, flow series idle and no longer fed by an entry we
// still track, asymmetric series without a conversation since.
func (s *state) forget(now time.Time, idle time.Duration) {
	for k, st := range s.ifaces {
		if now.Sub(st.seen) > idle {
			delete(s.ifaces, k)
		}
	}
	fed := map[seriesKey]bool{}
	for k, e := range s.entries {
		if now.Sub(e.seen) > idle {
			delete(s.entries, k)
			continue
		}
		fed[e.series] = true
	}
	for k, st := range s.series {
		if !fed[k] && (st.active.IsZero() || now.Sub(st.active) > idle) {
			delete(s.series, k)
		}
	}
	for k, st := range s.asym {
		if now.Sub(st.active) > idle {
			delete(s.asym, k)
		}
	}
}

// limitSeries keeps the n flow series with the most bytes (both directions, since netctl
// serve started), ties broken by labels, and returns how many it left out. n < 0 keeps
// all. It is pure (it sorts a copy).
func limitSeries(series []seriesView, n int) ([]seriesView, int) {
	if n < 0 || len(series) <= n {
		return series, 0
	}
	sorted := slices.Clone(series)
	slices.SortFunc(sorted, func(a, b seriesView) int {
		return cmp.Or(cmp.Compare(b.RxBytes+b.TxBytes, a.RxBytes+a.TxBytes), compareSeries(a.seriesKey, b.seriesKey))
	})
	return sorted[:n], len(series) - n
}

func compareSeries(a, b seriesKey) int {
	return cmp.Or(cmp.Compare(a.Container, b.Container), cmp.Compare(a.Interface, b.Interface), cmp.Compare(a.Proto, b.Proto),
		cmp.Compare(a.Local, b.Local), cmp.Compare(a.Remote, b.Remote), cmp.Compare(a.Port, b.Port))
}
