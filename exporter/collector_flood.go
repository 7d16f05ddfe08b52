package exporter

import (
	"time"

	"github.com/netctl/netctl/internal/analysis"
	"github.com/netctl/netctl/probe"
)

// What a container really receives: frames a bridge flooded to it (the interface
// counters count them apart) and, by destination, what each bridge floods (floodTable,
// read with the counters at every scrape); replies a container sends from another
// address than the one asked (wrongState, found by each pass over the flow tables).

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
	bytes counter
	seen  time.Time
}

type floodSeries struct {
	bytes uint64
	seen  time.Time // last read with an entry for it
}

// floodTable keeps netctl_bridge_flooded_bytes_total monotonic: each kernel entry's
// growth goes to the series of its bridge and owner (an entry evicted and created
// again counts from 0 again). Entries and series no read had for idle are forgotten;
// the kernel keeps at most 4096 entries, so does this.
type floodTable struct {
	entries map[floodEntryKey]*floodEntry
	series  map[floodKey]*floodSeries
}

func newFloodTable() floodTable {
	return floodTable{entries: map[floodEntryKey]*floodEntry{}, series: map[floodKey]*floodSeries{}}
}

type floodView struct {
	floodKey
	Bytes uint64
}

// apply folds the flooded destinations of one read in at now and returns the series
// seen within idle.
func (t floodTable) apply(dests []probe.FloodedDest, now time.Time, idle time.Duration) []floodView {
	for _, d := range dests {
		ek := floodEntryKey{d.Bridge, d.MAC}
		e := t.entries[ek]
		if e == nil {
			e = &floodEntry{}
			t.entries[ek] = e
		}
		e.seen = now
		sk := floodKey{d.Bridge, d.Container, d.Interface}
		if d.Container == "" {
			sk.Container, sk.Interface = unknownOwner, unknownOwner
		}
		s := t.series[sk]
		if s == nil {
			s = &floodSeries{}
			t.series[sk] = s
		}
		s.bytes += e.bytes.add(d.Bytes, false)
		s.seen = now
	}
	var out []floodView
	for k, s := range t.series {
		if now.Sub(s.seen) > idle {
			delete(t.series, k)
			continue
		}
		out = append(out, floodView{k, s.bytes})
	}
	for k, e := range t.entries {
		if now.Sub(e.seen) > idle {
			delete(t.entries, k)
		}
	}
	return out
}

// wrongKey is one wrong-source series.
type wrongKey struct {
	Container, Requested, RepliedFrom string
}

type wrongState struct {
	packets uint64
	flows   int   // conversations at the last pass
	active  int64 // wall ns of the last pass with a conversation
}

// applyWrong finds the wrong-source conversations of the pass (recs grouped by remote
// endpoint and local port, analysis.JudgeWrongSource), counts them per (container,
// requested, replied from) and adds their reply packets' growth (dp: each rec's packet
// delta of this pass).
func (st *flowState) applyWrong(nowMono int64, dp []uint64) {
	for _, w := range st.wrong {
		w.flows = 0
	}
	p := &st.pass
	st.wsGroup.ByRemote = true
	st.wsGroup.Each(st.recs, func(m []int32) {
		analysis.JudgeWrongSource(st.recs, m, nowMono, st.idle, func(pair analysis.WrongPair) {
			r := &st.recs[m[0]]
			w := analysis.NewWrongSource(r, pair, "", "", "", time.Time{})
			k := wrongKey{p.contNames[r.Container], w.Requested.String(), w.RepliedFrom.String()}
			ws := st.wrong[k]
			if ws == nil {
				ws = &wrongState{}
				st.wrong[k] = ws
			}
			ws.flows++
			ws.active = p.now
			for _, i := range m {
				if ri := &st.recs[i]; !ri.Receive {
					if local, _, _, _ := ri.Ends(); *local == pair.RepliedFrom {
						ws.packets += dp[i]
					}
				}
			}
		})
	})
	for k, w := range st.wrong {
		if p.now-w.active > st.idle {
			delete(st.wrong, k)
		}
	}
}

// encodeFlood appends the flooding and wrong-source memory to the state file.
func encodeFlood(e *enc, t floodTable, wrong map[wrongKey]*wrongState) {
	e.u32(uint32(len(t.entries)))
	for k, en := range t.entries {
		e.str(k.Bridge)
		e.str(k.MAC)
		e.counter(&en.bytes)
		e.i64(en.seen.UnixNano())
	}
	e.u32(uint32(len(t.series)))
	for k, s := range t.series {
		e.str(k.Bridge)
		e.str(k.Container)
		e.str(k.Interface)
		e.u64(s.bytes)
		e.i64(s.seen.UnixNano())
	}
	e.u32(uint32(len(wrong)))
	for k, w := range wrong {
		e.str(k.Container)
		e.str(k.Requested)
		e.str(k.RepliedFrom)
		e.u64(w.packets)
		e.i64(w.active)
		e.u32(uint32(w.flows))
	}
}

// decodeFlood reads what encodeFlood wrote, the wrong-source series into wrong.
func decodeFlood(d *dec, wrong map[wrongKey]*wrongState) floodTable {
	t := newFloodTable()
	for n := d.count(2 + 16 + 8); n > 0 && d.err == nil; n-- {
		k := floodEntryKey{d.str(), d.str()}
		t.entries[k] = &floodEntry{bytes: d.counter(), seen: time.Unix(0, d.i64())}
	}
	for n := d.count(3 + 16); n > 0 && d.err == nil; n-- {
		k := floodKey{d.str(), d.str(), d.str()}
		t.series[k] = &floodSeries{bytes: d.u64(), seen: time.Unix(0, d.i64())}
	}
	for n := d.count(3 + 20); n > 0 && d.err == nil; n-- {
		k := wrongKey{d.str(), d.str(), d.str()}
		wrong[k] = &wrongState{packets: d.u64(), active: d.i64(), flows: int(d.u32())}
	}
	return t
}
