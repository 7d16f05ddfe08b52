package top

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func iface(c, i string, rxB, rxP, txB, txP uint64) Interface {
	return Interface{Container: c, Name: i, HostInterface: "veth-" + c + i, RxBytes: rxB, RxPackets: rxP, TxBytes: txB, TxPackets: txP}
}

func TestRates(t *testing.T) {
	prev := Sample{Time: t0, ReadStart: t0.Add(-50 * time.Millisecond),
		Interfaces: []Interface{
			iface("c1", "eth0", 1000, 10, 0, 0),
			iface("c1", "eth1", 0, 0, 5000, 50),
			iface("gone", "eth0", 7, 7, 7, 7),
			iface("reset", "eth0", 9000, 90, 9000, 90),
		},
		Flows:    []Flow{{Container: "c1", Interface: "eth0", Direction: Receive, Proto: "tcp", Src: "a:1", Dst: "b:2", Packets: 4, Bytes: 400}},
		Problems: []Problem{{Kind: KindAsymmetric, Container: "c1", Subject: "icmp a ⇄ b", Where: "in eth0→out eth1", Bytes: 100}},
		Checked:  []Kind{KindAsymmetric},
	}
	cur := Sample{Time: t0.Add(2 * time.Second),
		Interfaces: []Interface{
			iface("c1", "eth0", 3000, 30, 0, 0),
			iface("c1", "eth1", 0, 0, 9000, 90),
			iface("new", "eth0", 500, 5, 500, 5),
			iface("reset", "eth0", 200, 2, 9000, 90), // rx reset (pins re-created), tx unchanged
		},
		Flows: []Flow{
			{Container: "c1", Interface: "eth0", Direction: Receive, Proto: "tcp", Src: "a:1", Dst: "b:2", Packets: 8, Bytes: 1200},
			{Container: "c1", Interface: "eth0", Direction: Transmit, Proto: "tcp", Src: "b:2", Dst: "a:1", Packets: 1, Bytes: 60},
			// New, begun after prev: all of it is in the interval.
			{Container: "c1", Interface: "eth1", Direction: Transmit, Proto: "tcp", Src: "b:2", Dst: "a:1", Packets: 3, Bytes: 300, FirstSeen: t0.Add(time.Second)},
			// New to this sample but begun before prev's reading (evicted, re-read): unknown.
			{Container: "c1", Interface: "eth1", Direction: Receive, Proto: "tcp", Src: "a:1", Dst: "b:2", Packets: 3, Bytes: 300, FirstSeen: t0.Add(-time.Second)},
			// Begun while prev was being read, and missed by it: all of it is new.
			{Container: "c1", Interface: "eth2", Direction: Receive, Proto: "tcp", Src: "a:1", Dst: "b:2", Packets: 2, Bytes: 200, FirstSeen: t0.Add(-20 * time.Millisecond)},
		},
		Problems: []Problem{{Kind: KindAsymmetric, Container: "c1", Subject: "icmp a ⇄ b", Where: "in eth0→out eth1", Bytes: 300}},
		Checked:  []Kind{KindAsymmetric},
	}
	f := Rates(prev, cur)
	if f.Interval != 2*time.Second || !f.Time.Equal(cur.Time) {
		t.Errorf("interval %s time %s", f.Interval, f.Time)
	}
	got := map[string]InterfaceRate{}
	for _, r := range f.Interfaces {
		got[r.Container+"/"+r.Name] = r
	}
	if len(got) != 4 {
		t.Fatalf("interfaces %v: want the 4 of cur (the vanished one gone)", got)
	}
	if _, ok := got["gone/eth0"]; ok {
		t.Error("vanished interface still in the frame")
	}
	for _, w := range []struct {
		name               string
		known              bool
		rxB, rxP, txB, txP float64
	}{
		{"c1/eth0", true, 1000, 10, 0, 0},
		{"c1/eth1", true, 0, 0, 2000, 20},
		{"new/eth0", false, 0, 0, 0, 0},
		{"reset/eth0", true, 100, 1, 0, 0}, // counts from 0 after the reset: 200 B in 2 s
	} {
		r := got[w.name]
		if r.Known != w.known || r.RxBytesRate != w.rxB || r.RxPacketsRate != w.rxP || r.TxBytesRate != w.txB || r.TxPacketsRate != w.txP {
			t.Errorf("%s: got known=%v rx %v B/s %v p/s tx %v B/s %v p/s, want %+v", w.name, r.Known,
				r.RxBytesRate, r.RxPacketsRate, r.TxBytesRate, r.TxPacketsRate, w)
		}
	}
	if len(f.Flows) != 5 || !f.Flows[0].Known || f.Flows[0].BytesRate != 400 || f.Flows[0].PacketsRate != 2 || f.Flows[1].Known ||
		!f.Flows[2].Known || f.Flows[2].BytesRate != 150 || f.Flows[2].PacketsRate != 1.5 || f.Flows[3].Known ||
		!f.Flows[4].Known || f.Flows[4].BytesRate != 100 {
		t.Errorf("flows: %+v", f.Flows)
	}
	if len(f.Problems) != 1 || !f.Problems[0].Known || f.Problems[0].BytesRate != 100 {
		t.Errorf("problems: %+v", f.Problems)
	}
	if !slices.Equal(f.NotChecked, []Kind{KindWrongSource, KindFlooding, KindUnobserved}) {
		t.Errorf("not checked: %v", f.NotChecked)
	}
}

// No earlier sample, the same moment twice, or time going backwards: no rates, no
// division by zero.
func TestRatesNoInterval(t *testing.T) {
	s := Sample{Time: t0, Interfaces: []Interface{iface("c1", "eth0", 100, 1, 100, 1)},
		Flows: []Flow{{Container: "c1", Bytes: 10, Packets: 1}}}
	for name, prev := range map[string]Sample{
		"no prev":   {},
		"same time": s,
		"backwards": {Time: t0.Add(time.Second), Interfaces: s.Interfaces},
	} {
		f := Rates(prev, s)
		if f.Interval != 0 {
			t.Errorf("%s: interval %s", name, f.Interval)
		}
		r := f.Interfaces[0]
		if r.Known || r.RxBytesRate != 0 || r.TxPacketsRate != 0 || f.Flows[0].Known {
			t.Errorf("%s: %+v %+v", name, r, f.Flows[0])
		}
		if len(f.NotChecked) != len(Kinds) {
			t.Errorf("%s: not checked %v, want every kind", name, f.NotChecked)
		}
	}
}

func TestFrameJSON(t *testing.T) {
	f := Rates(Sample{Time: t0}, Sample{Time: t0.Add(1500 * time.Millisecond), Interfaces: []Interface{iface("c1", "eth0", 1, 1, 1, 1)}})
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"interval_seconds":1.5`, `"rx_bytes_per_second":0`, `"rate_known":false`, `"container":"c1"`, `"flows":[]`, `"problems":[]`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
}
