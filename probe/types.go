package probe

import "fmt"

// Direction is the way a packet crosses the interface a program is attached to,
// from that interface's point of view. Values match enum counter_direction in
// bpf/counter.c.
type Direction uint32

const (
	// Ingress is a packet received by the interface.
	Ingress Direction = 0
	// Egress is a packet transmitted by the interface.
	Egress Direction = 1
)

// String returns "ingress" or "egress".
func (d Direction) String() string {
	switch d {
	case Ingress:
		return "ingress"
	case Egress:
		return "egress"
	}
	return fmt.Sprintf("direction(%d)", uint32(d))
}

// Key identifies one counter: an interface (by ifindex, in the namespace where the
// program was attached) and a direction. Its layout matches struct counter_key.
type Key struct {
	Ifindex uint32
	Dir     Direction
}

// Totals are the packets and bytes (skb->len, Ethernet header included) counted
// under one Key. Its layout matches struct counter_value.
type Totals struct {
	Packets uint64
	Bytes   uint64
}

// Add returns the sum of t and o.
func (t Totals) Add(o Totals) Totals {
	return Totals{Packets: t.Packets + o.Packets, Bytes: t.Bytes + o.Bytes}
}

// sumPerCPU adds up the per-CPU copies of one value of a per-CPU map.
func sumPerCPU(perCPU []Totals) Totals {
	var sum Totals
	for _, v := range perCPU {
		sum = sum.Add(v)
	}
	return sum
}
