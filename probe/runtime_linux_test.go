//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/probe/internal/benchprog"
)

// BenchmarkAttachedRunTime measures what one program run costs in real traffic, where
// BPF_PROG_TEST_RUN's hot frame cannot tell: the kernel's own accounting of the
// programs' run time (BPF_ENABLE_STATS, on only while the benchmark's file descriptor is
// open: no sysctl changes) while iperf3 sends UDP with 64-byte payloads through the
// lab's bridge, as in BenchmarkAttachedThroughput. Rounds alternate netctl's programs
// (attached as `netctl attach` does) and the empty program (bpf/bench.c) on the same
// hooks; each round reads the run time and run count of the four programs on the two
// ports before and after a UDP run. It reports the medians of the rounds' mean ns per
// run, for netctl's programs, for the empty one, and their difference: what netctl's
// code costs a packet on each hook it passes, on top of the hook itself. The stats add
// the kernel's clock reads to every run, to both alike. TCX only (Linux 6.6+).
//
// Environment: NETCTL_IPERF_SECONDS and NETCTL_IPERF_ROUNDS as for
// BenchmarkAttachedThroughput (defaults 2 and 9 rounds of each), and
// NETCTL_RUNTIME_PROGRAMS: benchmark programs of bpf/bench.c to measure instead of
// netctl's, comma-separated (bench_cached, bench_flat, bench_lru_percpu,
// bench_totals_only, bench_parse_only), each attached with TCX on the four hooks; the
// rounds then go empty, the first, the second, …, empty, ….
//
//	go test -run '^$' -bench AttachedRunTime -benchtime 1x -count 1 -v ./probe/
func BenchmarkAttachedRunTime(b *testing.B) {
	cfg := iperfConfigFromEnv(b)
	cfg.mode = ModeTCX
	ib := newIperfBench(b, cfg)
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Skipf("skipping: BPF_ENABLE_STATS: %v", err)
	}
	defer stats.Close()

	cands := runtimeCandidates(b, ib)
	perRun := make([][]float64, len(cands))
	for b.Loop() {
		round := 0
		for range cfg.rounds {
			for i, c := range cands {
				round++
				c.attach()
				ib.waitQuiet(b)
				progs := ib.attachedPrograms(b)
				t0, n0 := runStats(b, progs)
				if _, err := ib.client(b, cfg.seconds, true); err != nil {
					b.Fatal(err)
				}
				t1, n1 := runStats(b, progs)
				c.detach()
				for _, p := range progs {
					p.Close()
				}
				if n1 <= n0 {
					b.Fatalf("round %d: the programs did not run (%d runs before, %d after)", round, n0, n1)
				}
				ns := float64(t1-t0) / float64(n1-n0)
				perRun[i] = append(perRun[i], ns)
				b.Logf("round %d, %s: %.1f ns per run over %d runs", round, c.name, ns, n1-n0)
			}
		}
	}
	b.ReportMetric(0, "ns/op")
	em := median(perRun[0])
	b.ReportMetric(em, "empty-ns/run")
	for i, c := range cands[1:] {
		m := median(perRun[i+1])
		b.ReportMetric(m, c.name+"-ns/run")
		b.ReportMetric(m-em, c.name+"-over-empty-ns/run")
	}
}

// runtimeCandidate is what BenchmarkAttachedRunTime puts on the hooks in a round.
type runtimeCandidate struct {
	name           string
	attach, detach func()
}

// runtimeCandidates returns the empty program first, then netctl's programs, or the
// benchmark programs NETCTL_RUNTIME_PROGRAMS names.
func runtimeCandidates(b *testing.B, ib *iperfBench) []runtimeCandidate {
	b.Helper()
	tcx := func(name string, p *ebpf.Program) runtimeCandidate {
		return runtimeCandidate{name, func() { ib.attachTCX(b, p) }, func() { ib.detachTCX(b) }}
	}
	out := []runtimeCandidate{tcx("empty", ib.emptyProg)}
	env := os.Getenv("NETCTL_RUNTIME_PROGRAMS")
	if env == "" {
		return append(out, runtimeCandidate{"netctl", func() { ib.attach(b, iperfNetctl) }, func() { ib.detach(b, iperfNetctl) }})
	}
	bo := mustLoadBench(b)
	for _, name := range strings.Split(env, ",") {
		out = append(out, tcx(name, benchProgram(b, bo, name)))
	}
	return out
}

// benchProgram returns the program of bpf/bench.c that the benchmarks may attach in
// real traffic by name: empty, or the product's code taken apart or changed.
func benchProgram(b *testing.B, bo *benchprog.BenchObjects, name string) *ebpf.Program {
	b.Helper()
	byName := map[string]*ebpf.Program{
		"empty": bo.Empty, "bench_cached": bo.BenchCached, "bench_flat": bo.BenchFlat, "bench_lru_percpu": bo.BenchLruPercpu,
		"bench_totals_only": bo.BenchTotalsOnly, "bench_parse_only": bo.BenchParseOnly,
	}
	p, ok := byName[name]
	if !ok {
		b.Fatalf("no benchmark program %q to attach: want one of %v", name, slices.Sorted(maps.Keys(byName)))
	}
	return p
}

// attachedPrograms opens the TCX programs on the lab's two ports, both hooks.
func (ib *iperfBench) attachedPrograms(b *testing.B) []*ebpf.Program {
	b.Helper()
	ids, err := ib.tcxProgramIDs()
	if errors.Is(err, unix.EINVAL) || errors.Is(err, ebpf.ErrNotSupported) {
		b.Skipf("skipping: no TCX on this kernel: %v", err)
	}
	if err != nil {
		b.Fatalf("the programs on the lab's ports: %v", err)
	}
	if len(ids) != 4 {
		b.Fatalf("%d programs on the lab's ports, want 4", len(ids))
	}
	out := make([]*ebpf.Program, 0, len(ids))
	for _, id := range ids {
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// runStats sums the kernel's run time and run count of progs (the same program on two
// hooks counts once: the kernel's stats are per program).
func runStats(b *testing.B, progs []*ebpf.Program) (time.Duration, uint64) {
	b.Helper()
	seen := map[ebpf.ProgramID]bool{}
	var total time.Duration
	var count uint64
	for _, p := range progs {
		info, err := p.Info()
		if err != nil {
			b.Fatal(err)
		}
		id, _ := info.ID()
		if seen[id] {
			continue
		}
		seen[id] = true
		st, err := p.Stats()
		if err != nil {
			b.Fatal(fmt.Errorf("program %d: run time and count: %w", id, err))
		}
		total += st.Runtime
		count += st.RunCount
	}
	return total, count
}
