//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"context"
	"encoding/binary"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/internal/nsutil"
)

// mustLoadObjsIdle loads the product's programs with nc_flow_cache_idle_ticks set to idle:
// 0 makes every collision in the flow cache an eviction.
func mustLoadObjsIdle(t testing.TB, idle uint32) *netctlObjects {
	t.Helper()
	nstest.RequireRoot(t)
	spec, err := loadNetctl()
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Variables[netctlVarNcFlowCacheIdleTicks].Set(idle); err != nil {
		t.Fatal(err)
	}
	var objs netctlObjects
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		t.Fatalf("load programs: %+v", err)
	}
	t.Cleanup(func() { _ = objs.Close() })
	return &objs
}

// onCPU runs fn on a thread bound to cpu, where BPF_PROG_TEST_RUN runs the programs: the
// flow cache is per CPU.
func onCPU(t testing.TB, cpu int, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // the thread ends with the goroutine, affinity and all
		var set unix.CPUSet
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			t.Errorf("bind to CPU %d: %v", cpu, err)
			return
		}
		fn()
	}()
	<-done
}

// udpFlow is a UDP frame from sport to port 53 and its flow key as netctl_ingress on
// testRunIfindex stores it.
func udpFlow(sport uint16) ([]byte, FlowKey) {
	return udpFlowOf(4, sport)
}

// udpFlowOf is udpFlow over IPv4 (family 4) or IPv6 (6).
func udpFlowOf(family uint8, sport uint16) ([]byte, FlowKey) {
	l4 := udp(18)
	binary.BigEndian.PutUint16(l4[0:], sport)
	k, frame := v4Key(protoUDP, sport, 53), eth(ethTypeIPv4, ipv4(protoUDP, l4))
	if family == 6 {
		k, frame = v6Key(protoUDP, sport, 53), eth(ethTypeIPv6, ipv6(protoUDP, l4))
	}
	k.Ifindex, k.Dir = testRunIfindex, uint8(Ingress)
	return frame, k
}

// collidingFlows returns two UDP flows that share a slot of the flow cache.
func collidingFlows(t testing.TB) (fa, fb []byte, ka, kb FlowKey) {
	t.Helper()
	seen := map[uint32]uint16{}
	for p := uint16(1024); p < 65535; p++ {
		_, k := udpFlow(p)
		s := flowCacheSlot(k)
		if q, ok := seen[s]; ok {
			fa, ka = udpFlow(q)
			fb, kb = udpFlow(p)
			return fa, fb, ka, kb
		}
		seen[s] = p
	}
	t.Fatal("no two ports share a slot")
	return
}

// cacheSlots reads slot i of the flow cache on every CPU.
func cacheSlots(t testing.TB, objs *netctlObjects, i uint32) []FlowSlot {
	t.Helper()
	var per []FlowSlot
	if err := objs.FlowCache.Lookup(i, &per); err != nil {
		t.Fatalf("read flow cache slot %d: %v", i, err)
	}
	return per
}

// hashPackets is the flows hash's own count of k (per-CPU copies summed), without the
// cache: what is there for a reader that would not merge.
func hashPackets(t testing.TB, objs *netctlObjects, k FlowKey) uint64 {
	t.Helper()
	var per []FlowValue
	if err := objs.Flows.Lookup(k, &per); err != nil {
		return 0
	}
	n := uint64(0)
	for _, v := range per {
		n += v.Packets
	}
	return n
}

func run(t testing.TB, prog *ebpf.Program, frame []byte, n int) {
	t.Helper()
	for range n {
		if _, err := prog.Run(&ebpf.RunOptions{Data: frame, Repeat: 1}); err != nil {
			t.Fatalf("run: %v", err)
		}
	}
}

// The programs put a flow in the slot flowCacheSlot says, IPv4 and IPv6: the Go mirror
// and the C agree. A flow whose slot an earlier one took is counted in the hash.
func TestFlowCacheSlotMatchesPrograms(t *testing.T) {
	objs := mustLoadObjsIdle(t, 1<<30) // a taken slot stays taken
	taken := map[uint32]bool{}
	onCPU(t, 0, func() {
		for p := uint16(2000); p < 2064; p++ {
			for _, fam := range []uint8{4, 6} {
				frame, k := udpFlowOf(fam, p)
				run(t, objs.NetctlIngress, frame, 1)
				slot := flowCacheSlot(k)
				if taken[slot] {
					if n := hashPackets(t, objs, k); n != 1 {
						t.Errorf("%+v, whose slot %d was taken: %d packets in the hash, want 1", k, slot, n)
					}
					continue
				}
				taken[slot] = true
				if got := cacheSlots(t, objs, slot)[0]; got.Key != k || got.Value.Packets != 1 {
					t.Errorf("slot %d on CPU 0 holds %+v, want %+v with 1 packet", slot, got, k)
				}
			}
		}
	})
	if len(taken) < 64 {
		t.Errorf("128 flows took %d slots, want ≥ 64", len(taken))
	}
}

