package probe

import "encoding/binary"

// The flow cache's pure part: where a flow's slot is (bpf/count.h, nc_count_flow_cached).
// How a reader merges a flow's copies is mergeCached (read_linux.go).

// flowCacheBits and flowCacheMult mirror NC_FLOW_CACHE_BITS and NC_FLOW_CACHE_MULT
// (bpf/netctl.h).
const (
	flowCacheBits = 9
	flowCacheMult = 0x9E3779B97F4A7C15
)

// flowCacheSlot is the slot of k in the flow cache, as the programs compute it
// (nc_flow_slot_of): the key's six little-endian 64-bit words (the last one is its final
// 4 bytes, zero-extended) folded by XOR, times flowCacheMult, the top flowCacheBits bits.
func flowCacheSlot(k FlowKey) uint32 {
	var b [48]byte
	kb := k.Bytes()
	copy(b[:], kb[:])
	var h uint64
	for i := 0; i < len(b); i += 8 {
		h ^= binary.LittleEndian.Uint64(b[i:])
	}
	return uint32((h * flowCacheMult) >> (64 - flowCacheBits))
}
