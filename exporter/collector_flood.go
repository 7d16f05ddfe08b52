package exporter

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/netctl/netctl/internal/analysis"
	"github.com/netctl/netctl/probe"
)

// What a container really receives: frames flooded to it (counted apart from what it
// receives as its own) and replies it sends from another address than the one asked.

var (
	floodLabels = []string{"bridge", "container", "interface"}
	wrongLabels = []string{"container", "requested", "replied_from"}

	ifaceRxFloodedBytesDesc   = prometheus.NewDesc("netctl_interface_receive_flooded_bytes_total", "Bytes of frames for another MAC that a bridge flooded to the interface (part of the receive bytes; the container drops them).", ifaceLabels, nil)
	ifaceRxFloodedPacketsDesc = prometheus.NewDesc("netctl_interface_receive_flooded_packets_total", "Frames for another MAC that a bridge flooded to the interface (part of the receive packets; the container drops them).", ifaceLabels, nil)
	bridgeFloodedBytesDesc    = prometheus.NewDesc("netctl_bridge_flooded_bytes_total", "Bytes of the copies the bridge's watched ports received of frames it flooded for the interface's MAC (no FDB entry for it).", floodLabels, nil)
	wrongFlowsDesc            = prometheus.NewDesc("netctl_wrong_source_flows", "Conversations the container answers from replied_from though they were sent to requested, active within the flow idle timeout.", wrongLabels, nil)
	wrongPacketsDesc          = prometheus.NewDesc("netctl_wrong_source_packets_total", "Reply packets the container sent from replied_from in conversations sent to requested.", wrongLabels, nil)
)

// unknownOwner labels flooding for a MAC no watched interface has.
const unknownOwner = "unknown"

// floodKey is one netctl_bridge_flooded_bytes_total series.
type floodKey struct {
	Bridge, Container, Interface string
}

// floodEntryKey is one kernel flooded_macs entry: a bridge and a destination MAC.
type floodEntryKey struct {
	Bridge, MAC string
}

type floodEntry struct {
	bytes  counter
	seen   time.Time
	series floodKey
}

// wrongKey is one wrong-source series.
type wrongKey struct {
	Container, Requested, RepliedFrom string
}

// wrongEntryKey is one wrong-source conversation: its replies' packets are counted by
// their growth from one read to the next.
type wrongEntryKey struct {
	Container, Requested, RepliedFrom, Remote string
	Proto                                     uint8
	LocalPort, RemotePort                     uint16
}

type wrongEntry struct {
	packets counter
	seen    time.Time
}

type wrongState struct {
	packets uint64
	flows   int       // conversations at the last read
	active  time.Time // last read with a conversation
}

// floodState is what the collector remembers of flooding and wrong-source replies.
type floodState struct {
	entries      map[floodEntryKey]*floodEntry
	series       map[floodKey]uint64 // bytes exported
	seriesSeen   map[floodKey]time.Time
	wrongEntries map[wrongEntryKey]*wrongEntry
	wrong        map[wrongKey]*wrongState
}

func newFloodState() floodState {
	return floodState{entries: map[floodEntryKey]*floodEntry{}, series: map[floodKey]uint64{}, seriesSeen: map[floodKey]time.Time{},
		wrongEntries: map[wrongEntryKey]*wrongEntry{}, wrong: map[wrongKey]*wrongState{}}
}

type floodView struct {
	floodKey
	Bytes uint64
}

type wrongView struct {
	wrongKey
	Flows   int
	Packets uint64
}

// applyFlooded adds the growth of each flooded_macs entry to the series of its bridge
// and the interface whose MAC it is, and returns the series that grew or were read
// within idle. An entry evicted and created again counts from 0 again (counter.add).
func (s *floodState) applyFlooded(dests []probe.FloodedDest, now time.Time, idle time.Duration) []floodView {
	for _, d := range dests {
		ek := floodEntryKey{d.Bridge, d.MAC}
		e := s.entries[ek]
		if e == nil {
			e = &floodEntry{}
			s.entries[ek] = e
		}
		sk := floodKey{d.Bridge, d.Container, d.Interface}
		if d.Container == "" {
			sk.Container, sk.Interface = unknownOwner, unknownOwner
		}
		e.series, e.seen = sk, now
		s.series[sk] += e.bytes.add(d.Bytes, false)
		s.seriesSeen[sk] = now
	}
	var out []floodView
	for k, b := range s.series {
		if now.Sub(s.seriesSeen[k]) <= idle {
			out = append(out, floodView{k, b})
		}
	}
	return out
}

