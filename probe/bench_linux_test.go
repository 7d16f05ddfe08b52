//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"testing"

	"github.com/cilium/ebpf"
)

// BenchmarkProgram measures the per-packet cost of the counter programs against the
// empty baseline with BPF_PROG_TEST_RUN: the kernel runs the program b.N times on the
// same frame and reports the mean time of one run, which is reported as ns/op.
//
//	go test -run '^$' -bench . -benchtime 2000000x -count 5 ./probe/
func BenchmarkProgram(b *testing.B) {
	c := mustLoad(b)
	progs := []struct {
		name string
		prog *ebpf.Program
	}{
		{"empty", c.objs.Empty},
		{"counter", c.objs.NetctlIngress},
	}
	for _, p := range progs {
		for _, shape := range benchShapes() {
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
