//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package probe

import (
	"go/build"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/netctl/netctl/probe/internal/benchprog"
)

// These tests read the embedded objects (no kernel needed) and fail when the C side
// (bpf/netctl.h, as compiled into the object's BTF) and the Go side (types.go) drift
// apart: every struct member's name, offset and size, every enum value, and the maps'
// types and sizes.

// Compile-time: the generated enum values are the Go constants.
var (
	_ = [1]struct{}{}[Ingress-Direction(netctlNcDirectionNC_DIR_INGRESS)]
	_ = [1]struct{}{}[Egress-Direction(netctlNcDirectionNC_DIR_EGRESS)]
	_ = [1]struct{}{}[StatFlowInsertFailed-Stat(netctlNcStatNC_STAT_FLOW_INSERT_FAILED)]
	_ = [1]struct{}{}[StatNotParsed-Stat(netctlNcStatNC_STAT_NOT_PARSED)]
	_ = [1]struct{}{}[NumStats-int(netctlNcStatNC_STAT_MAX)]
)

func TestEnumsMatchC(t *testing.T) {
	spec := mustSpec(t)
	checkEnum(t, spec, "nc_direction", map[string]uint64{
		"NC_DIR_INGRESS": uint64(Ingress),
		"NC_DIR_EGRESS":  uint64(Egress),
	})
	checkEnum(t, spec, "nc_stat", map[string]uint64{
		"NC_STAT_FLOW_INSERT_FAILED": uint64(StatFlowInsertFailed),
		"NC_STAT_NOT_PARSED":         uint64(StatNotParsed),
		"NC_STAT_MAX":                NumStats,
	})
}

func checkEnum(t *testing.T, spec *ebpf.CollectionSpec, name string, want map[string]uint64) {
	t.Helper()
	var enum *btf.Enum
	if err := spec.Types.TypeByName(name, &enum); err != nil {
		t.Fatalf("enum %s in object: %v", name, err)
	}
	if len(enum.Values) != len(want) {
		t.Errorf("enum %s has %d values, Go knows %d", name, len(enum.Values), len(want))
	}
	for _, v := range enum.Values {
		w, ok := want[v.Name]
		if !ok {
			t.Errorf("enum %s value %s has no Go constant", name, v.Name)
			continue
		}
		if w != v.Value {
			t.Errorf("%s = %d in C, %d in Go", v.Name, v.Value, w)
		}
	}
}

// member pairs a C struct member with the Go field that mirrors it.
type member struct{ c, goName string }

func TestStructsMatchC(t *testing.T) {
	spec := mustSpec(t)
	for _, s := range []struct {
		c       string
		goType  any
		gen     any // the bpf2go-generated type, which must agree too
		members []member
	}{
		{"nc_totals_key", TotalsKey{}, netctlNcTotalsKey{}, []member{{"ifindex", "Ifindex"}, {"direction", "Dir"}}},
		{"nc_totals_value", Totals{}, netctlNcTotalsValue{}, []member{{"packets", "Packets"}, {"bytes", "Bytes"}}},
		{"nc_flow_key", FlowKey{}, netctlNcFlowKey{}, []member{
			{"ifindex", "Ifindex"}, {"direction", "Dir"}, {"proto", "Proto"}, {"family", "Family"}, {"pad", "Pad"},
			{"sport", "Sport"}, {"dport", "Dport"}, {"saddr", "Saddr"}, {"daddr", "Daddr"},
		}},
		{"nc_flow_slot", FlowSlot{}, netctlNcFlowSlot{}, []member{{"gen_done", "GenDone"}, {"key", "Key"}, {"tick", "Tick"}, {"value", "Value"}, {"gen_begun", "GenBegun"}}},
		{"nc_rx_port", RxPort{}, netctlNcRxPort{}, []member{{"mac", "MAC"}, {"check", "Check"}, {"pad", "Pad"}, {"bridge", "Bridge"}}},
		{"nc_flood_key", FloodKey{}, netctlNcFloodKey{}, []member{{"bridge", "Bridge"}, {"mac", "MAC"}, {"pad", "Pad"}}},
		{"nc_flood_value", FloodValue{}, netctlNcFloodValue{}, []member{{"packets", "Packets"}, {"bytes", "Bytes"}, {"last_seen_ns", "LastSeenNs"}}},
		{"nc_flow_value", FlowValue{}, netctlNcFlowValue{}, []member{
			{"packets", "Packets"}, {"bytes", "Bytes"}, {"first_seen_ns", "FirstSeenNs"}, {"last_seen_ns", "LastSeenNs"},
			{"tcp_flags", "TCPFlags"}, {"flags", "Flags"}, {"pad", "Pad"},
		}},
	} {
		t.Run(s.c, func(t *testing.T) {
			var st *btf.Struct
			if err := spec.Types.TypeByName(s.c, &st); err != nil {
				t.Fatalf("struct %s in object: %v", s.c, err)
			}
			checkStruct(t, st, reflect.TypeOf(s.goType), s.members)
			checkSameLayout(t, reflect.TypeOf(s.goType), reflect.TypeOf(s.gen))
		})
	}
}

