package exporter

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/netctl/netctl/probe"
)

// benchSource is a flow table of n conversations as BenchmarkServe makes them: the
// host's client ports 40000-40049 to the container's service ports from 1, one entry each
// way, on one bridge port; every read the entries have grown.
type benchSource struct {
	n    int
	read int
	now  time.Time
}

func (s *benchSource) Counters(context.Context) (probe.Counters, error) {
	return probe.Counters{Time: s.now, FlowCapacity: 262144,
		Interfaces: []probe.InterfaceCounters{{Port: benchPort, RxPackets: uint64(s.read), RxBytes: uint64(s.read) * 100}}}, nil
}

var benchPort = probe.Port{Container: "c2", Interface: "eth0", HostInterface: "veth-c2", Bridge: "docker0", Ifindex: 5}

func (s *benchSource) ReadFlows(_ context.Context, fn func(*probe.Entry)) (probe.FlowRead, error) {
	s.read++
	s.now = s.now.Add(15 * time.Second)
	mono := uint64(s.now.UnixNano())
	var e probe.Entry
	for i := range s.n {
		sport, dport := uint16(40000+i%50), uint16(1+i/50)
		for dir := range 2 {
			e.Key = probe.FlowKey{Ifindex: 5, Dir: uint8(dir), Proto: probe.ProtoUDP, Family: 4, Sport: sport, Dport: dport}
			binary.BigEndian.PutUint32(e.Key.Saddr[:], 0xac110001)
			binary.BigEndian.PutUint32(e.Key.Daddr[:], 0xac110003)
			if dir == 1 { // the reply: container → host, tc ingress on its host-side veth
				e.Key.Sport, e.Key.Dport, e.Key.Saddr, e.Key.Daddr = dport, sport, e.Key.Daddr, e.Key.Saddr
			}
			e.Packets, e.Bytes = uint64(s.read), uint64(s.read)*60
			e.FirstNs, e.LastNs = mono-uint64(time.Minute), mono-uint64(time.Second)
			fn(&e)
		}
	}
	return probe.FlowRead{Ports: []probe.Port{benchPort}, Mono: mono, Time: s.now, Entries: 2 * s.n, Capacity: 262144}, nil
}

// BenchmarkCollect measures, in process and without a kernel, what serve does with n
// conversations: a pass over the flow tables (read, group, judge, count) and a scrape
// (Collect and the text exposition of the whole registry).
func BenchmarkCollect(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		src := &benchSource{n: n, now: time.Unix(1e9, 0)}
		c := NewCollector(src, CollectorOptions{Now: func() time.Time { return src.now }, Logger: slog.New(slog.DiscardHandler)})
		c.Refresh()
		reg := NewGatherer(c, "v", "r")
		b.Run(fmt.Sprintf("pass/conversations=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.Refresh()
			}
			var m runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m)
			b.ReportMetric(float64(m.HeapInuse)/(1<<20), "heap_MiB")
		})
		b.Run(fmt.Sprintf("scrape/conversations=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				mfs, err := reg.Gather()
				if err != nil {
					b.Fatal(err)
				}
				enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
				for _, mf := range mfs {
					if err := enc.Encode(mf); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