// Two busy flows that share a slot: the first keeps it, the second is counted in the
// hash, and the reader reports both exactly.
func TestFlowCacheCollisionBusy(t *testing.T) {
	objs := mustLoadObjsIdle(t, 1<<30) // the slot's flow is busy throughout, however slow the machine
	fa, fb, ka, kb := collidingFlows(t)
	onCPU(t, 0, func() {
		run(t, objs.NetctlIngress, fa, 3)
		run(t, objs.NetctlIngress, fb, 5)
		run(t, objs.NetctlIngress, fa, 2)
		run(t, objs.NetctlIngress, fb, 1)
	})
	s := readState(t, objs)
	if s.flows[ka].Packets != 5 || s.flows[kb].Packets != 6 {
		t.Errorf("read %d and %d packets, want 5 and 6", s.flows[ka].Packets, s.flows[kb].Packets)
	}
	if slot := cacheSlots(t, objs, flowCacheSlot(ka))[0]; slot.Key != ka || slot.Value.Packets != 5 {
		t.Errorf("slot holds %+v, want the first flow with 5 packets", slot)
	}
	if n := hashPackets(t, objs, kb); n != 6 {
		t.Errorf("hash holds %d packets of the second flow, want 6", n)
	}
	if n := hashPackets(t, objs, ka); n != 0 {
		t.Errorf("hash holds %d packets of the cached flow, want 0 (never written back)", n)
	}
}

