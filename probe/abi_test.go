//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package probe

import (
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// These tests read the embedded object (no kernel needed) and fail when the C side
// and the Go side drift apart.

// Compile-time: the generated enum values are the Go constants.
var (
	_ = [1]struct{}{}[Ingress-Direction(netctlNcDirectionNC_DIR_INGRESS)]
	_ = [1]struct{}{}[Egress-Direction(netctlNcDirectionNC_DIR_EGRESS)]
)

func TestDirectionMatchesC(t *testing.T) {
	spec := mustSpec(t)
	var enum *btf.Enum
	if err := spec.Types.TypeByName("nc_direction", &enum); err != nil {
		t.Fatalf("enum nc_direction in object: %v", err)
	}
	want := map[string]Direction{"NC_DIR_INGRESS": Ingress, "NC_DIR_EGRESS": Egress}
	if len(enum.Values) != len(want) {
		t.Errorf("enum nc_direction has %d values, Go knows %d", len(enum.Values), len(want))
	}
	for _, v := range enum.Values {
		d, ok := want[v.Name]
		if !ok {
			t.Errorf("enum value %s has no Go Direction", v.Name)
			continue
		}
		if uint64(d) != v.Value {
			t.Errorf("%s = %d in C, %d (%v) in Go", v.Name, v.Value, uint32(d), d)
		}
	}
}

type field struct {
	name   string
	offset btf.Bits
	size   int
}

func TestMapLayoutMatchesGo(t *testing.T) {
	spec := mustSpec(t)
	m := spec.Maps[netctlMapTotals]
	if m == nil {
		t.Fatalf("map %s not in object", netctlMapTotals)
	}
	if m.Type != ebpf.PerCPUHash {
		t.Errorf("map type %v, Read expects %v", m.Type, ebpf.PerCPUHash)
	}
	checkStruct(t, m.Key, "nc_totals_key", binary.Size(Key{}), []field{{"ifindex", 0, 4}, {"direction", 32, 4}})
	checkStruct(t, m.Value, "nc_totals_value", binary.Size(Totals{}), []field{{"packets", 0, 8}, {"bytes", 64, 8}})
	if int(m.KeySize) != binary.Size(Key{}) || int(m.ValueSize) != binary.Size(Totals{}) {
		t.Errorf("map key/value size %d/%d, Go Key/Totals %d/%d", m.KeySize, m.ValueSize, binary.Size(Key{}), binary.Size(Totals{}))
	}
	// The generated types (used by nothing but this check) agree too.
	if binary.Size(netctlNcTotalsKey{}) != binary.Size(Key{}) || binary.Size(netctlNcTotalsValue{}) != binary.Size(Totals{}) {
		t.Errorf("generated key/value sizes %d/%d differ from Key/Totals %d/%d",
			binary.Size(netctlNcTotalsKey{}), binary.Size(netctlNcTotalsValue{}), binary.Size(Key{}), binary.Size(Totals{}))
	}
}

func TestProgramsAreSchedCLS(t *testing.T) {
	spec := mustSpec(t)
	for _, name := range []string{netctlProgNetctlIngress, netctlProgNetctlEgress, netctlProgEmpty} {
		p := spec.Programs[name]
		if p == nil {
			t.Errorf("program %s not in object", name)
			continue
		}
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

func mustSpec(t *testing.T) *ebpf.CollectionSpec {
	t.Helper()
	spec, err := loadNetctl()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func checkStruct(t *testing.T, typ btf.Type, name string, goSize int, want []field) {
	t.Helper()
	s, ok := btf.UnderlyingType(typ).(*btf.Struct)
	if !ok {
		t.Fatalf("%s: BTF type %v is not a struct", name, typ)
	}
	if s.Name != name {
		t.Errorf("struct is %q, want %q", s.Name, name)
	}
	if int(s.Size) != goSize {
		t.Errorf("struct %s is %d bytes in C, %d in Go", name, s.Size, goSize)
	}
	if len(s.Members) != len(want) {
		t.Fatalf("struct %s has %d members, want %d", name, len(s.Members), len(want))
	}
	for i, m := range s.Members {
		size, err := btf.Sizeof(m.Type)
		if err != nil {
			t.Fatalf("size of %s.%s: %v", name, m.Name, err)
		}
		if got := (field{m.Name, m.Offset, size}); got != want[i] {
			t.Errorf("struct %s member %d = %+v, want %+v", name, i, got, want[i])
		}
	}
}
