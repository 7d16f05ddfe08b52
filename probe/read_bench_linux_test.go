//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/netctl/netctl/internal/nstest"
)

// BenchmarkReadFlows100k reads a flow table holding 100,000 flows (per-CPU values merged)
// into a Snapshot, as every scrape and `netctl flows` does. The goal is ≤ 100 ms.
func BenchmarkReadFlows100k(b *testing.B) {
	nstest.RequireRoot(b)
	const n = 100_000
	ns := nstest.NewNS(b)
	dp, err := Open(ns.Handle, Options{FlowEntries: 131072, BPFDir: nstest.BPFDir(b), StateDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer dp.Close()
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
	sets := []mapRefs{{totalsIdx: dp.sets[0].objs.TotalsByIndex, totals: dp.sets[0].objs.Totals, flows: dp.sets[0].objs.Flows, stats: dp.sets[0].objs.Stats}}
	ports := []Port{{Container: "c1", Interface: "eth0", HostInterface: "veth-c1", Ifindex: 3}}
	b.ResetTimer()
	for b.Loop() {
		snap, err := snapshot(sets, ports) // the kernel read and BuildSnapshot: what a scrape does
		if err != nil || snap.FlowEntries != n || len(snap.Flows) != n {
			b.Fatalf("read %d flows (%d entries), err %v; want %d", len(snap.Flows), snap.FlowEntries, err, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/read")
}
