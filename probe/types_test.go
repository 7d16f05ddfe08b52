package probe

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FlowKey.Bytes is the key's fields in order, little-endian, with no padding: what
// encoding/binary writes for the struct (whose layout the ABI test ties to C's).
func TestFlowKeyBytes(t *testing.T) {
	k := FlowKey{Ifindex: 0x01020304, Dir: 1, Proto: 6, Family: 6, Pad: 9, Sport: 0x0506, Dport: 0x0708}
	for i := range k.Saddr {
		k.Saddr[i], k.Daddr[i] = byte(0x10+i), byte(0x40+i)
	}
	var want bytes.Buffer
	if err := binary.Write(&want, binary.LittleEndian, k); err != nil {
		t.Fatal(err)
	}
	if got := k.Bytes(); want.Len() != FlowKeySize || !bytes.Equal(got[:], want.Bytes()) {
		t.Errorf("Bytes() = % x, want % x (%d bytes)", got, want.Bytes(), FlowKeySize)
	}
}

func TestSumPerCPU(t *testing.T) {
	tests := []struct {
		name   string
		perCPU []Totals
		want   Totals
	}{
		{"no cpus", nil, Totals{}},
		{"one cpu", []Totals{{Packets: 3, Bytes: 180}}, Totals{Packets: 3, Bytes: 180}},
		{"idle cpus count zero", []Totals{{}, {Packets: 2, Bytes: 3000}, {}}, Totals{Packets: 2, Bytes: 3000}},
		{"all cpus", []Totals{{1, 60}, {2, 120}, {3, 1500}, {4, 64}}, Totals{Packets: 10, Bytes: 1744}},
		{"large values do not lose bits", []Totals{{1 << 40, 1 << 62}, {1, 1}}, Totals{Packets: 1<<40 + 1, Bytes: 1<<62 + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sumPerCPU(tt.perCPU); got != tt.want {
				t.Errorf("sumPerCPU(%v) = %+v, want %+v", tt.perCPU, got, tt.want)
			}
		})
	}
}

func TestDirectionString(t *testing.T) {
	for d, want := range map[Direction]string{Ingress: "ingress", Egress: "egress", 7: "direction(7)"} {
		if got := d.String(); got != want {
			t.Errorf("Direction(%d).String() = %q, want %q", uint32(d), got, want)
		}
	}
}

func TestStatString(t *testing.T) {
	for s, want := range map[Stat]string{StatFlowInsertFailed: "flow_insert_failed", StatNotParsed: "not_parsed", 9: "stat(9)"} {
		if got := s.String(); got != want {
			t.Errorf("Stat(%d).String() = %q, want %q", uint32(s), got, want)
		}
	}
}

func TestCheckFlowEntries(t *testing.T) {
	for _, ok := range []uint32{0, MinFlowEntries, DefaultFlowEntries, MaxFlowEntries} {
		if err := CheckFlowEntries(ok); err != nil {
			t.Errorf("CheckFlowEntries(%d): %v", ok, err)
		}
	}
	for _, bad := range []uint32{1, MinFlowEntries - 1, MaxFlowEntries + 1, 4294967295} {
		if err := CheckFlowEntries(bad); err == nil {
			t.Errorf("CheckFlowEntries(%d) accepted", bad)
		}
	}
}