// checkStruct compares a BTF struct with a Go struct: size, and for each member in
// order its name, offset and size.
func checkStruct(t *testing.T, st *btf.Struct, g reflect.Type, members []member) {
	t.Helper()
	if int(st.Size) != int(g.Size()) {
		t.Errorf("struct %s is %d bytes in C, %s is %d in Go", st.Name, st.Size, g.Name(), g.Size())
	}
	fields := goFields(g)
	if len(st.Members) != len(members) || len(fields) != len(members) {
		t.Fatalf("struct %s has %d members, Go %s %d fields, the test knows %d", st.Name, len(st.Members), g.Name(), len(fields), len(members))
	}
	for i, m := range st.Members {
		f := fields[i]
		size, err := btf.Sizeof(m.Type)
		if err != nil {
			t.Fatalf("size of %s.%s: %v", st.Name, m.Name, err)
		}
		if m.Name != members[i].c || f.Name != members[i].goName {
			t.Errorf("member %d: %s.%s mirrored by %s.%s, want %s and %s", i, st.Name, m.Name, g.Name(), f.Name, members[i].c, members[i].goName)
		}
		if m.BitfieldSize != 0 || m.Offset%8 != 0 {
			t.Errorf("%s.%s is a bit field, Go cannot mirror it", st.Name, m.Name)
		}
		if int(m.Offset/8) != int(f.Offset) || size != int(f.Type.Size()) {
			t.Errorf("%s.%s at %d, %d bytes; Go %s.%s at %d, %d bytes", st.Name, m.Name, m.Offset/8, size, g.Name(), f.Name, f.Offset, f.Type.Size())
		}
	}
}

// checkSameLayout compares two Go structs field by field (offsets and sizes).
func checkSameLayout(t *testing.T, a, b reflect.Type) {
	t.Helper()
	fa, fb := goFields(a), goFields(b)
	if a.Size() != b.Size() || len(fa) != len(fb) {
		t.Fatalf("%s (%d bytes, %d fields) and generated %s (%d bytes, %d fields) differ", a.Name(), a.Size(), len(fa), b.Name(), b.Size(), len(fb))
	}
	for i := range fa {
		if fa[i].Offset != fb[i].Offset || fa[i].Type.Size() != fb[i].Type.Size() {
			t.Errorf("%s.%s (at %d, %d bytes) and generated %s.%s (at %d, %d bytes) differ",
				a.Name(), fa[i].Name, fa[i].Offset, fa[i].Type.Size(), b.Name(), fb[i].Name, fb[i].Offset, fb[i].Type.Size())
		}
	}
}

// goFields lists a struct's fields but the zero-sized markers bpf2go adds
// (structs.HostLayout).
func goFields(g reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := range g.NumField() {
		if f := g.Field(i); f.Type.Size() != 0 {
			out = append(out, f)
		}
	}
	return out
}

func TestMapsMatchGo(t *testing.T) {
	spec := mustSpec(t)
	for _, m := range []struct {
		name       string
		typ        ebpf.MapType
		key, value any
		maxEntries uint32 // 0: not checked
	}{
		{netctlMapTotalsByIndex, ebpf.PerCPUArray, uint32(0), Totals{}, 2 * TotalsArrayIfindexes},
		{netctlMapTotals, ebpf.PerCPUHash, TotalsKey{}, Totals{}, 0},
		// The product reads flows as per-CPU values (FlowValue per CPU).
		{netctlMapFlows, ebpf.LRUCPUHash, FlowKey{}, FlowValue{}, DefaultFlowEntries},
		// Read before flows and merged with it (eachEntry), per-CPU values.
		{netctlMapFlowCache, ebpf.PerCPUArray, uint32(0), FlowSlot{}, FlowCacheSlots},
		{netctlMapStats, ebpf.PerCPUArray, uint32(0), uint64(0), NumStats},
		// Written by probe at attach (putRxPort), read by the programs (bpf/flood.h).
		{netctlMapRxPortsByIndex, ebpf.Array, uint32(0), RxPort{}, TotalsArrayIfindexes},
		{netctlMapRxPorts, ebpf.Hash, uint32(0), RxPort{}, 0},
		// Read per port (readFloodedPort) and whole (readFloodedMACs), per-CPU values.
		{netctlMapFloodedByIndex, ebpf.PerCPUArray, uint32(0), Totals{}, TotalsArrayIfindexes},
		{netctlMapFlooded, ebpf.PerCPUHash, uint32(0), Totals{}, 0},
		{netctlMapFloodedMacs, ebpf.LRUCPUHash, FloodKey{}, FloodValue{}, 0},
	} {
		ms := spec.Maps[m.name]
		if ms == nil {
			t.Errorf("map %s not in object", m.name)
			continue
		}
		if ms.Type != m.typ {
			t.Errorf("map %s is %v, Go reads it as %v", m.name, ms.Type, m.typ)
		}
		if k, v := reflect.TypeOf(m.key).Size(), reflect.TypeOf(m.value).Size(); int(ms.KeySize) != int(k) || int(ms.ValueSize) != int(v) {
			t.Errorf("map %s key/value %d/%d bytes, Go %T/%T %d/%d", m.name, ms.KeySize, ms.ValueSize, m.key, m.value, k, v)
		}
		if m.maxEntries != 0 && ms.MaxEntries != m.maxEntries {
			t.Errorf("map %s has %d entries, want %d", m.name, ms.MaxEntries, m.maxEntries)
		}
	}
	n := 0
	for name := range spec.Maps {
		if !strings.HasPrefix(name, ".") { // .rodata: the load-time constants
			n++
		}
	}
	if n != 10 {
		t.Errorf("object has %d maps, want 10 (totals_by_index, totals, flows, flow_cache, stats, rx_ports_by_index, rx_ports, flooded_by_index, flooded, flooded_macs): %v", n, spec.Maps)
	}
}

