package analysis

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"slices"

	"github.com/netctl/netctl/probe"
)

// convKey is Key in fixed-size form, over a Rec.
type convKey struct {
	local, remote [16]byte
	container     uint32
	lport, rport  uint16
	proto         uint8
	v4            bool
	initiator     uint8 // 0: decided from the flows, else initRemote or initLocal
}

const (
	initRemote = 1
	initLocal  = 2
)

// keyOf is KeyOf over a rec.
func keyOf(r *Rec) convKey {
	l, rm, lp, rp := r.Ends()
	k := convKey{local: *l, remote: *rm, container: r.Container, lport: lp, rport: rp, proto: r.Proto, v4: r.V4}
	if probe.IsICMP(r.Proto) {
		k.lport, k.rport = 0, 0
		if request, ok := echo(r.Proto, r.SrcPort); ok {
			k.lport, k.rport = r.DstPort, r.DstPort // the identifier
			if request == r.Receive {
				k.initiator = initRemote
			} else {
				k.initiator = initLocal
			}
		}
	}
	return k
}

// hash returns k's 64-bit hash, with no allocation.
func (k *convKey) hash(seed maphash.Seed) uint64 {
	var b [44]byte
	copy(b[0:16], k.local[:])
	copy(b[16:32], k.remote[:])
	binary.LittleEndian.PutUint32(b[32:], k.container)
	binary.LittleEndian.PutUint16(b[36:], k.lport)
	binary.LittleEndian.PutUint16(b[38:], k.rport)
	b[40], b[41] = k.proto, k.initiator
	if k.v4 {
		b[42] = 1
	}
	return maphash.Bytes(seed, b[:])
}

// Grouper groups recs by conversation (keyOf) in time and memory linear in the recs,
// reusing its memory from one call to the next: an open-addressing table of 8-byte
// slots (a hash tag and the last rec of a conversation), about 4/3 of them per rec, and
// one chain link per rec. The zero value is ready. With ByRemote it groups by keyOf
// without the local address: a container's flows with one remote endpoint and local
// port, whichever of its addresses they use (the wrong-source replies' grouping).
type Grouper struct {
	ByRemote bool
	seed     maphash.Seed
	seeded   bool
	slots    []uint64 // tag<<32 | last rec+1 of the conversation; 0: empty
	prev     []int32  // the conversation's rec before this one, -1: first
	members  []int32
}

// Each calls fn once per conversation of recs with the indexes of its recs, ascending;
// the slice is reused after fn returns. Conversations come in no particular order.
func (g *Grouper) Each(recs []Rec, fn func(members []int32)) {
	if !g.seeded {
		g.seed, g.seeded = maphash.MakeSeed(), true
	}
	size := max(16, len(recs)+len(recs)/3)
	if cap(g.slots) < size {
		g.slots = make([]uint64, size)
	}
	g.slots = g.slots[:size]
	clear(g.slots)
	if cap(g.prev) < len(recs) {
		g.prev = make([]int32, len(recs))
	}
	g.prev = g.prev[:len(recs)]
	for i := range recs {
		k := g.key(&recs[i])
		h := k.hash(g.seed)
		tag := h >> 32
		j, _ := bits.Mul64(h, uint64(size))
		for {
			s := g.slots[j]
			if s == 0 {
				g.prev[i] = -1
				break
			}
			if last := int32(uint32(s)) - 1; s>>32 == tag && g.key(&recs[last]) == k {
				g.prev[i] = last
				break
			}
			if j++; j == uint64(size) {
				j = 0
			}
		}
		g.slots[j] = tag<<32 | uint64(i+1)
	}
	for _, s := range g.slots {
		if s == 0 {
			continue
		}
		g.members = g.members[:0]
		for i := int32(uint32(s)) - 1; i >= 0; i = g.prev[i] {
			g.members = append(g.members, i)
		}
		slices.Reverse(g.members)
		fn(g.members)
	}
}

// key is what g groups r by.
func (g *Grouper) key(r *Rec) convKey {
	k := keyOf(r)
	if g.ByRemote {
		k.local = [16]byte{}
	}
	return k
}
