//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/probe/internal/benchprog"
)

// The benchmarks measure the per-packet cost of the tc programs with BPF_PROG_TEST_RUN:
// the kernel runs a program b.N times on the same frame and reports the mean time of
// one run, reported here as ns/op. See BENCHMARKS.md.
//
//	go test -run '^$' -bench . -benchtime 2000000x -count 5 ./probe/

// BenchmarkProgram compares the product's programs with the empty baseline (bpf/bench.c)
// on every packet shape. The frame repeats, so after the first packet every flow lookup
// hits. The programs run as on a bridge port whose container interface has the frame's
// destination MAC (an RxPeer entry): netctl_ingress is what the container transmits,
// netctl_egress what it receives (the flood check, then the flow); netctl_egress_flooded
// is a copy for another MAC (totals and the flooded counters, no parse, no flow).
// no_flood_check is the product's code before the flood check (bpf/bench.c, the same
// parse and flow update). The product's program taken apart (from bpf/bench.c, same
// code) shows what each part costs: totals only; totals and the parse; everything but
// the clock.
func BenchmarkProgram(b *testing.B) {
	objs := mustLoadObjs(b)
	setRxPort(b, objs, testRunIfindex, RxPort{Check: RxPeer, MAC: [6]byte(macB), Bridge: 7})
	flood := mustLoadObjs(b)
	setRxPort(b, flood, testRunIfindex, RxPort{Check: RxPeer, MAC: [6]byte(macC), Bridge: 7})
	bo := mustLoadBench(b)
	benchPrograms(b, []namedProg{
		{"empty", bo.Empty},
		{"netctl", objs.NetctlIngress},
		{"netctl_egress", objs.NetctlEgress},
		{"netctl_egress_flooded", flood.NetctlEgress},
		{"no_flood_check", bo.BenchCached},
		{"no_flow_cache", bo.BenchLruPercpu},
		{"part_totals", bo.BenchTotalsOnly},
		{"part_totals_parse", bo.BenchParseOnly},
		{"part_no_clock", bo.BenchNoClock},
	}, benchShapes())
}

// BenchmarkFlowMap runs netctl_ingress's code with its flow map swapped for other map
// types (the bench_* programs of bpf/bench.c), on the same frames, next to the
// product's program and the empty one. The _new variants replace the ports with a
// random number, so every packet is a new flow: the first 65536 fill the map, and
// from then on an LRU map evicts for each packet and a plain hash refuses the insert
// (counted in stats). bench_prandom is the cost of the random number alone.
func BenchmarkFlowMap(b *testing.B) {
	objs := mustLoadObjs(b)
	bo := mustLoadBench(b)
	benchPrograms(b, []namedProg{
		{"empty", bo.Empty},
		{"netctl", objs.NetctlIngress},
		{"lru_percpu_hash", bo.BenchLruPercpu},
		{"percpu_hash", bo.BenchPercpu},
		{"lru_hash_atomic", bo.BenchLru},
		{"hash_atomic", bo.BenchHash},
	}, benchShapes())
	shape := benchShapes()[:2]
	benchPrograms(b, []namedProg{
		{"prandom_only", bo.BenchPrandom},
		{"lru_percpu_hash_new", bo.BenchLruPercpuNew},
		{"percpu_hash_new", bo.BenchPercpuNew},
		{"lru_hash_atomic_new", bo.BenchLruNew},
		{"hash_atomic_new", bo.BenchHashNew},
	}, shape)
}

// BenchmarkFlowMapTwoCPUs runs the same frame (one flow) on both CPUs at once, one
// BPF_PROG_TEST_RUN per CPU, so a shared map's value bounces between the CPUs' caches
// while a per-CPU map's does not. ns/op is the mean of the two runs' per-packet times.
func BenchmarkFlowMapTwoCPUs(b *testing.B) {
	if runtime.NumCPU() < 2 {
		b.Skip("needs 2 CPUs")
	}
	bo := mustLoadBench(b)
	frame := benchShapes()[0].frame
	for _, p := range []namedProg{
		{"empty", bo.Empty},
		{"lru_percpu_hash", bo.BenchLruPercpu},
		{"percpu_hash", bo.BenchPercpu},
		{"lru_hash_atomic", bo.BenchLru},
		{"hash_atomic", bo.BenchHash},
	} {
		b.Run(p.name+"/"+benchShapes()[0].name, func(b *testing.B) {
			var (
				wg    sync.WaitGroup
				per   [2]time.Duration
				errs  [2]error
				start = make(chan struct{})
			)
			for cpu := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					var set unix.CPUSet
					set.Set(cpu)
					if err := unix.SchedSetaffinity(0, &set); err != nil {
						errs[cpu] = err
						return
					}
					<-start
					_, per[cpu], errs[cpu] = p.prog.Benchmark(frame, b.N, nil)
				}()
			}
			b.ResetTimer()
			close(start)
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					b.Fatalf("benchmark %s: %v", p.name, err)
				}
			}
			b.ReportMetric(float64((per[0]+per[1]).Nanoseconds())/2, "ns/op")
		})
	}
}

type namedProg struct {
	name string
	prog *ebpf.Program
}

func benchPrograms(b *testing.B, progs []namedProg, shapes []packetShape) {
	for _, p := range progs {
		for _, shape := range shapes {
			b.Run(p.name+"/"+shape.name, func(b *testing.B) {
				ret, perRun, err := p.prog.Benchmark(shape.frame, b.N, b.ResetTimer)
				if err != nil {
					b.Fatalf("benchmark %s on %s: %v", p.name, shape.name, err)
				}
				if int32(ret) != tcxNext {
					b.Fatalf("verdict %d, want %d", int32(ret), tcxNext)
				}
				b.ReportMetric(float64(perRun.Nanoseconds()), "ns/op")
			})
		}
	}
}

// mustLoadBench loads the benchmark-only programs (bpf/bench.c).
func mustLoadBench(t testing.TB) *benchprog.BenchObjects {
	t.Helper()
	nstest.RequireRoot(t)
	var objs benchprog.BenchObjects
	if err := benchprog.LoadBenchObjects(&objs, nil); err != nil {
		t.Fatalf("load benchmark programs: %+v", err)
	}
	t.Cleanup(func() { _ = objs.Close() })
	return &objs
}

// TestEmptyProgramReturnsNext wants the benchmarks' baseline to return TCX_NEXT, as
// the product's programs do, on every run shape.
func TestEmptyProgramReturnsNext(t *testing.T) {
	bo := mustLoadBench(t)
	for _, shape := range runShapes() {
		ret, err := bo.Empty.Run(&ebpf.RunOptions{Data: shape.frame, Repeat: 1})
		if err != nil {
			t.Fatalf("run empty program on %s: %v", shape.name, err)
		}
		if int32(ret) != tcxNext {
			t.Errorf("%s: verdict %d, want %d", shape.name, int32(ret), tcxNext)
		}
	}
}