// The benchmark object is built from the same headers: its shared maps match too.
func TestBenchObjectMatches(t *testing.T) {
	spec, bench := mustSpec(t), mustBenchSpec(t)
	for _, name := range []string{netctlMapTotalsByIndex, netctlMapTotals, netctlMapStats} {
		a, b := spec.Maps[name], bench.Maps[name]
		if b == nil || a.Type != b.Type || a.KeySize != b.KeySize || a.ValueSize != b.ValueSize || a.MaxEntries != b.MaxEntries {
			t.Errorf("map %s: product %+v, benchmark %+v", name, a, b)
		}
	}
	for name, m := range bench.Maps {
		if m.Type == ebpf.Hash || m.Type == ebpf.LRUHash || m.Type == ebpf.PerCPUHash || m.Type == ebpf.LRUCPUHash {
			if name != netctlMapTotals && (m.KeySize != spec.Maps[netctlMapFlows].KeySize || m.ValueSize != spec.Maps[netctlMapFlows].ValueSize || m.MaxEntries != spec.Maps[netctlMapFlows].MaxEntries) {
				t.Errorf("benchmark flow map %s (%d/%d bytes, %d entries) differs from flows", name, m.KeySize, m.ValueSize, m.MaxEntries)
			}
		}
	}
}

// TestProgramsAreSchedCLS wants the product's object to hold its two programs and
// nothing else (benchmark-only programs belong in bpf/bench.c), and every program of
// both objects to be a tc program.
func TestProgramsAreSchedCLS(t *testing.T) {
	spec := mustSpec(t)
	for _, name := range []string{netctlProgNetctlIngress, netctlProgNetctlEgress} {
		if spec.Programs[name] == nil {
			t.Errorf("program %s not in object", name)
		}
	}
	if n := len(spec.Programs); n != 2 {
		t.Errorf("object has %d programs, want 2 (benchmark-only programs belong in bpf/bench.c)", n)
	}
	bench := mustBenchSpec(t)
	if bench.Programs[benchprog.BenchProgEmpty] == nil {
		t.Errorf("program %s not in the benchmark object", benchprog.BenchProgEmpty)
	}
	for _, s := range []*ebpf.CollectionSpec{spec, bench} {
		for name, p := range s.Programs {
			if p.Type != ebpf.SchedCLS {
				t.Errorf("program %s is %v, want SchedCLS", name, p.Type)
			}
			// Both TCX and legacy tc accept a program with no expected attach type.
			if p.AttachType != ebpf.AttachNone {
				t.Errorf("program %s expects attach type %v, want none (section \"tc\")", name, p.AttachType)
			}
			if p.License != "Dual MIT/GPL" {
				t.Errorf("program %s license %q", name, p.License)
			}
		}
	}
}

// TestProductLeavesBenchObjectOut wants no non-test file of probe to import the
// benchmark programs: then no product binary embeds them (only probe may import its
// internal packages).
func TestProductLeavesBenchObjectOut(t *testing.T) {
	ctx := build.Default
	ctx.UseAllFiles = true // whatever the build constraints
	pkg, err := ctx.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	const bench = "github.com/netctl/netctl/probe/internal/benchprog"
	if slices.Contains(pkg.Imports, bench) {
		t.Errorf("probe imports %s outside its tests: the product would embed the benchmark programs", bench)
	}
	if !slices.Contains(pkg.TestImports, bench) {
		t.Errorf("probe's tests do not import %s: is this test looking at the right package? imports %v", bench, pkg.TestImports)
	}
}

func mustSpec(t *testing.T) *ebpf.CollectionSpec {
	t.Helper()
	spec, err := loadNetctl()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func mustBenchSpec(t *testing.T) *ebpf.CollectionSpec {
	t.Helper()
	spec, err := benchprog.LoadBench()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}
