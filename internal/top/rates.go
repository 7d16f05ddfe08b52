package top

import (
	"cmp"
	"encoding/json"
	"time"
)

// Frame is what the view shows: the counters of one sample with their rates since the
// sample before it.
type Frame struct {
	Time time.Time `json:"time"`
	// Interval is the time between the two samples the rates come from (0: no earlier
	// sample, every rate unknown).
	Interval   time.Duration   `json:"-"`
	Interfaces []InterfaceRate `json:"interfaces"`
	Flows      []FlowRate      `json:"flows"`
	Problems   []ProblemRate   `json:"problems"`
	Checked    []Kind          `json:"checked"`
	NotChecked []Kind          `json:"not_checked"`
}

// MarshalJSON adds interval_seconds.
func (f Frame) MarshalJSON() ([]byte, error) {
	type plain Frame
	return json.Marshal(struct {
		plain
		IntervalSeconds float64 `json:"interval_seconds"`
	}{plain(f), f.Interval.Seconds()})
}

// InterfaceRate is an interface's counters and rates.
type InterfaceRate struct {
	Interface
	RxBytesRate   float64 `json:"rx_bytes_per_second"`
	RxPacketsRate float64 `json:"rx_packets_per_second"`
	TxBytesRate   float64 `json:"tx_bytes_per_second"`
	TxPacketsRate float64 `json:"tx_packets_per_second"`
	// Known is false when there is no rate yet: the interface is new since the last
	// sample, or there was none.
	Known bool `json:"rate_known"`
}

// FlowRate is a flow's counters and rates.
type FlowRate struct {
	Flow
	BytesRate   float64 `json:"bytes_per_second"`
	PacketsRate float64 `json:"packets_per_second"`
	Known       bool    `json:"rate_known"`
}

// ProblemRate is a problem with the rate of the bytes it concerns.
type ProblemRate struct {
	Problem
	BytesRate float64 `json:"bytes_per_second"`
	Known     bool    `json:"rate_known"`
}

// clockLag is how far a flow's FirstSeen may lag the true time: the kernel stamps flows
// with its coarse monotonic clock, up to one tick behind (4 ms at HZ=250, 10 ms at 100).
const clockLag = 10 * time.Millisecond

// Rates turns two samples into a frame: cur's counters with their rates per second since
// prev. A row that prev lacks (new, or no prev at all: a zero Sample) and every row when
// the interval is not positive have no rate (Known false, rates 0), except a flow that
// began after prev's reading began (FirstSeen, less clockLag): it counts from 0. A
// counter lower than
// in prev was reset (pins re-created, a flow evicted and seen again) and counts from 0,
// as Prometheus's rate() does. Rows of prev that cur lacks are gone. It is pure.
func Rates(prev, cur Sample) Frame {
	dt := cur.Time.Sub(prev.Time)
	if prev.Time.IsZero() || dt < 0 {
		dt = 0
	}
	f := Frame{Time: cur.Time, Interval: dt, Checked: append([]Kind{}, cur.Checked...),
		Interfaces: make([]InterfaceRate, 0, len(cur.Interfaces)),
		Flows:      make([]FlowRate, 0, len(cur.Flows)), Problems: make([]ProblemRate, 0, len(cur.Problems))}
	checked := map[Kind]bool{}
	for _, k := range cur.Checked {
		checked[k] = true
	}
	f.NotChecked = []Kind{}
	for _, k := range Kinds {
		if !checked[k] {
			f.NotChecked = append(f.NotChecked, k)
		}
	}

	ifs := index(prev.Interfaces, Interface.key)
	for _, c := range cur.Interfaces {
		r := InterfaceRate{Interface: c}
		if p, ok := ifs[c.key()]; ok && dt > 0 {
			r.Known = true
			r.RxBytesRate, r.RxPacketsRate = rate(p.RxBytes, c.RxBytes, dt), rate(p.RxPackets, c.RxPackets, dt)
			r.TxBytesRate, r.TxPacketsRate = rate(p.TxBytes, c.TxBytes, dt), rate(p.TxPackets, c.TxPackets, dt)
		}
		f.Interfaces = append(f.Interfaces, r)
	}
	fls := index(prev.Flows, Flow.key)
	began := cmp.Or(prev.ReadStart, prev.Time).Add(-clockLag)
	for _, c := range cur.Flows {
		r := FlowRate{Flow: c}
		p, ok := fls[c.key()]
		if !ok && !c.FirstSeen.IsZero() && !c.FirstSeen.Before(began) {
			p, ok = Flow{}, true // began since prev: from 0
		}
		if ok && dt > 0 {
			r.Known = true
			r.BytesRate, r.PacketsRate = rate(p.Bytes, c.Bytes, dt), rate(p.Packets, c.Packets, dt)
		}
		f.Flows = append(f.Flows, r)
	}
	pbs := index(prev.Problems, Problem.key)
	for _, c := range cur.Problems {
		r := ProblemRate{Problem: c}
		if p, ok := pbs[c.key()]; ok && dt > 0 {
			r.Known = true
			r.BytesRate = rate(p.Bytes, c.Bytes, dt)
		}
		f.Problems = append(f.Problems, r)
	}
	return f
}

// rate is the per-second increase from prev to cur over dt > 0; a decrease is a reset
// to 0 in between.
func rate(prev, cur uint64, dt time.Duration) float64 {
	d := cur
	if cur >= prev {
		d = cur - prev
	}
	return float64(d) / dt.Seconds()
}

// index maps rows by key; a key seen twice keeps the first row.
func index[T any](rows []T, key func(T) string) map[string]T {
	m := make(map[string]T, len(rows))
	for _, r := range rows {
		if _, ok := m[key(r)]; !ok {
			m[key(r)] = r
		}
	}
	return m
}
