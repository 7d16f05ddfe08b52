//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/netctl/netctl/internal/nstest"
)

// tcxNext is what every program must return: run the next program, fate unchanged.
const tcxNext = -1

// testRunIfindex is the ifindex a SchedCLS program sees under BPF_PROG_TEST_RUN when
// no context is given: the kernel hands it an skb on the loopback device of the
// caller's namespace, which is always ifindex 1.
const testRunIfindex = 1

func mustLoad(t testing.TB) *Counter {
	t.Helper()
	nstest.RequireRoot(t)
	c, err := Load()
	if err != nil {
		t.Fatalf("%+v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func TestProgramsCountEveryFrame(t *testing.T) {
	c := mustLoad(t)
	progs := []struct {
		dir  Direction
		prog *ebpf.Program
	}{
		{Ingress, c.objs.NetctlIngress},
		{Egress, c.objs.NetctlEgress},
	}
	for _, p := range progs {
		for _, shape := range runShapes() {
			t.Run(p.dir.String()+"/"+shape.name, func(t *testing.T) {
				before := mustRead(t, c)
				ret, err := p.prog.Run(&ebpf.RunOptions{Data: shape.frame, Repeat: 1})
				if err != nil {
					t.Fatalf("run %v program on %s: %v", p.dir, shape.name, err)
				}
				if int32(ret) != tcxNext {
					t.Errorf("verdict %d, want %d (TCX_NEXT)", int32(ret), tcxNext)
				}
				after := mustRead(t, c)

				key := Key{Ifindex: testRunIfindex, Dir: p.dir}
				wantDelta := Totals{Packets: 1, Bytes: uint64(len(shape.frame))}
				if got := delta(before[key], after[key]); got != wantDelta {
					t.Errorf("counter %+v moved by %+v, want %+v", key, got, wantDelta)
				}
				// Nothing else moved.
				delete(before, key)
				delete(after, key)
				if !maps.Equal(before, after) {
					t.Errorf("other counters changed: before %v, after %v", before, after)
				}
			})
		}
	}
}

func TestEmptyProgramReturnsNext(t *testing.T) {
	c := mustLoad(t)
	for _, shape := range runShapes() {
		ret, err := c.objs.Empty.Run(&ebpf.RunOptions{Data: shape.frame, Repeat: 1})
		if err != nil {
			t.Fatalf("run empty program on %s: %v", shape.name, err)
		}
		if int32(ret) != tcxNext {
			t.Errorf("%s: verdict %d, want %d", shape.name, int32(ret), tcxNext)
		}
	}
	if got := mustRead(t, c); len(got) != 0 {
		t.Errorf("empty program touched the counters: %v", got)
	}
}

func TestRepeatedRunsAccumulate(t *testing.T) {
	c := mustLoad(t)
	frame := runShapes()[0].frame
	const n = 1000
	ret, err := c.objs.NetctlEgress.Run(&ebpf.RunOptions{Data: frame, Repeat: n})
	if err != nil {
		t.Fatalf("run egress program %d times: %v", n, err)
	}
	if int32(ret) != tcxNext {
		t.Errorf("verdict %d, want %d", int32(ret), tcxNext)
	}
	got := mustRead(t, c)
	want := map[Key]Totals{{Ifindex: testRunIfindex, Dir: Egress}: {Packets: n, Bytes: n * uint64(len(frame))}}
	if !maps.Equal(got, want) {
		t.Errorf("after %d runs counters = %v, want %v", n, got, want)
	}
}

func mustRead(t testing.TB, c *Counter) map[Key]Totals {
	t.Helper()
	m, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func delta(before, after Totals) Totals {
	return Totals{Packets: after.Packets - before.Packets, Bytes: after.Bytes - before.Bytes}
}

func TestVerifierErrorPrintedWhole(t *testing.T) {
	nstest.RequireRoot(t)
	// Reads r2, which is never set: the verifier rejects it.
	_, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.SchedCLS,
		License:      "Dual MIT/GPL",
		Instructions: asm.Instructions{asm.Mov.Reg(asm.R0, asm.R2), asm.Return()},
	})
	var ve *ebpf.VerifierError
	if !errors.As(err, &ve) {
		t.Fatalf("want a verifier error, got %v", err)
	}
	if len(ve.Log) < 2 {
		t.Fatalf("verifier log too short to tell: %q", ve.Log)
	}
	wrapped := fmt.Errorf("load counter programs: %w", withVerifierLog(fmt.Errorf("program bad: %w", err)))
	msg := wrapped.Error()
	if !strings.HasPrefix(msg, "load counter programs: program bad: ") {
		t.Errorf("context lost: %q", msg)
	}
	for _, line := range ve.Log {
		if !strings.Contains(msg, line) {
			t.Errorf("verifier log line %q missing from %q", line, msg)
		}
	}
	t.Log(msg)
	if !errors.Is(wrapped, err) {
		t.Errorf("the verifier error does not unwrap from %q", msg)
	}
}
