//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// FuzzPrograms runs the programs on arbitrary frames. Whatever the bytes, the verdict
// is TCX_NEXT, the totals move by exactly one packet and the frame's length, and the
// frame makes the flow (or no flow, or a not-parsed count) that the Go reference
// parser (refParse) says, under the key it says. The seeds (every frame of
// parseCases, and testdata/fuzz/FuzzPrograms) run with every `go test`; to fuzz:
//
//	go test -run '^$' -fuzz FuzzPrograms -fuzztime 60s ./probe/
func FuzzPrograms(f *testing.F) {
	for _, c := range parseCases() {
		f.Add(c.frame)
	}
	objs := mustLoadObjs(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < ethHdrLen {
			return // BPF_PROG_TEST_RUN wants at least an Ethernet header
		}
		dir, prog := Ingress, objs.NetctlIngress
		if len(frame)%2 == 1 {
			dir, prog = Egress, objs.NetctlEgress
		}
		clearFlows(t, objs)

		before := readState(t, objs)
		ret, err := prog.Run(&ebpf.RunOptions{Data: frame, Repeat: 1})
		if errors.Is(err, unix.EINVAL) {
			// The test run refuses an IPv4 or IPv6 frame shorter than its IP
			// header; then nothing may have run.
			if after := readState(t, objs); !mapStateEqual(before, after) {
				t.Fatalf("refused run changed the maps: before %+v, after %+v", before, after)
			}
			return
		}
		if err != nil {
			t.Fatalf("run %v program on %x: %v", dir, frame, err)
		}
		after := readState(t, objs)
		if int32(ret) != tcxNext {
			t.Errorf("verdict %d, want %d (TCX_NEXT)", int32(ret), tcxNext)
		}
		tk := TotalsKey{Ifindex: testRunIfindex, Dir: dir}
		if got, want := delta(before.totals[tk], after.totals[tk]), (Totals{Packets: 1, Bytes: uint64(len(frame))}); got != want {
			t.Errorf("totals moved by %+v, want %+v", got, want)
		}
		for k, v := range after.totals {
			if k != tk && before.totals[k] != v {
				t.Errorf("totals %+v moved from %+v to %+v", k, before.totals[k], v)
			}
		}

		key, flags, res := refParse(frame, testRunIfindex, dir)
		if d := after.stats[StatNotParsed] - before.stats[StatNotParsed]; d != uint64(b2i(res == parsedFailed)) {
			t.Errorf("stats[not_parsed] moved by %d; reference parser: %s", d, res)
		}
		if d := after.stats[StatFlowInsertFailed] - before.stats[StatFlowInsertFailed]; d != 0 {
			t.Errorf("stats[flow_insert_failed] moved by %d", d)
		}
		if res != parsedFlow {
			if len(after.flows) != 0 {
				t.Errorf("flows %+v for a frame the reference parser calls %s", after.flows, res)
			}
			return
		}
		got, ok := after.flows[key]
		if !ok || len(after.flows) != 1 {
			t.Fatalf("flows %+v, reference parser wants only %+v", after.flows, key)
		}
		if got.Packets != 1 || got.Bytes != uint64(len(frame)) || got.TCPFlags != flags {
			t.Errorf("flow value %+v, want 1 packet, %d bytes, flags %#x", got, len(frame), flags)
		}
	})
}

// clearFlows deletes every flow, from the flows hash and the flow cache, so each fuzz
// input starts with none.
func clearFlows(t *testing.T, objs *netctlObjects) {
	t.Helper()
	clearFlowCache(t, objs.FlowCache)
	m := objs.Flows
	var (
		k    FlowKey
		v    []FlowValue
		keys []FlowKey
	)
	it := m.Iterate()
	for it.Next(&k, &v) {
		keys = append(keys, k)
	}
	if err := it.Err(); err != nil {
		t.Fatalf("list flows: %v", err)
	}
	for i := range keys {
		if err := m.Delete(&keys[i]); err != nil {
			t.Fatalf("delete flow %+v: %v", keys[i], err)
		}
	}
}

// clearFlowCache empties every slot of the flow cache on every CPU (nothing else may
// run the programs meanwhile).
func clearFlowCache(t testing.TB, m *ebpf.Map) {
	t.Helper()
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	empty := make([]FlowSlot, ncpu)
	for i := range m.MaxEntries() {
		if err := m.Put(i, empty); err != nil {
			t.Fatalf("clear flow cache slot %d: %v", i, err)
		}
	}
}

func mapStateEqual(a, b mapState) bool {
	if len(a.totals) != len(b.totals) || len(a.flows) != len(b.flows) || a.stats != b.stats {
		return false
	}
	for k, v := range a.totals {
		if b.totals[k] != v {
			return false
		}
	}
	for k, v := range a.flows {
		if b.flows[k] != v {
			return false
		}
	}
	return true
}
