package analysis

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/netctl/netctl/probe"
)

// Grouper.Each finds the same conversations as grouping by the key in a map, members
// ascending, each rec once, whatever the table's clustering; its memory is reused.
func TestGrouper(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var g Grouper
	var recs []Rec
	for _, n := range []int{0, 1, 7, 300, 5000} {
		recs = make([]Rec, n)
		for i := range recs {
			r := &recs[i]
			r.Container, r.Iface = uint32(rng.IntN(3)), uint32(rng.IntN(4))
			r.V4, r.Proto = true, []uint8{probe.ProtoTCP, probe.ProtoUDP, probe.ProtoICMP}[rng.IntN(3)]
			r.Src[0], r.Dst[0] = byte(rng.IntN(4)), byte(rng.IntN(4))
			r.SrcPort, r.DstPort = uint16(rng.IntN(6)), uint16(rng.IntN(6))
			if r.Proto == probe.ProtoICMP {
				r.SrcPort = uint16([]int{0, 8, 3}[rng.IntN(3)]) << 8
			}
			r.Receive = rng.IntN(2) == 0
		}
		want := map[convKey][]int32{}
		for i := range recs {
			k := keyOf(&recs[i])
			want[k] = append(want[k], int32(i))
		}
		seen := map[convKey]bool{}
		g.Each(recs, func(m []int32) {
			k := keyOf(&recs[m[0]])
			if seen[k] {
				t.Fatalf("n=%d: conversation %+v given twice", n, k)
			}
			seen[k] = true
			if !slices.Equal(m, want[k]) {
				t.Fatalf("n=%d: members %v, want %v", n, m, want[k])
			}
		})
		if len(seen) != len(want) {
			t.Errorf("n=%d: %d conversations, want %d", n, len(seen), len(want))
		}
	}
	if allocs := testing.AllocsPerRun(5, func() { g.Each(recs, func([]int32) {}) }); allocs > 0 {
		t.Errorf("Each allocates %v times on reuse", allocs)
	}
}

// Judge: a conversation seen on more interfaces than its inline room is still judged
// (here symmetric: one interface carries both ways), and one spread over many interfaces
// one way each is asymmetric with the busiest named.
func TestJudgeManyInterfaces(t *testing.T) {
	var recs []Rec
	for i := range 12 {
		r := RecOf(fl(c1, fmt.Sprintf("eth%d", i), rx, probe.ProtoUDP, "10.0.0.3", 40000, "172.17.0.2", 53, uint64(100+i), 0, 0), 1, uint32(i))
		recs = append(recs, r)
	}
	out := RecOf(fl(c1, "eth20", tx, probe.ProtoUDP, "172.17.0.2", 53, "10.0.0.3", 40000, 500, 0, 0), 1, 20)
	recs = append(recs, out)
	all := make([]int32, len(recs))
	for i := range all {
		all[i] = int32(i)
	}
	v := Judge(recs, all, 0, 0)
	if !v.Asymmetric || v.In != 11 || v.Out != 20 || v.InBytes != 12*100+66 || v.OutBytes != 500 || v.ServicePort != 53 {
		t.Errorf("verdict %+v", v)
	}
	back := RecOf(fl(c1, "eth3", tx, probe.ProtoUDP, "172.17.0.2", 53, "10.0.0.3", 40000, 10, 0, 0), 1, 3)
	recs = append(recs, back)
	if v := Judge(recs, append(all, int32(len(recs)-1)), 0, 0); v.Asymmetric {
		t.Errorf("eth3 carries both ways, yet asymmetric: %+v", v)
	}
}