// With every collision an eviction, two flows alternating in one slot go in and out of
// it on every packet: written back to the hash, taken back with the hash's counts.
// Nothing is lost, and a reader reading meanwhile from the other CPU never sees a count
// go down, a flow twice, or one flow's key with the other's counts (the second flow
// starts with 2^40 packets in the hash, so a copy torn between the two would show).
func TestFlowCacheEvictionExact(t *testing.T) {
	objs := mustLoadObjsIdle(t, 0)
	fa, fb, ka, kb := collidingFlows(t)
	const rounds = 200000
	const big = 1 << 40
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	start := make([]FlowValue, ncpu)
	start[0] = FlowValue{Packets: big, Bytes: big, FirstSeenNs: 1, LastSeenNs: 1}
	if err := objs.Flows.Put(kb, start); err != nil {
		t.Fatal(err)
	}
	reader := 0
	if ncpu > 1 {
		reader = 1
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	reads := 0
	go func() {
		defer wg.Done()
		onCPU(t, reader, func() {
			var last [2]uint64
			for {
				select {
				case <-stop:
					return
				default:
				}
				var now [2]uint64
				var seen [2]int
				_, err := eachEntry(context.Background(), []mapRefs{{flows: objs.Flows, cache: objs.FlowCache}}, func(e *Entry) {
					switch e.Key {
					case ka:
						now[0], seen[0] = e.Packets, seen[0]+1
					case kb:
						now[1], seen[1] = e.Packets, seen[1]+1
					}
				})
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				if seen[0] > 1 || seen[1] != 1 {
					t.Errorf("flows reported %d and %d times, want at most once and once", seen[0], seen[1])
				}
				if now[0] > rounds || now[1] < big || now[1] > big+rounds {
					t.Errorf("read %d and %d packets: one flow's key with the other's counts", now[0], now[1])
				}
				for i := range now {
					if now[i] < last[i] {
						t.Errorf("flow %d read %d packets after %d: a count went down", i, now[i], last[i])
					}
				}
				last = now
				reads++
			}
		})
	}()
	began := time.Now()
	onCPU(t, 0, func() {
		for range rounds {
			run(t, objs.NetctlIngress, fa, 1)
			run(t, objs.NetctlIngress, fb, 1)
		}
	})
	close(stop)
	wg.Wait()
	t.Logf("%d rounds in %v, %d reads meanwhile from CPU %d", rounds, time.Since(began), reads, reader)
	s := readState(t, objs)
	if s.flows[ka].Packets != rounds || s.flows[kb].Packets != big+rounds {
		t.Errorf("read %d and %d packets, want %d and 2^40+%d", s.flows[ka].Packets, s.flows[kb].Packets, rounds, rounds)
	}
	if s.stats[StatFlowInsertFailed] != 0 {
		t.Errorf("%d inserts failed", s.stats[StatFlowInsertFailed])
	}
	// The second flow is in the slot; the first was written back with all its packets.
	if slot := cacheSlots(t, objs, flowCacheSlot(ka))[0]; slot.Key != kb || slot.Value.Packets != big+rounds {
		t.Errorf("slot holds %+v, want the second flow with 2^40+%d packets", slot, rounds)
	}
	if slot := cacheSlots(t, objs, flowCacheSlot(ka))[0]; slot.GenDone != slot.GenBegun || slot.GenDone < 2*rounds-1 {
		t.Errorf("slot generations %d done, %d begun: want equal, one per change of flow (%d)", slot.GenDone, slot.GenBegun, 2*rounds-1)
	}
	if n := hashPackets(t, objs, ka); n != rounds {
		t.Errorf("hash holds %d packets of the written-back flow, want %d", n, rounds)
	}
}

// Real traffic through a bridge port, more flows than the cache has slots, sent in three
// passes with the slots' flows idle between them: the cache fills, the flows that find
// their slot busy go to the hash, and in the next passes idle flows are written back and
// slots change hands. Every flow must still read exactly its packets, through the
// product's reader (Snapshot), in both attach modes.
func TestFlowCacheRealTrafficExact(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{ModeTCX, ModeTC} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			l, opts := dpLab(t)
			dp, _ := openAttached(t, l, withMode(opts, mode))
			const (
				flows  = 6000 // > FlowCacheSlots
				passes = 3
				base   = 20000
			)
			dst := &net.UDPAddr{IP: net.IPv4(172, 17, 0, 2), Port: 9}
			for pass := range passes {
				if pass > 0 {
					time.Sleep(300 * time.Millisecond) // > nc_flow_cache_idle_ticks (25 ticks: 250 ms at HZ=100)
				}
				err := nsutil.Do(l.Container2.NS, func() error {
					for i := range flows {
						c, err := net.DialUDP("udp4", &net.UDPAddr{Port: base + i}, dst)
						if err != nil {
							return err
						}
						_, err = c.Write([]byte("netctl flow cache test"))
						c.Close()
						if err != nil {
							return err
						}
						if i%256 == 255 {
							time.Sleep(time.Millisecond) // no burst for the veths' backlog
						}
					}
					return nil
				})
				if err != nil {
					t.Fatalf("send pass %d: %v", pass, err)
				}
			}
			snap, err := dp.Snapshot(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got := map[uint16]uint64{}
			dup := 0
			for _, f := range snap.Flows {
				if f.Container != l.Container1.Name || f.Interface != "eth0" || f.Direction != Receive || f.Proto != protoUDP ||
					f.DstPort != 9 || f.SrcPort < base || f.SrcPort >= base+flows {
					continue
				}
				if _, ok := got[f.SrcPort]; ok {
					dup++
				}
				got[f.SrcPort] += f.Packets
			}
			if dup != 0 {
				t.Errorf("%d flows reported twice", dup)
			}
			wrong := 0
			for i := range flows {
				if n := got[uint16(base+i)]; n != passes {
					if wrong++; wrong <= 5 {
						t.Errorf("flow from port %d read %d packets, want %d", base+i, n, passes)
					}
				}
			}
			if wrong > 0 {
				t.Errorf("%d of %d flows wrong", wrong, flows)
			}
		})
	}
}

// Per CPU, the copy with more packets wins.
func TestMergeCachedTakesTheCopyWithMorePackets(t *testing.T) {
	hash := []netctlNcFlowValue{
		{Packets: 5, Bytes: 500, LastSeenNs: 50}, // cached copy older: kept
		{Packets: 2, Bytes: 200, LastSeenNs: 20}, // cached copy newer: taken
		{},                                       // only in the cache on this CPU
		{Packets: 7, Bytes: 700, LastSeenNs: 70}, // not cached on this CPU
	}
	cached := []netctlNcFlowValue{
		{Packets: 4, Bytes: 400, LastSeenNs: 40},
		{Packets: 3, Bytes: 300, LastSeenNs: 30, TcpFlags: 0x10},
		{Packets: 1, Bytes: 100, FirstSeenNs: 9, LastSeenNs: 9},
		{},
	}
	mergeCached(hash, cached)
	want := []netctlNcFlowValue{
		{Packets: 5, Bytes: 500, LastSeenNs: 50},
		{Packets: 3, Bytes: 300, LastSeenNs: 30, TcpFlags: 0x10},
		{Packets: 1, Bytes: 100, FirstSeenNs: 9, LastSeenNs: 9},
		{Packets: 7, Bytes: 700, LastSeenNs: 70},
	}
	for i := range want {
		if hash[i] != want[i] {
			t.Errorf("CPU %d: merged %+v, want %+v", i, hash[i], want[i])
		}
	}
}
