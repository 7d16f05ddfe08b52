//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nstest"
)

// tcxNext is what every program must return: run the next program, fate unchanged.
const tcxNext = -1

// testRunIfindex is the ifindex a SchedCLS program sees under BPF_PROG_TEST_RUN when
// no context is given: the kernel hands it an skb on the loopback device of the
// caller's namespace, which is always ifindex 1.
const testRunIfindex = 1

// mustLoadObjs loads the programs and maps straight from the generated object, for
// tests of the programs themselves.
func mustLoadObjs(t testing.TB) *netctlObjects {
	t.Helper()
	nstest.RequireRoot(t)
	var objs netctlObjects
	if err := loadNetctlObjects(&objs, nil); err != nil {
		t.Fatalf("load programs: %+v", err)
	}
	t.Cleanup(func() {
		if err := objs.Close(); err != nil {
			t.Error(err)
		}
	})
	return &objs
}

// mapState is everything the programs write: totals, flows (per-CPU values merged as
// the product merges them) and stats.
type mapState struct {
	totals      map[TotalsKey]Totals
	flows       map[FlowKey]RawFlow
	stats       [NumStats]uint64
	flooded     Totals              // frames flooded to testRunIfindex
	floodedMACs map[FloodKey]Totals // flooded frames by bridge and destination
}

func readState(t testing.TB, objs *netctlObjects) mapState {
	t.Helper()
	s := mapState{flows: map[FlowKey]RawFlow{}}
	var err error
	if s.totals, err = readTotals(objs.TotalsByIndex, objs.Totals); err != nil {
		t.Fatal(err)
	}
	// The keys as the program wrote them, every byte, with the values merged from the
	// flow cache and the flows hash as the product's reader merges them.
	if _, err := eachEntry(context.Background(), []mapRefs{{flows: objs.Flows, cache: objs.FlowCache}}, func(e *Entry) {
		s.flows[e.Key] = rawFlowOf(e)
	}); err != nil {
		t.Fatalf("read flows: %v", err)
	}
	if s.flooded, err = readFloodedPort(objs.FloodedByIndex, objs.Flooded, testRunIfindex); err != nil {
		t.Fatal(err)
	}
	macs, err := readFloodedMACs(objs.FloodedMacs, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.floodedMACs = map[FloodKey]Totals{}
	for _, m := range macs {
		s.floodedMACs[FloodKey{Bridge: uint32(m.Bridge), MAC: m.MAC}] = m.Totals
	}
	for i := range s.stats {
		var per []uint64
		if err := objs.Stats.Lookup(uint32(i), &per); err != nil {
			t.Fatalf("read stat %v: %v", Stat(i), err)
		}
		for _, v := range per {
			s.stats[i] += v
		}
	}
	return s
}

// readTotals reads both totals maps, the array (slot = ifindex*2+direction, zero slots
// left out) and the hash, into one map, per-CPU copies summed.
func readTotals(byIndex, hash *ebpf.Map) (map[TotalsKey]Totals, error) {
	raw, err := readTotalsArray(mapRefs{totalsIdx: byIndex}, nil)
	if err != nil {
		return nil, err
	}
	out := make(map[TotalsKey]Totals)
	for _, r := range raw {
		out[TotalsKey{Ifindex: uint32(r.Ifindex), Dir: r.Dir}] = r.Totals
	}
	var (
		key    TotalsKey
		perCPU []Totals
	)
	it := hash.Iterate()
	for it.Next(&key, &perCPU) {
		out[key] = sumPerCPU(perCPU)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read totals: %w", err)
	}
	return out, nil
}

func coarseNow(t testing.TB) uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC_COARSE, &ts); err != nil {
		t.Fatal(err)
	}
	return uint64(ts.Nano())
}

// runOnce runs prog on frame once and checks what every run must do: verdict
// TCX_NEXT, totals of (testRunIfindex, dir) up by exactly 1 packet and len(frame)
// bytes, no other totals touched, no insert failed. It returns the state before and
// after.
func runOnce(t testing.TB, objs *netctlObjects, prog *ebpf.Program, dir Direction, frame []byte) (before, after mapState) {
	t.Helper()
	before = readState(t, objs)
	ret, err := prog.Run(&ebpf.RunOptions{Data: frame, Repeat: 1})
	if err != nil {
		t.Fatalf("run %v program on %d bytes: %v", dir, len(frame), err)
	}
	after = readState(t, objs)
	if int32(ret) != tcxNext {
		t.Errorf("verdict %d, want %d (TCX_NEXT)", int32(ret), tcxNext)
	}
	key := TotalsKey{Ifindex: testRunIfindex, Dir: dir}
	if got, want := delta(before.totals[key], after.totals[key]), (Totals{Packets: 1, Bytes: uint64(len(frame))}); got != want {
		t.Errorf("totals %+v moved by %+v, want %+v", key, got, want)
	}
	for k, v := range after.totals {
		if k != key && before.totals[k] != v {
			t.Errorf("totals %+v moved from %+v to %+v", k, before.totals[k], v)
		}
	}
	if d := after.stats[StatFlowInsertFailed] - before.stats[StatFlowInsertFailed]; d != 0 {
		t.Errorf("flow inserts failed: %d", d)
	}
	return before, after
}

