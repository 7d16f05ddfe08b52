package probe

import "testing"

// Flows that differ only in a port (a client's connections) must spread over the cache,
// or they would share slots and go to the hash: FlowCacheSlots of them take at least as
// many slots as that many random keys would (1 - 1/e of them, less a margin).
func TestFlowCacheSlotSpreads(t *testing.T) {
	for _, fam := range []uint8{4, 6} {
		used := map[uint32]bool{}
		for p := range FlowCacheSlots {
			k := v4Key(protoTCP, uint16(32768+p), 443)
			if fam == 6 {
				k = v6Key(protoTCP, uint16(32768+p), 443)
			}
			k.Ifindex = 7
			s := flowCacheSlot(k)
			if s >= FlowCacheSlots {
				t.Fatalf("slot %d of %+v out of range", s, k)
			}
			used[s] = true
		}
		if want := FlowCacheSlots * 59 / 100; len(used) < want {
			t.Errorf("IPv%d: %d flows differing in the source port took %d slots, want ≥ %d", fam, FlowCacheSlots, len(used), want)
		}
	}
}
