//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"os"
	"runtime"
	"slices"
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
// on every packet shape. The frame repeats, so after the first packet every flow is in
// its slot of the flow cache. The programs run as on a bridge port whose container
// interface has the frame's destination MAC (an RxPeer entry): netctl_ingress is what the
// container transmits, netctl_egress what it receives (the flood check, then the flow);
// netctl_egress_flooded is a copy for another MAC (totals and the flooded counters, no
// parse, no flow). From bpf/bench.c, the same code: no_flood_check is the product's code
// without the flood check; no_flow_cache is that without the flow cache, every packet
// looked up in the LRU hash (the design before the cache); the parts show what each
// part costs: totals only; totals and the parse.
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
		{"cached_lru_percpu_hash", bo.BenchCached},
	}, benchShapes())
	shape := benchShapes()[:2]
	benchPrograms(b, []namedProg{
		{"prandom_only", bo.BenchPrandom},
		{"cached_lru_percpu_hash_new", bo.BenchCachedNew},
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
	objs := mustLoadObjs(b)
	frame := benchShapes()[0].frame
	for _, p := range []namedProg{
		{"empty", bo.Empty},
		{"netctl", objs.NetctlIngress},
		{"cached_lru_percpu_hash", bo.BenchCached},
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

// BenchmarkProgramRatio measures the product's programs against the empty one as ratios
// taken close together in time: in each of 41 rounds, every program on every shape runs
// 200,000 packets right after the empty program does on the same shape, and the ratio of
// the pair is kept. A program's figure is the median of its 41 ratios, taken over the
// whole run, so a slow phase of the machine (they last milliseconds to seconds, and move
// programs that touch memory more than the empty one) spoils a few rounds of each, not
// all of one. It runs once whatever b.N is (use -benchtime 1x). The kernel reports whole
// nanoseconds per packet, so one ratio moves in steps of 5 %: x-empty is the mean of the
// middle half of the 41 ratios (robust as a median, finer than one); ns/op and empty-ns
// are the medians of the rounds.
func BenchmarkProgramRatio(b *testing.B) {
	objs := mustLoadObjs(b)
	setRxPort(b, objs, testRunIfindex, RxPort{Check: RxPeer, MAC: [6]byte(macB), Bridge: 7})
	bo := mustLoadBench(b)
	progs := []namedProg{{"netctl", objs.NetctlIngress}, {"netctl_egress", objs.NetctlEgress}}
	if os.Getenv("NETCTL_BENCH_PARTS") != "" {
		progs = append(progs, namedProg{"part_totals", bo.BenchTotalsOnly}, namedProg{"part_totals_parse", bo.BenchParseOnly},
			namedProg{"no_flood_check", bo.BenchCached})
	}
	const rounds, n = 41, 200000
	shapes := benchShapes()
	got := make([][]pairedRuns, len(progs))
	for i := range got {
		got[i] = make([]pairedRuns, len(shapes))
	}
	for range rounds {
		for i, p := range progs {
			for j, shape := range shapes {
				got[i][j].run(b, bo.Empty, p.prog, shape.frame, n)
			}
		}
	}
	for i, p := range progs {
		for j, shape := range shapes {
			got[i][j].report(b, p.name+"/"+shape.name, "x-empty", "empty-ns")
		}
	}
}

// BenchmarkFlowMapNewRatio compares, as BenchmarkProgramRatio does (41 alternating
// rounds, the mean of the middle half of the ratios), the flow update with the cache and
// without it (the flows hash alone, as before the cache) when every packet is a new flow
// and the table is full: the case of a port scan. x-no-cache is that ratio.
func BenchmarkFlowMapNewRatio(b *testing.B) {
	bo := mustLoadBench(b)
	const rounds, n = 41, 100000
	for _, shape := range benchShapes()[:2] {
		var p pairedRuns
		for range rounds {
			p.run(b, bo.BenchLruPercpuNew, bo.BenchCachedNew, shape.frame, n)
		}
		p.report(b, "cached_new/"+shape.name, "x-no-cache", "no-cache-ns")
	}
}

// pairedRuns collects rounds of a program run on a frame right after a baseline program
// ran on it: per round the ratio, and both times.
type pairedRuns struct{ ratio, prog, base []float64 }

// run adds a round: base, then prog, n packets each.
func (p *pairedRuns) run(b *testing.B, base, prog *ebpf.Program, frame []byte, n int) {
	b.Helper()
	_, e, err := base.Benchmark(frame, n, nil)
	if err != nil {
		b.Fatal(err)
	}
	_, d, err := prog.Benchmark(frame, n, nil)
	if err != nil {
		b.Fatal(err)
	}
	p.ratio, p.prog, p.base = append(p.ratio, float64(d)/float64(e)), append(p.prog, float64(d)), append(p.base, float64(e))
}

// report reports, as sub-benchmark name, the mean of the middle half of the ratios (in
// ratioUnit) and the medians of the program's (ns/op) and the baseline's (baseUnit) times.
func (p *pairedRuns) report(b *testing.B, name, ratioUnit, baseUnit string) {
	b.Run(name, func(b *testing.B) {
		b.ReportMetric(midMean(p.ratio), ratioUnit)
		b.ReportMetric(median(p.prog), "ns/op")
		b.ReportMetric(median(p.base), baseUnit)
	})
}

// midMean returns the mean of the middle half of v, the interquartile mean (v is sorted
// in place).
func midMean(v []float64) float64 {
	slices.Sort(v)
	mid := v[len(v)/4 : len(v)-len(v)/4]
	sum := 0.0
	for _, x := range mid {
		sum += x
	}
	return sum / float64(len(mid))
}