// changedFlows returns the flows whose value changed, with the change.
func changedFlows(before, after mapState) map[FlowKey]RawFlow {
	out := map[FlowKey]RawFlow{}
	for k, a := range after.flows {
		b := before.flows[k]
		if a != b {
			d := a
			d.Packets, d.Bytes, d.TCPFlags = a.Packets-b.Packets, a.Bytes-b.Bytes, a.TCPFlags&^b.TCPFlags
			d.SynNoAck = a.SynNoAck && !b.SynNoAck
			out[k] = d
		}
	}
	return out
}

// TestProgramsParseTable runs both programs on every frame of parseCases and wants
// exactly the totals, flow and stats changes the table says.
func TestProgramsParseTable(t *testing.T) {
	objs := mustLoadObjs(t)
	for _, p := range []struct {
		dir  Direction
		prog *ebpf.Program
	}{{Ingress, objs.NetctlIngress}, {Egress, objs.NetctlEgress}} {
		for _, c := range parseCases() {
			t.Run(p.dir.String()+"/"+c.name, func(t *testing.T) {
				t0 := coarseNow(t)
				before, after := runOnce(t, objs, p.prog, p.dir, c.frame)
				t1 := coarseNow(t)

				notParsed := after.stats[StatNotParsed] - before.stats[StatNotParsed]
				if want := uint64(b2i(c.want == parsedFailed)); notParsed != want {
					t.Errorf("stats[not_parsed] moved by %d, want %d", notParsed, want)
				}
				changed := changedFlows(before, after)
				if c.want != parsedFlow {
					if len(changed) != 0 {
						t.Errorf("%s frame changed flows: %+v", c.want, changed)
					}
					return
				}
				want := c.key
				want.Ifindex, want.Dir = testRunIfindex, uint8(p.dir)
				got, ok := changed[want]
				if !ok || len(changed) != 1 {
					t.Fatalf("flows changed: %+v, want only %+v", changed, want)
				}
				if got.Packets != 1 || got.Bytes != uint64(len(c.frame)) {
					t.Errorf("flow moved by %d packets %d bytes, want 1 and %d", got.Packets, got.Bytes, len(c.frame))
				}
				if all := after.flows[want].TCPFlags; all != c.flags|before.flows[want].TCPFlags {
					t.Errorf("flow tcp flags %#x, want %#x", all, c.flags|before.flows[want].TCPFlags)
				}
				// The SYN-without-ACK mark is set when a bare SYN creates the flow's copy on
				// the CPU that counts it, only: for a new flow, set by a bare SYN; for one
				// seen before, kept, and set if a bare SYN came on a CPU new to it.
				prev, existed := before.flows[want]
				bareSyn := c.flags&0x12 == 0x02
				wantMark := !existed && bareSyn || existed && prev.SynNoAck
				m := after.flows[want].SynNoAck
				if ok := m == wantMark || existed && bareSyn && m; !ok {
					t.Errorf("flow SYN-without-ACK mark %v, want %v (tcp flags %#x)", m, wantMark, c.flags)
				}
				if got.LastNs < t0 || got.LastNs > t1 || got.FirstNs == 0 || got.FirstNs > got.LastNs {
					t.Errorf("flow first/last seen %d/%d, want first ≤ last within [%d, %d] (coarse monotonic)", got.FirstNs, got.LastNs, t0, t1)
				}
			})
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestProgramsCountEveryFrame runs both programs on every run shape and wants only
// their totals to move, by exactly one packet and its length.
func TestProgramsCountEveryFrame(t *testing.T) {
	objs := mustLoadObjs(t)
	for _, p := range []struct {
		dir  Direction
		prog *ebpf.Program
	}{{Ingress, objs.NetctlIngress}, {Egress, objs.NetctlEgress}} {
		for _, shape := range runShapes() {
			t.Run(p.dir.String()+"/"+shape.name, func(t *testing.T) {
				runOnce(t, objs, p.prog, p.dir, shape.frame)
			})
		}
	}
}

// TestRepeatedRunsAccumulate runs one frame 1000 times: totals and the one flow count
// all of them.
func TestRepeatedRunsAccumulate(t *testing.T) {
	objs := mustLoadObjs(t)
	frame := runShapes()[0].frame
	const n = 1000
	ret, err := objs.NetctlEgress.Run(&ebpf.RunOptions{Data: frame, Repeat: n})
	if err != nil {
		t.Fatalf("run egress program %d times: %v", n, err)
	}
	if int32(ret) != tcxNext {
		t.Errorf("verdict %d, want %d", int32(ret), tcxNext)
	}
	s := readState(t, objs)
	want := map[TotalsKey]Totals{{Ifindex: testRunIfindex, Dir: Egress}: {Packets: n, Bytes: n * uint64(len(frame))}}
	if !maps.Equal(s.totals, want) {
		t.Errorf("after %d runs totals = %v, want %v", n, s.totals, want)
	}
	key, _, _ := refParse(frame, testRunIfindex, Egress)
	if len(s.flows) != 1 || s.flows[key].Packets != n || s.flows[key].Bytes != n*uint64(len(frame)) {
		t.Errorf("after %d runs flows = %+v, want %d packets under %+v", n, s.flows, n, key)
	}
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

// setRxPort writes ifindex's rx check into objs' maps.
func setRxPort(t testing.TB, objs *netctlObjects, ifindex int, p RxPort) {
	t.Helper()
	if err := putRxPort(objs.RxPortsByIndex, objs.RxPorts, ifindex, p); err != nil {
		t.Fatal(err)
	}
}
