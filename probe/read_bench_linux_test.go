//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/netctl/netctl/internal/nstest"
)

// benchTable opens a datapath whose flow table (capacity entries) holds n flows, per-CPU
// values on every CPU, and returns its map set and the port behind the flows.
func benchTable(b *testing.B, n int, capacity uint32) ([]mapRefs, []Port) {
	b.Helper()
	nstest.RequireRoot(b)
	ns := nstest.NewNS(b)
	dp, err := Open(ns.Handle, Options{FlowEntries: capacity, BPFDir: nstest.BPFDir(b), StateDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = dp.Close() })
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]netctlNcFlowKey, n)
	vals := make([]netctlNcFlowValue, n*ncpu)
	for i := range keys {
		keys[i] = netctlNcFlowKey{Ifindex: 3, Proto: 6, Family: 4, Sport: uint16(i), Dport: 80}
		binary.BigEndian.PutUint32(keys[i].Saddr[:4], 0xac110000|uint32(i>>16))
		binary.BigEndian.PutUint32(keys[i].Daddr[:4], 0xac110002)
		for c := range ncpu {
			vals[i*ncpu+c] = netctlNcFlowValue{Packets: 1, Bytes: 100, FirstSeenNs: 1, LastSeenNs: 2}
		}
	}
	if _, err := dp.sets[0].objs.Flows.BatchUpdate(keys, vals, nil); err != nil {
		b.Fatalf("fill flows: %v", err)
	}
	sets := []mapRefs{{totalsIdx: dp.sets[0].objs.TotalsByIndex, totals: dp.sets[0].objs.Totals, flows: dp.sets[0].objs.Flows, stats: dp.sets[0].objs.Stats, cache: dp.sets[0].objs.FlowCache}}
	return sets, []Port{{Container: "c1", Interface: "eth0", HostInterface: "veth-c1", Ifindex: 3}}
}

// BenchmarkReadFlows100k reads a flow table holding 100,000 flows (per-CPU values merged)
// into a Snapshot, as `netctl flows` does. The goal is ≤ 100 ms.
func BenchmarkReadFlows100k(b *testing.B) {
	const n = 100_000
	sets, ports := benchTable(b, n, 131072)
	b.ResetTimer()
	for b.Loop() {
		snap, err := snapshot(sets, ports) // the kernel read and BuildSnapshot
		if err != nil || snap.FlowEntries != n || len(snap.Flows) != n {
			b.Fatalf("read %d flows (%d entries), err %v; want %d", len(snap.Flows), snap.FlowEntries, err, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/read")
}

// BenchmarkReadFlowsStream200k streams a flow table holding 200,000 flows (capacity
// 262,144), per-CPU values merged, as each pass of netctl serve does (eachEntry): the
// kernel's batch lookups and the merge, nothing allocated per entry.
func BenchmarkReadFlowsStream200k(b *testing.B) {
	const n = 200_000
	sets, _ := benchTable(b, n, 262144)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var bytes uint64
		got, err := eachEntry(context.Background(), sets, func(e *Entry) { bytes += e.Bytes })
		if err != nil || got != n || bytes == 0 {
			b.Fatalf("read %d entries, err %v; want %d", got, err, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/read")
}