// applyWrong counts the wrong-source conversations of one read per (container,
// requested, replied from) and adds the growth of their reply packets. A series is
// exported while it had a conversation within idle (the gauge at 0 meanwhile).
func (s *floodState) applyWrong(ws []analysis.WrongSource, now time.Time, idle time.Duration) []wrongView {
	for _, st := range s.wrong {
		st.flows = 0
	}
	for _, w := range ws {
		k := wrongKey{w.Container, w.Requested.String(), w.RepliedFrom.String()}
		st := s.wrong[k]
		if st == nil {
			st = &wrongState{}
			s.wrong[k] = st
		}
		ek := wrongEntryKey{k.Container, k.Requested, k.RepliedFrom, w.Remote.String(), w.Proto, w.LocalPort, w.RemotePort}
		e := s.wrongEntries[ek]
		if e == nil {
			e = &wrongEntry{}
			s.wrongEntries[ek] = e
		}
		e.seen = now
		st.packets += e.packets.add(w.ReplyPackets, false)
		st.flows++
		st.active = now
	}
	var out []wrongView
	for k, st := range s.wrong {
		if now.Sub(st.active) <= idle {
			out = append(out, wrongView{k, st.flows, st.packets})
		}
	}
	return out
}

// forget drops what no read had for longer than idle.
func (s *floodState) forget(now time.Time, idle time.Duration) {
	for k, e := range s.entries {
		if now.Sub(e.seen) > idle {
			delete(s.entries, k)
		}
	}
	for k, seen := range s.seriesSeen {
		if now.Sub(seen) > idle {
			delete(s.series, k)
			delete(s.seriesSeen, k)
		}
	}
	for k, e := range s.wrongEntries {
		if now.Sub(e.seen) > idle {
			delete(s.wrongEntries, k)
		}
	}
	for k, st := range s.wrong {
		if now.Sub(st.active) > idle {
			delete(s.wrong, k)
		}
	}
}

// collectFlood exports the flooding and wrong-source series of one read.
func collectFlood(ch chan<- prometheus.Metric, floods []floodView, wrongs []wrongView) {
	for _, f := range floods {
		ch <- prometheus.MustNewConstMetric(bridgeFloodedBytesDesc, prometheus.CounterValue, float64(f.Bytes), f.Bridge, f.Container, f.Interface)
	}
	for _, w := range wrongs {
		ch <- prometheus.MustNewConstMetric(wrongFlowsDesc, prometheus.GaugeValue, float64(w.Flows), w.Container, w.Requested, w.RepliedFrom)
		ch <- prometheus.MustNewConstMetric(wrongPacketsDesc, prometheus.CounterValue, float64(w.Packets), w.Container, w.Requested, w.RepliedFrom)
	}
}

// savedFlood is floodState as SaveState writes it (absent from files of netctl before
// it: then nothing is restored).
type savedFlood struct {
	Entries []struct {
		Key    floodEntryKey
		Bytes  savedCounter
		Seen   time.Time
		Series floodKey
	}
	Series []struct {
		Key   floodKey
		Bytes uint64
		Seen  time.Time
	}
	WrongEntries []struct {
		Key     wrongEntryKey
		Packets savedCounter
		Seen    time.Time
	}
	Wrong []struct {
		Key     wrongKey
		Packets uint64
		Active  time.Time
	}
}

func (s *floodState) save() savedFlood {
	var out savedFlood
	for k, e := range s.entries {
		out.Entries = append(out.Entries, struct {
			Key    floodEntryKey
			Bytes  savedCounter
			Seen   time.Time
			Series floodKey
		}{k, saveCounter(e.bytes), e.seen, e.series})
	}
	for k, b := range s.series {
		out.Series = append(out.Series, struct {
			Key   floodKey
			Bytes uint64
			Seen  time.Time
		}{k, b, s.seriesSeen[k]})
	}
	for k, e := range s.wrongEntries {
		out.WrongEntries = append(out.WrongEntries, struct {
			Key     wrongEntryKey
			Packets savedCounter
			Seen    time.Time
		}{k, saveCounter(e.packets), e.seen})
	}
	for k, st := range s.wrong {
		out.Wrong = append(out.Wrong, struct {
			Key     wrongKey
			Packets uint64
			Active  time.Time
		}{k, st.packets, st.active})
	}
	return out
}

func (s savedFlood) restore() floodState {
	st := newFloodState()
	for _, e := range s.Entries {
		st.entries[e.Key] = &floodEntry{bytes: e.Bytes.restore(), seen: e.Seen, series: e.Series}
	}
	for _, v := range s.Series {
		st.series[v.Key], st.seriesSeen[v.Key] = v.Bytes, v.Seen
	}
	for _, e := range s.WrongEntries {
		st.wrongEntries[e.Key] = &wrongEntry{packets: e.Packets.restore(), seen: e.Seen}
	}
	for _, v := range s.Wrong {
		st.wrong[v.Key] = &wrongState{packets: v.Packets, active: v.Active}
	}
	return st
}
